"""Replay a labelled stream through partition pipelines, keeping only what the metrics need.

Events go to ``partitions`` :class:`~monitor.pipeline.PartitionPipeline` objects by
``zlib.crc32(account_id) % partitions`` (a stable key -> partition map, as in Kafka), each
with the same rule pack and an :class:`EventClock` that reads the event's own time: an
offline replay has no "now", so the future-timestamp check never fires.

Memory stays modest on long runs: every decision adds a score and a malicious flag to two
flat arrays; only alerts and labelled events become :class:`Record` objects.

>>> from monitor.ruleset import load_rules
>>> from monitor.simulate import SimConfig
>>> from monitor.evaluate.source import from_simulator
>>> c = replay(from_simulator(SimConfig(accounts=30, days=0.3, seed=1, attack_share=0.1)),
...            load_rules("rules"), partitions=2)
>>> c.events == len(c.scores) == len(c.malicious) > 0, c.partitions
(True, 2)
>>> all(r.severity != "none" or r.label is not None for r in c.records)
True
"""

from __future__ import annotations

import time
import zlib
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from monitor.decision import Decision, Severity
from monitor.events import Event, Login, Payment
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import RulePack
from monitor.simulate.model import Label

from .source import LabelledSource, SourceStats

__all__ = ["Collected", "EventClock", "PaymentInfo", "Record", "partition_of", "replay"]

_PROGRESS_EVERY = 1000


class PaymentInfo(msgspec.Struct, frozen=True, gc=False):
    amount: float
    currency: str
    kind: str  # purchase | transfer | withdrawal
    status: str  # succeeded | failed | pending


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One alert or labelled event: the decision's outcome and the event's ground truth."""

    seq: int  # position in the stream: the order decisions were taken in
    event_id: str
    account_id: str
    ts: float  # event time, epoch seconds
    severity: Severity
    score: float
    sources: tuple[str, ...] = ()  # rule ids (or reason codes, e.g. "anomaly") that fired
    restricts: bool = False  # Decision.restricts
    disables_payments: bool = False  # "disable_payment_features" in the actions
    label: Label | None = None
    payment: PaymentInfo | None = None
    failed_login: bool = False  # a failed login attempt (the attacker never got in with it)

    @property
    def is_alert(self) -> bool:
        return self.severity != "none"


@dataclass
class Collected:
    """Everything :func:`~monitor.evaluate.metrics.build_report` reads."""

    records: list[Record]
    accounts: set[str]  # every account seen in the stream
    events: int
    first_ts: float
    last_ts: float
    scores: npt.NDArray[np.float64]  # every decision's combined score, stream order
    malicious: npt.NDArray[np.bool_]  # ... and whether its event is labelled
    source: str = ""
    source_stats: SourceStats = field(default_factory=SourceStats)
    late_events: int = 0  # decided late=True: too old for their account's state
    ops_alerts: dict[str, int] = field(default_factory=dict)  # population alerts by rule
    partitions: int = 1
    rules_version: str = ""
    elapsed_s: float = 0.0  # the whole replay: reading/simulating + pipeline
    pipeline_s: float = 0.0  # inside PartitionPipeline.process only


class EventClock:
    """The replay's clock: the time of the event being processed."""

    __slots__ = ("now",)

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def partition_of(account_id: str, partitions: int) -> int:
    """Stable account -> partition map.

    >>> partition_of("acct-1", 4) == partition_of("acct-1", 4) < 4
    True
    """
    return zlib.crc32(account_id.encode()) % partitions


def replay(
    source: LabelledSource,
    rules: RulePack,
    *,
    partitions: int = 4,
    pipeline_options: Mapping[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
) -> Collected:
    """Run every event of ``source`` through its partition's pipeline (built with
    ``pipeline_options``, as the live service builds it: ``Settings.pipeline_options()``);
    ``progress(n)`` is called with the number of events done since the previous call."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    clock = EventClock()
    pipes = [
        PartitionPipeline(p, rules, clock=clock, **(pipeline_options or {}))
        for p in range(partitions)
    ]
    route: dict[str, PartitionPipeline] = {}
    scores, malicious = array("d"), array("B")
    records: list[Record] = []
    first_ts, last_ts = float("inf"), float("-inf")
    perf = time.perf_counter
    busy = 0.0
    late = 0
    ops_alerts: dict[str, int] = {}
    began = perf()
    n = 0  # events so far; also the next event's position in the stream
    for event, label in source:
        epoch = clock.now = event.epoch
        first_ts, last_ts = min(first_ts, epoch), max(last_ts, epoch)
        pipe = route.get(event.account_id)
        if pipe is None:
            pipe = route[event.account_id] = pipes[partition_of(event.account_id, partitions)]
        t = perf()
        decision = pipe.process(event)
        busy += perf() - t
        late += decision.late
        for ops in pipe.drain_ops():
            ops_alerts[ops.rule_ids[0]] = ops_alerts.get(ops.rule_ids[0], 0) + 1
        scores.append(decision.score)
        malicious.append(label is not None)
        if label is not None or decision.severity != "none":
            records.append(_record(n, event, decision, label))
        n += 1
        if progress is not None and n % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
    if progress is not None and n % _PROGRESS_EVERY:
        progress(n % _PROGRESS_EVERY)
    if not n:
        first_ts = last_ts = 0.0
    return Collected(
        records=records,
        accounts=set(route),
        events=n,
        first_ts=first_ts,
        last_ts=last_ts,
        scores=np.frombuffer(scores, dtype=np.float64).copy(),
        malicious=np.frombuffer(malicious, dtype=np.uint8).astype(bool),
        source=source.name,
        source_stats=source.stats,
        late_events=late,
        ops_alerts=ops_alerts,
        partitions=partitions,
        rules_version=rules.version,
        elapsed_s=perf() - began,
        pipeline_s=busy,
    )


def _record(seq: int, event: Event, d: Decision, label: Label | None) -> Record:
    payment = None
    if isinstance(event, Payment):
        payment = PaymentInfo(event.amount, event.currency, event.kind, event.status)
    return Record(
        seq=seq,
        event_id=event.event_id,
        account_id=event.account_id,
        ts=d.event_ts,
        severity=d.severity,
        score=d.score,
        sources=tuple(r.rule_id or r.code for r in d.reasons),
        restricts=d.restricts,
        disables_payments="disable_payment_features" in d.actions,
        label=label,
        payment=payment,
        failed_login=isinstance(event, Login) and not event.success,
    )
