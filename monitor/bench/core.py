"""The pipeline core alone: events already in memory, no broker.

Each stage is timed over the same events in one process; the figure reported is the
median of ``repeat`` runs (these machines are noisy: compare ratios within a run).
Besides the pipeline's own stages, two that the stream runner adds around it are
costed per event, amortised over its batches: ``store`` (``AlertStore.save_decisions``
of each batch's alerts with their planned responses, on a fresh SQLite file) and
``metrics`` (the Prometheus calls ``StreamRunner.handle_batch`` makes).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.compiled import compiled
from monitor.config import Settings
from monitor.decision import Decision
from monitor.detectors import AnomalyDetector
from monitor.detectors.population import PopulationMonitor
from monitor.events import Event, decode, encode
from monitor.features import AccountState, extract
from monitor.metrics import Metrics
from monitor.pipeline import PartitionPipeline
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.ruleset import RulePack, load_rules
from monitor.simulate import SimConfig, generate
from monitor.store import AlertStore
from monitor.testing import ManualClock

# the runner's default batch_max_records: one store write per batch
BATCH: int = Settings.model_fields["batch_max_records"].default
# (decisions to store, their (partition, offset)) of one batch
Batch = tuple[list[Decision], list[tuple[int, int]]]


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _one_run(
    events: list[Event], raw: list[bytes], rules: RulePack, responder: PlaybookResponder
) -> dict[str, float]:
    """Seconds per stage for one pass over ``events``, each stage on fresh state.

    The whole pipeline runs first, on a heap the stages below have not filled, and
    keeps what the runner keeps: each batch's alerts, shadow hits and ops alerts, to
    store (and count in the metrics); every other decision is dropped once made."""
    clock = ManualClock()
    pipe = PartitionPipeline(0, rules, clock=clock)
    batches: list[Batch] = []
    t0 = time.perf_counter()
    for start in range(0, len(events), BATCH):
        alerts: list[Decision] = []
        positions: list[tuple[int, int]] = []
        for offset, e in enumerate(events[start : start + BATCH], start):
            clock.now = e.epoch
            d = pipe.process(e)
            if d.is_alert or d.shadow_hits:  # the store keeps both
                alerts.append(d)
                positions.append((0, offset))
        for ops in pipe.drain_ops():  # as the runner does: stored with the batch
            alerts.append(ops)
            positions.append((0, start))
        batches.append((alerts, positions))
    out = {"pipeline": time.perf_counter() - t0}
    out["store"] = _store_seconds(batches, responder)
    out["metrics"] = _metrics_seconds(events, batches)
    out["decode"] = _timed(lambda: [decode(r) for r in raw])
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
    return out


def _store_seconds(batches: list[Batch], responder: PlaybookResponder) -> float:
    """One ``save_decisions`` per batch (alerts, shadow hits, ops alerts, and the
    responses planned in the same transaction), as the runner writes them."""
    with tempfile.TemporaryDirectory() as tmp:
        store = AlertStore(f"sqlite:///{tmp}/bench.db")
        try:
            store.create_schema()
            t0 = time.perf_counter()
            for alerts, positions in batches:
                if alerts:
                    store.save_decisions(alerts, positions=positions, responder=responder)
            return time.perf_counter() - t0
        finally:
            store.close()


def _metrics_seconds(events: list[Event], batches: list[Batch]) -> float:
    """The Prometheus calls ``StreamRunner.handle_batch`` makes, on a registry of its
    own: per event the decision latency, and the processing-time histogram for 1 event
    in 16; per stored decision its alert and shadow-hit counters; per batch the consumed
    counters (by type), the store, commit and batch metrics."""
    m = Metrics()
    processing, latency = m.processing_seconds, m.decision_latency_seconds
    consumed: dict[str, Any] = {}
    now = time.time()
    seen = 0
    t0 = time.perf_counter()
    for start in range(0, len(events), BATCH):
        started = time.perf_counter()
        chunk = events[start : start + BATCH]
        counts: dict[str, int] = {}
        for e in chunk:
            seen += 1
            if not seen & 15:
                t = time.perf_counter()
                processing.observe(time.perf_counter() - t)
            counts[e.type] = counts.get(e.type, 0) + 1
        for kind, n in counts.items():
            counter = consumed.get(kind)
            if counter is None:
                counter = consumed[kind] = m.events_consumed.labels(type=kind)
            counter.inc(n)
        m.store_seconds.observe(0.001)
        for d in batches[start // BATCH][0]:  # stored: alerts, shadow hits, ops alerts
            for reason in d.shadow_hits:
                m.shadow_hits.labels(rule=reason.rule_id or reason.code).inc()
            if d.is_alert:
                for rule in d.rule_ids or ("model",):
                    m.alerts.labels(severity=d.severity, rule=rule).inc()
        m.commits.labels(outcome="ok").inc()
        latency.observe_many([max(0.0, now - e.epoch) for e in chunk])
        m.batch_seconds.observe(time.perf_counter() - started)
    return time.perf_counter() - t0


def run_core(
    rules_dir: Path, *, accounts: int = 5000, days: float = 2.0, repeat: int = 3, seed: int = 3
) -> dict[str, Any]:
    """Throughput of the whole ``PartitionPipeline.process`` and of each stage (medians)."""
    config = SimConfig(accounts=accounts, days=days, seed=seed)
    events: list[Event] = [e for e, _ in generate(config)]
    raw = [encode(e) for e in events]
    rules = load_rules(rules_dir)
    responder = PlaybookResponder(load_playbooks(rules_dir))
    runs = [_one_run(events, raw, rules, responder) for _ in range(repeat)]
    n = len(events)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rule_evals = sum(len(rules.for_type(e.type)) for e in events)
    pipeline_and_around = median["pipeline"] + median["store"] + median["metrics"]
    return {
        "events": n,
        "accounts": accounts,
        "repeat": repeat,
        "us_per_event": {k: round(v / n * 1e6, 2) for k, v in median.items()},
        "pipeline_events_per_s": round(n / median["pipeline"]),
        # the pipeline with the runner's store writes and metrics: no broker, no decode
        "with_store_metrics_events_per_s": round(n / pipeline_and_around),
        "decode_events_per_s": round(n / median["decode"]),
        "rule_us_per_rule_per_event": round(median["rules"] / max(rule_evals, 1) * 1e6, 3),
        "rules": len(rules.rules),
        # the modules that ran as C extensions (setup.py; none with VIGIL_COMPILE=0)
        "compiled": compiled(),
    }
