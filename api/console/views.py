"""What the console's templates get: the store's records as plain data, masked unless the
page was revealed (audited), and a few formatting helpers (times, a score sparkline).

Templates only ever see strings, numbers, datetimes, lists and dicts, and Jinja escapes
every value it prints: an attacker's payee name or user agent in an alert stays text.

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
>>> relative(now + timedelta(minutes=12), now), relative(now - timedelta(hours=3), now)
('in 12 min', '3 h ago')
>>> sparkline([0.2, 0.9, 0.5], width=100, height=20)
'0.0,14.8 50.0,3.6 100.0,10.0'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.masking import mask

__all__ = [
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "as_view",
    "make_templates",
    "relative",
    "sparkline",
    "when",
]

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def as_view(value: Any, *, reveal: bool = False) -> Any:
    """A store record (msgspec structs, lists of them) as plain data, datetimes kept,
    personal data masked unless ``reveal``."""
    data = msgspec.to_builtins(value, builtin_types=(datetime,))
    return data if reveal else mask(data)


def when(value: datetime | None) -> str:
    """``2026-01-01 12:00 UTC`` (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(value: datetime | None, now: datetime) -> str:
    """``in 12 min`` / ``3 h ago``: how a person on a call reads a deadline."""
    if value is None:
        return ""
    seconds = (value - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        text = f"{int(span)} s"
    elif span < 3600:
        text = f"{int(span // 60)} min"
    elif span < 86400 * 2:
        text = f"{int(span // 3600)} h"
    else:
        text = f"{int(span // 86400)} days"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def sparkline(values: Sequence[float], *, width: int = 300, height: int = 60) -> str:
    """SVG polyline points for ``values`` (0..1 scores), oldest left; no inline style,
    so the strict Content-Security-Policy holds."""
    if not values:
        return ""
    step = width / max(1, len(values) - 1)
    pad = 2.0
    points = []
    for i, v in enumerate(values):
        y = pad + (1.0 - max(0.0, min(1.0, float(v)))) * (height - 2 * pad)
        points.append(f"{i * step:.1f},{y:.1f}")
    return " ".join(points)


def make_templates() -> Environment:
    """The console's Jinja environment: HTML autoescaped everywhere (templates end in
    ``.html``), undefined names are errors rather than blanks."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["iso"] = lambda v: v.astimezone(UTC).isoformat() if v else ""
    env.filters["score"] = lambda v: "" if v is None else f"{float(v):.2f}"
    env.filters["label"] = lambda v: str(v).replace("_", " ")
    return env
