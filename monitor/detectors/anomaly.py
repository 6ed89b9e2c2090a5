"""Online anomaly scoring with river: one Half-Space Trees model per event type,
an adaptive quantile threshold, a warm-up, and an explanation in plain words.

The model never learns from an event it flags (river's ``protect_anomaly_detector``),
so an attacker cannot teach it that draining transfers are normal.

>>> det = AnomalyDetector(warmup=0, q=0.9, seed=1)
>>> feats = {"type": "login", "new_device": False, "new_ip": False, "new_country": False,
...          "distance_km": 1.0, "speed_kmh": 1.0, "failed_logins_10m": 0, "success": True,
...          "minutes_since_security_change": 1e9, "prev_city": "Shanghai"}
>>> for _ in range(600):
...     _ = det.score(feats)
>>> det.score(feats).flagged
False
>>> odd = dict(feats, new_device=True, new_ip=True, new_country=True, distance_km=8200.0,
...            speed_kmh=12000.0, failed_logins_10m=6)
>>> r = det.score(odd)
>>> r.flagged, r.score > 0.5
(True, True)
>>> print(r.reason.text)
Unusual login: new device; new country; 8,200 km from Shanghai; 6 failed logins in 10 min
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from river import anomaly

from monitor.decision import AnomalyResult, Reason

# Model inputs per event type: name -> (transform of the feature dict, (low, high)).
# Fixed limits instead of an adaptive scaler: an attacker cannot stretch the scale, and
# Half-Space Trees with ``limits`` skip the scaler's per-event cost.
Transform = Callable[[Mapping[str, Any]], float]


def _flag(name: str) -> Transform:
    return lambda f: 1.0 if f.get(name) else 0.0


def _log(name: str) -> Transform:
    return lambda f: math.log1p(max(0.0, float(f.get(name) or 0.0)))


def _clip(name: str, hi: float) -> Transform:
    return lambda f: min(float(f.get(name) or 0.0), hi)


def _since_change(f: Mapping[str, Any]) -> float:
    return math.log10(1.0 + min(f.get("minutes_since_security_change", 1e9), 1e6))


_COMMON: dict[str, tuple[Transform, tuple[float, float]]] = {
    "new_device": (_flag("new_device"), (0.0, 1.0)),
    "new_ip": (_flag("new_ip"), (0.0, 1.0)),
    "new_country": (_flag("new_country"), (0.0, 1.0)),
    "distance": (_log("distance_km"), (0.0, 10.0)),
    "speed": (_log("speed_kmh"), (0.0, 12.0)),
    "since_change": (_since_change, (0.0, 6.0)),
}
INPUTS: dict[str, dict[str, tuple[Transform, tuple[float, float]]]] = {
    "login": {
        **_COMMON,
        "failed_logins": (_clip("failed_logins_10m", 20.0), (0.0, 20.0)),
        "failed": (lambda f: 0.0 if f.get("success") else 1.0, (0.0, 1.0)),
    },
    "payment": {
        **_COMMON,
        "amount": (_log("amount"), (0.0, 14.0)),
        "amount_z": (lambda f: max(-5.0, min(f.get("amount_z", 0.0), 25.0)), (-5.0, 25.0)),
        "new_payee": (_flag("new_payee"), (0.0, 1.0)),
        "failed_payments": (_clip("failed_payments_10m", 30.0), (0.0, 30.0)),
    },
    "topup": {**_COMMON, "amount": (_log("amount"), (0.0, 14.0))},
    "security": dict(_COMMON),
}


class _TypeModel:
    """Half-Space Trees behind river's ``QuantileFilter`` for one event type."""

    def __init__(self, event_type: str, q: float, seed: int | None) -> None:
        self.event_type = event_type  # the transforms are looked up, not stored: picklable
        limits: dict[Hashable, tuple[float, float]] = {
            name: lim for name, (_, lim) in INPUTS[event_type].items()
        }
        self.filter = anomaly.QuantileFilter(
            anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=250, limits=limits, seed=seed),
            q=q,
            protect_anomaly_detector=True,
        )
        self.learned = 0

    def vector(self, features: Mapping[str, Any]) -> dict[Hashable, float]:
        return {name: fn(features) for name, (fn, _) in INPUTS[self.event_type].items()}


class AnomalyDetector:
    """Scores each event against the model of its event type, then learns from it
    unless it was flagged. State is per instance: one per partition.

    ``q`` is the score quantile above which an event is flagged, ``floor`` the lowest
    score that may ever flag, ``warmup`` the events a model must learn first."""

    def __init__(
        self, warmup: int = 500, q: float = 0.995, floor: float = 0.5, seed: int | None = 42
    ) -> None:
        self.warmup = warmup
        self.q = q
        self.floor = floor
        self.seed = seed
        self._models: dict[str, _TypeModel] = {}

    def score(self, features: Mapping[str, Any], *, learn: bool = True) -> AnomalyResult:
        """Score one event; learn from it unless it is flagged or ``learn`` is false
        (the caller already knows it is an attack, e.g. a severe rule fired)."""
        event_type = features["type"]
        model = self._models.get(event_type)
        if model is None:
            model = self._models[event_type] = _TypeModel(event_type, self.q, self.seed)
        x = model.vector(features)
        qf = model.filter
        score = qf.score_one(x)
        # river's QuantileFilter reads a quantile of 0.0 as "no threshold yet"; we use
        # the quantile as is, with a floor so a flat score history does not flag all.
        quantile = qf.quantile.get()
        threshold = math.inf if quantile is None else max(quantile, self.floor)
        warm = model.learned >= self.warmup
        flagged = warm and score >= threshold
        # QuantileFilter.learn_one would score the event a second time; we already
        # have the score, so apply its rule directly: learn only what is not flagged.
        if learn and not flagged:
            qf.anomaly_detector.learn_one(x)
            model.learned += 1
        qf.quantile.update(score)
        reason = explain(features) if flagged else None
        return AnomalyResult(score=score, threshold=threshold, flagged=flagged, reason=reason)


def explain(f: Mapping[str, Any]) -> Reason:
    """Words for what made an event unusual, with the values behind them."""
    parts: list[str] = []
    values: dict[str, Any] = {}
    for name, text in (
        ("new_device", "new device"),
        ("new_country", "new country"),
        ("new_payee", "new payee"),
    ):
        if f.get(name):
            parts.append(text)
            values[name] = True
    if f.get("distance_km", 0.0) >= 300:
        where = f" from {f['prev_city']}" if f.get("prev_city") else ""
        parts.append(f"{f['distance_km']:,.0f} km{where}")
        values["distance_km"] = round(f["distance_km"], 1)
    amount_z = f.get("amount_z", 0.0)
    if amount_z >= 3 or f.get("amount_ratio", 1.0) >= 5:
        parts.append(
            f"amount {f['amount']:,.2f} {f.get('currency', '')}".rstrip()
            + f", usual ≈ {f['amount_mean']:,.0f}"
        )
        values.update(amount=f["amount"], amount_mean=round(f["amount_mean"], 2))
    if f.get("failed_logins_10m", 0) >= 3:
        parts.append(f"{f['failed_logins_10m']} failed logins in 10 min")
        values["failed_logins_10m"] = f["failed_logins_10m"]
    if f.get("minutes_since_security_change", 1e9) < 60:
        parts.append(f"{f['minutes_since_security_change']:.0f} min after a security change")
        values["minutes_since_security_change"] = round(f["minutes_since_security_change"], 1)
    detail = "; ".join(parts) or "unusual combination of features for this event type"
    return Reason(code="anomaly", text=f"Unusual {f['type']}: {detail}", values=values)
