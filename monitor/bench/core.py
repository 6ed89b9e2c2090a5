"""The pipeline core alone: events already in memory, no broker, no store.

Each stage is timed over the same events in one process; the figure reported is the
median of ``repeat`` runs (these machines are noisy: compare ratios within a run).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.detectors import AnomalyDetector
from monitor.detectors.population import PopulationMonitor
from monitor.events import Event, decode, encode
from monitor.features import AccountState, extract
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import RulePack, load_rules
from monitor.simulate import SimConfig, generate
from monitor.testing import ManualClock


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _one_run(events: list[Event], raw: list[bytes], rules: RulePack) -> dict[str, float]:
    """Seconds per stage for one pass over ``events``, each stage on fresh state."""
    out = {"decode": _timed(lambda: [decode(r) for r in raw])}
    states: dict[str, AccountState] = {}
    feats: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for e in events:
        s = states.get(e.account_id)
        if s is None:
            s = states[e.account_id] = AccountState()
        feats.append(extract(s, e, e.epoch))
    out["features"] = time.perf_counter() - t0
    det = AnomalyDetector()
    out["anomaly_model"] = _timed(lambda: [det.score(f) for f in feats])
    out["rules"] = _timed(lambda: [rules.evaluate(f) for f in feats])
    pop = PopulationMonitor()
    out["population"] = _timed(
        lambda: [pop.observe(e, f) for e, f in zip(events, feats, strict=True)]
    )
    clock = ManualClock()
    pipe = PartitionPipeline(0, rules, clock=clock)
    t0 = time.perf_counter()
    for e in events:
        clock.now = e.epoch
        pipe.process(e)
    out["pipeline"] = time.perf_counter() - t0
    return out


def run_core(
    rules_dir: Path, *, accounts: int = 5000, days: float = 2.0, repeat: int = 3, seed: int = 3
) -> dict[str, Any]:
    """Throughput of the whole ``PartitionPipeline.process`` and of each stage (medians)."""
    config = SimConfig(accounts=accounts, days=days, seed=seed)
    events: list[Event] = [e for e, _ in generate(config)]
    raw = [encode(e) for e in events]
    rules = load_rules(rules_dir)
    runs = [_one_run(events, raw, rules) for _ in range(repeat)]
    n = len(events)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rule_evals = sum(len(rules.for_type(e.type)) for e in events)
    return {
        "events": n,
        "accounts": accounts,
        "repeat": repeat,
        "us_per_event": {k: round(v / n * 1e6, 2) for k, v in median.items()},
        "pipeline_events_per_s": round(n / median["pipeline"]),
        "decode_events_per_s": round(n / median["decode"]),
        "rule_us_per_rule_per_event": round(median["rules"] / max(rule_evals, 1) * 1e6, 3),
        "rules": len(rules.rules),
    }
