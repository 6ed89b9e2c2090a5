"""The registry of named functions a rule expression may call.

>>> FUNCTIONS["in_list"]("CN", ["CN", "SG"])
True
>>> round(FUNCTIONS["distance_km"](31.23, 121.47, 39.9, 116.4))
1067
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from monitor.features.geo import haversine_km


def in_list(value: Any, items: Container[Any]) -> bool:
    return value in items


def minutes(seconds: float) -> float:
    return seconds / 60.0


# name -> (function, argument count, result type for the type checker)
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "distance_km": haversine_km,
    "in_list": in_list,
    "minutes": minutes,
    "abs": abs,
    "min": min,
    "max": max,
}
RESULT_TYPES: dict[str, str] = {
    "distance_km": "float",
    "in_list": "bool",
    "minutes": "float",
    "abs": "float",
    "min": "float",
    "max": "float",
}
