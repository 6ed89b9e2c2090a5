"""Online anomaly scoring: one Half-Space Trees model per event type (river's model,
compiled for speed in :mod:`monitor.detectors.hst`, scores identical), an adaptive
quantile threshold (river's ``stats.Quantile``), a warm-up, and an explanation in plain
words.

The model never learns from an event it flags (the rule of river's ``QuantileFilter``
with ``protect_anomaly_detector``), so an attacker cannot teach it that draining
transfers are normal.

>>> det = AnomalyDetector(warmup=0, q=0.9, learn_every=1, seed=1)
>>> feats = {"type": "login", "new_device": False, "new_ip": False, "new_country": False,
...          "distance_km": 1.0, "speed_kmh": 1.0, "failed_logins_10m": 0, "success": True,
...          "minutes_since_security_change": 1e9, "prev_city": "Shanghai",
...          "method_changed": False, "city": "Shanghai", "minutes_since_prev_location": 40.0}
>>> for _ in range(600):
...     _ = det.score(feats)
>>> det.score(feats).flagged
False
>>> odd = dict(feats, new_device=True, new_ip=True, new_country=True, distance_km=8200.0,
...            speed_kmh=12000.0, failed_logins_10m=6, city="Lagos")
>>> r = det.score(odd)
>>> r.flagged, r.score > 0.5
(True, True)
>>> print(r.reason.text.replace("; ", "\\n"))
Unusual login: login from Lagos, 8,200 km from Shanghai 40 min ago
new device
new country
6 failed logins in 10 min
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from river import stats

from monitor.decision import AnomalyResult, Reason
from monitor.detectors.hst import CompiledHST
from monitor.detectors.inputs import LIMITS, NAMES, VECTORS, named, vector

__all__ = ["LIMITS", "NAMES", "VECTORS", "AnomalyDetector", "explain", "named", "vector"]


class _TypeModel:
    """Half-Space Trees and the quantile of their scores (river's ``QuantileFilter``,
    whose rule :meth:`AnomalyDetector.learn` applies) for one event type."""

    HEIGHT = 6  # with 12 or fewer inputs, 6 levels split each about 4 times
    WINDOW = 250

    def __init__(self, event_type: str, q: float, n_trees: int, seed: int | None) -> None:
        self.event_type = event_type
        self.trees = CompiledHST(
            NAMES[event_type],
            LIMITS[event_type],
            n_trees=n_trees,
            height=self.HEIGHT,
            window_size=self.WINDOW,
            seed=seed,
        )
        self.quantile = stats.Quantile(q)
        self.learned = 0
        self.seen = 0


class AnomalyDetector:
    """Scores each event against the model of its event type, then learns from it
    unless it was flagged. State is per instance: one per partition.

    ``q`` is the score quantile above which an event is flagged, ``floor`` the lowest
    score that may ever flag, ``warmup`` the events a model learns before it may flag.
    After the warm-up it learns one in ``learn_every`` unflagged events: the model
    describes the population, and a uniform sample describes it as well at a fraction
    of the cost. ``n_trees``: 6 trees (river's default is 10) met the same detection
    targets (``vigil evaluate``); with the compiled trees (:mod:`monitor.detectors.hst`)
    scoring all six costs ~0.6 µs per event."""

    def __init__(
        self,
        warmup: int = 500,
        q: float = 0.995,
        floor: float = 0.5,
        learn_every: int = 4,
        n_trees: int = 6,
        seed: int | None = 42,
    ) -> None:
        self.warmup = warmup
        self.q = q
        self.floor = floor
        self.learn_every = learn_every
        self.n_trees = n_trees
        self.seed = seed
        self._models: dict[str, _TypeModel] = {}

    def warm(self) -> None:
        """Build every event type's model now rather than on its first event (a
        partition's first batch would otherwise pay for growing and compiling trees)."""
        for event_type in VECTORS:
            if event_type not in self._models:
                self._models[event_type] = _TypeModel(event_type, self.q, self.n_trees, self.seed)

    def score(self, features: Mapping[str, Any], *, learn: bool = True) -> AnomalyResult:
        """Score one event; learn from it unless it is flagged or ``learn`` is false
        (the caller already knows it is an attack, e.g. a severe rule fired)."""
        result = self.assess(features)
        self.learn(features["type"], result, learn=learn)
        return result

    def assess(self, features: Mapping[str, Any]) -> AnomalyResult:
        """Score one event without learning from it (rules may read the score; then call
        :meth:`learn` with what they decided)."""
        event_type = features["type"]
        model = self._models.get(event_type)
        if model is None:
            model = self._models[event_type] = _TypeModel(
                event_type, self.q, self.n_trees, self.seed
            )
        x = VECTORS[event_type](features)
        score = model.trees.score(x)
        # river's QuantileFilter reads a quantile of 0.0 as "no threshold yet"; we use
        # the quantile as is, with a floor so a flat score history does not flag all.
        quantile = model.quantile.get()
        threshold = math.inf if quantile is None else max(quantile, self.floor)
        flagged = model.learned >= self.warmup and score >= threshold
        return AnomalyResult(
            score=score,
            threshold=threshold,
            flagged=flagged,
            reason=explain(features) if flagged else None,
            vector=x,
        )

    def learn(self, event_type: str, result: AnomalyResult, *, learn: bool = True) -> None:
        """Fold an assessed event into its model: learn it unless it was flagged or
        ``learn`` is false, and update the score quantile."""
        model = self._models[event_type]
        model.seen += 1
        x = result.vector
        if (
            learn
            and x is not None
            and not result.flagged
            and (model.learned < self.warmup or model.seen % self.learn_every == 0)
        ):
            model.trees.learn(x)
            model.learned += 1
        model.quantile.update(result.score)


def explain(f: Mapping[str, Any]) -> Reason:
    """Words for what made an event unusual, with the values behind them, e.g.
    "login from Lagos, 12,226 km from Shanghai 40 min ago; new device"."""
    parts: list[str] = []
    values: dict[str, Any] = {}
    if f.get("distance_km", 0.0) >= 300:
        ago = f.get("minutes_since_prev_location", 1e9)
        when = f" {_duration(ago)} ago" if ago < 1e8 else ""
        where = f" from {f['prev_city']}" if f.get("prev_city") else ""
        here = f" from {f['city']}" if f.get("city") else ""
        parts.append(f"{f['type']}{here}, {f['distance_km']:,.0f} km{where}{when}")
        values.update(
            distance_km=round(f["distance_km"], 1),
            city=f.get("city", ""),
            prev_city=f.get("prev_city", ""),
        )
    for name, text in (
        ("new_device", "new device"),
        ("new_country", "new country"),
        ("new_payee", "new payee"),
        ("new_source", "new top-up source"),
    ):
        if f.get(name):
            parts.append(text)
            values[name] = True
    if f["type"] == "payment" and (
        f.get("amount_vs_median", 1.0) >= 3 or f.get("amount_z", 0) >= 3
    ):
        usual = f"usual ≈ {f['amount_median']:,.0f}"
        if f.get("amount_max_before"):
            usual += f", largest before {f['amount_max_before']:,.0f}"
        parts.append(f"{f['kind']} {f['amount']:,.2f} {f['currency']} ({usual})")
        values.update(
            amount=f["amount"],
            amount_median=round(f["amount_median"], 2),
            amount_max_before=round(f.get("amount_max_before", 0.0), 2),
        )
    if f.get("failed_logins_10m", 0) >= 3:
        parts.append(f"{f['failed_logins_10m']} failed logins in 10 min")
        values["failed_logins_10m"] = f["failed_logins_10m"]
    if f.get("minutes_since_security_change", 1e9) < 60:
        parts.append(f"{_duration(f['minutes_since_security_change'])} after a security change")
        values["minutes_since_security_change"] = round(f["minutes_since_security_change"], 1)
    detail = "; ".join(parts) or "unusual combination of features for this event type"
    return Reason(code="anomaly", text=f"Unusual {f['type']}: {detail}", values=values)


def _duration(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} days"
