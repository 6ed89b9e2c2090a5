"""What the anomaly model reads: one numeric input vector per event type, built from the
event's features, each input within fixed limits.

Pure functions and constants, compiled to C by mypyc with the feature extractor
(``setup.py``): building the vector is a dozen dict reads, comparisons and logarithms
per event, ~1.5 µs interpreted.

>>> f = {"new_device": True, "new_ip": False, "new_country": False, "distance_km": 0.0,
...      "speed_kmh": 0.0, "minutes_since_security_change": 1e9, "reset_requests_1h": 3}
>>> named("security", VECTORS["security"](f))["resets"], NAMES["security"][0]
(3, 'new_device')
>>> LIMITS["security"]["resets"]
(0.0, 20.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

# Model inputs per event type, each in fixed limits. Fixed limits instead of an adaptive
# scaler: an attacker cannot stretch the scale, and Half-Space Trees with limits need no
# scaler's per-event cost. One plain function per type builds the vector as a tuple in
# the order of NAMES[type] (a dict per event cost ~1 µs more; the dict is made only for
# an alert's ``learn_input``). The six _COMMON inputs are written out in each function on
# purpose: a shared helper would build a second tuple per event to concatenate.
_log1p = math.log1p
_log10 = math.log10
_B = (0.0, 1.0)
Vector = tuple[float, ...]
_COMMON = ("new_device", "new_ip", "new_country", "distance", "speed", "since_change")


def _login(f: Mapping[str, Any]) -> Vector:
    return (
        1.0 if f["new_device"] else 0.0,
        1.0 if f["new_ip"] else 0.0,
        1.0 if f["new_country"] else 0.0,
        _log1p(f["distance_km"]),
        _log1p(f["speed_kmh"]),
        _log10(1.0 + min(f["minutes_since_security_change"], 1e6)),
        min(f["failed_logins_10m"], 20),
        0.0 if f["success"] else 1.0,
        1.0 if f["method_changed"] else 0.0,
    )


def _payment(f: Mapping[str, Any]) -> Vector:
    return (
        1.0 if f["new_device"] else 0.0,
        1.0 if f["new_ip"] else 0.0,
        1.0 if f["new_country"] else 0.0,
        _log1p(f["distance_km"]),
        _log1p(f["speed_kmh"]),
        _log10(1.0 + min(f["minutes_since_security_change"], 1e6)),
        _log1p(min(f["amount_vs_median"], 2980.0)),
        _log1p(f["amount"]),
        1.0 if f["new_payee"] else 0.0,
        0.0 if f["kind"] == "purchase" else 1.0,
        min(f["large_outflows_1h"], 10),
        min(f["failed_payments_10m"], 30),
    )


def _topup(f: Mapping[str, Any]) -> Vector:
    return (
        1.0 if f["new_device"] else 0.0,
        1.0 if f["new_ip"] else 0.0,
        1.0 if f["new_country"] else 0.0,
        _log1p(f["distance_km"]),
        _log1p(f["speed_kmh"]),
        _log10(1.0 + min(f["minutes_since_security_change"], 1e6)),
        _log1p(f["amount"]),
        1.0 if f["new_source"] else 0.0,
        min(f["failed_topups_24h"], 20),
    )


def _security(f: Mapping[str, Any]) -> Vector:
    return (
        1.0 if f["new_device"] else 0.0,
        1.0 if f["new_ip"] else 0.0,
        1.0 if f["new_country"] else 0.0,
        _log1p(f["distance_km"]),
        _log1p(f["speed_kmh"]),
        _log10(1.0 + min(f["minutes_since_security_change"], 1e6)),
        min(f["reset_requests_1h"], 20),
    )


NAMES: dict[str, tuple[str, ...]] = {
    "login": (*_COMMON, "failed_logins", "failed", "method_changed"),
    "payment": (
        *_COMMON,
        "vs_median",
        "amount",
        "new_payee",
        "outflow",
        "large_outflows",
        "failed_payments",
    ),
    "topup": (*_COMMON, "amount", "new_source", "failed_topups"),
    "security": (*_COMMON, "resets"),
}
_COMMON_LIMITS: dict[str, tuple[float, float]] = {
    "new_device": _B,
    "new_ip": _B,
    "new_country": _B,
    "distance": (0.0, 10.0),
    "speed": (0.0, 12.0),
    "since_change": (0.0, 6.0),
}
VECTORS: dict[str, Callable[[Mapping[str, Any]], Vector]] = {
    "login": _login,
    "payment": _payment,
    "topup": _topup,
    "security": _security,
}
LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "login": {**_COMMON_LIMITS, "failed_logins": (0.0, 20.0), "failed": _B, "method_changed": _B},
    "payment": {
        **_COMMON_LIMITS,
        "vs_median": (0.0, 8.0),
        "amount": (0.0, 14.0),
        "new_payee": _B,
        "outflow": _B,
        "large_outflows": (0.0, 10.0),
        "failed_payments": (0.0, 30.0),
    },
    "topup": {
        **_COMMON_LIMITS,
        "amount": (0.0, 14.0),
        "new_source": _B,
        "failed_topups": (0.0, 20.0),
    },
    "security": {**_COMMON_LIMITS, "resets": (0.0, 20.0)},
}


def vector(features: Mapping[str, Any]) -> dict[str, float]:
    """The numeric model input for one event's features, by name (what an alert keeps
    for verdicts to learn from)."""
    event_type = features["type"]
    return named(event_type, VECTORS[event_type](features))


def named(event_type: str, x: Vector) -> dict[str, float]:
    """``x`` (in ``NAMES[event_type]`` order) as a dict by input name."""
    return dict(zip(NAMES[event_type], x, strict=True))
