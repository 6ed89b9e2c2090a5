"""Labelled streams: ``(event, label or None)`` in stream order, from the simulator or from
a JSONL events file plus a JSONL labels file.

A line that does not decode is counted (by reason, with the first few examples) and
skipped, never a crash; a label no event matches is counted too.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "e.jsonl").write_bytes(
...     b'{"event_id":"e1","type":"login","account_id":"a1","ts":"2026-01-01T00:00:00Z",'
...     b'"success":false,"method":"password"}\\nnot json\\n')
>>> _ = (d / "l.jsonl").write_bytes(b'{"event_id":"e1","account_id":"a1",'
...     b'"campaign_id":"c1","scenario":"brute_force","stage":"guess_login"}\\n')
>>> src = from_jsonl(d / "e.jsonl", d / "l.jsonl")
>>> [(e.event_id, label.campaign_id) for e, label in src]
[('e1', 'c1')]
>>> src.stats.events, src.stats.bad_lines, src.stats.bad_reasons, src.stats.labels
(1, 1, {'invalid_json': 1}, 1)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from monitor.events import DecodeError, Event, decode
from monitor.simulate.engine import generate
from monitor.simulate.model import Label, SimConfig

from .exceptions import InputError

__all__ = ["LabelledSource", "SourceStats", "from_jsonl", "from_simulator"]

Labelled = tuple[Event, Label | None]
_EXAMPLES = 5


@dataclass
class SourceStats:
    """What reading the stream found; complete once the stream is exhausted."""

    events: int = 0  # decoded events handed out
    bad_lines: int = 0
    bad_reasons: dict[str, int] = field(default_factory=dict)
    bad_examples: list[str] = field(default_factory=list)  # "path:line: reason: detail"
    labels: int = 0  # distinct labelled event ids
    bad_label_lines: int = 0
    unmatched_labels: int = 0  # labels whose event never came

    def bad(self, where: str, reason: str, detail: str) -> None:
        self.bad_lines += 1
        self.bad_reasons[reason] = self.bad_reasons.get(reason, 0) + 1
        if len(self.bad_examples) < _EXAMPLES:
            self.bad_examples.append(f"{where}: {reason}: {detail[:200]}")


@dataclass
class LabelledSource:
    """A labelled stream, iterable once. ``total`` is the expected number of events
    (lines) for a progress bar, or None when unknown."""

    name: str
    events: Iterator[Labelled]
    stats: SourceStats
    total: int | None = None

    def __iter__(self) -> Iterator[Labelled]:
        return self.events


def from_simulator(cfg: SimConfig) -> LabelledSource:
    """The simulator's stream for ``cfg`` (labels come inline with their events)."""
    stats = SourceStats()
    name = (
        f"simulator: {cfg.accounts:,} accounts x {cfg.days:g} days, seed {cfg.seed}, "
        f"attack share {cfg.attack_share:g}"
    )
    return LabelledSource(name, _counted(generate(cfg), stats), stats)


def _counted(stream: Iterator[Labelled], stats: SourceStats) -> Iterator[Labelled]:
    for event, label in stream:
        stats.events += 1
        if label is not None:
            stats.labels += 1
        yield event, label


def from_jsonl(events_path: Path | str, labels_path: Path | str | None) -> LabelledSource:
    """Events from ``events_path`` (contract v1, one per line) labelled by event id from
    ``labels_path`` (one :class:`~monitor.simulate.Label` per line, as ``vigil simulate
    --out`` writes them; None: unlabelled). Raises :class:`InputError` if a file is
    missing."""
    events_path = Path(events_path)
    labels_file = Path(labels_path) if labels_path is not None else None
    for path in (events_path, labels_file):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: file not found")
    stats = SourceStats()
    labels = _read_labels(labels_file, stats) if labels_file is not None else {}
    stats.labels = len(labels)
    total = _count_lines(events_path)
    name = f"{events_path} (labels {labels_file})" if labels_file else str(events_path)
    return LabelledSource(name, _read_events(events_path, labels, stats), stats, total)


def _read_labels(path: Path, stats: SourceStats) -> dict[str, Label]:
    decoder = msgspec.json.Decoder(Label)
    labels: dict[str, Label] = {}
    with path.open("rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                label = decoder.decode(line)
            except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
                stats.bad_label_lines += 1
                if len(stats.bad_examples) < _EXAMPLES:
                    stats.bad_examples.append(f"{path}:{lineno}: label: {str(exc)[:200]}")
                continue
            labels[label.event_id] = label
    return labels


def _read_events(path: Path, labels: dict[str, Label], stats: SourceStats) -> Iterator[Labelled]:
    matched: set[str] = set()
    with path.open("rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            event = decode(line)
            if isinstance(event, DecodeError):
                stats.bad(f"{path}:{lineno}", event.reason, event.detail)
                continue
            stats.events += 1
            label = labels.get(event.event_id)
            if label is not None:
                matched.add(event.event_id)
            yield event, label
    stats.unmatched_labels = len(labels) - len(matched)


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n
