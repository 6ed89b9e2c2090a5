"""Durations in rule files: a rule's ``cooldown`` and a test event's ``at`` offset.

A duration is one or more ``<number><unit>`` parts, largest unit first, with units
``d``, ``h``, ``m`` and ``s``: ``"30m"``, ``"2h"``, ``"1d"``, ``"2h5m"``, ``"1.5h"``.
An offset may carry a sign (``"-3d"``, ``"+40s"``). A plain number is seconds where
allowed (a cooldown, or an offset of ``0``); anything else is a :class:`DurationError`
that says what was wrong.

>>> parse_duration("2h5m"), parse_duration("1d"), parse_duration(90)
(7500.0, 86400.0, 90.0)
>>> parse_offset("-3d"), parse_offset("+40s"), parse_offset("0m"), parse_offset(0)
(-259200.0, 40.0, 0.0, 0.0)
>>> try:
...     parse_duration("30 minutes")
... except DurationError as exc:
...     print(exc)
'30 minutes' is not a duration (e.g. '30m', '2h', '1d' or '2h5m')
"""

from __future__ import annotations

import math
import re

from monitor.ruleset.exceptions import RuleError

UNITS: dict[str, float] = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[dhms])+")
_HINT = "e.g. '30m', '2h', '1d' or '2h5m'"
_OFFSET_HINT = "e.g. '0m', '-3d', '+40s' or '2h5m'"


class DurationError(RuleError, ValueError):
    """A duration or offset that cannot be read."""


def parse_duration(value: object, *, seconds_ok: bool = True) -> float:
    """A duration >= 0 in seconds, from ``"2h5m"`` (or a number of seconds if
    ``seconds_ok``)."""
    if isinstance(value, bool):
        raise DurationError(f"{value!r} is not a duration ({_HINT})")
    if isinstance(value, int | float):
        if not seconds_ok and value != 0:
            raise DurationError(f"{value!r} needs a unit ({_HINT})")
        if not math.isfinite(value) or value < 0:
            raise DurationError(f"{value!r} is not a duration (seconds must be >= 0)")
        return float(value)
    if not isinstance(value, str):
        raise DurationError(f"{value!r} is not a duration ({_HINT})")
    text = value.strip()
    if text == "0":
        return 0.0
    if not _WHOLE.fullmatch(text):
        raise DurationError(f"{value!r} is not a duration ({_HINT})")
    parts = _PART.findall(text)
    order = [list(UNITS).index(unit) for _, unit in parts]
    if order != sorted(set(order)):
        raise DurationError(f"{value!r}: units must go from largest to smallest, once each")
    return sum(float(number) * UNITS[unit] for number, unit in parts)


def parse_offset(value: object) -> float:
    """A signed offset in seconds: ``"-3d"``, ``"+40s"``, ``"2h5m"``, ``"0m"`` or ``0``."""
    if isinstance(value, str):
        text = value.strip()
        sign = -1.0 if text[:1] == "-" else 1.0
        if text[:1] in ("+", "-"):
            text = text[1:]
        try:
            return sign * parse_duration(text, seconds_ok=False)
        except DurationError:
            raise DurationError(f"{value!r} is not an offset ({_OFFSET_HINT})") from None
    try:
        return parse_duration(value, seconds_ok=False)
    except DurationError:
        raise DurationError(f"{value!r} is not an offset ({_OFFSET_HINT})") from None
