"""Replay a stream through one pipeline set per rule pack, counting what each rule did.

Each pack runs in its own :class:`~monitor.pipeline.PartitionPipeline` objects (events
routed by :func:`~monitor.evaluate.run.partition_of`, the event's time as the clock), so
the decisions are the ones the service would take with that pack, and the hits counted
are the ones it would record: the active rules of ``Decision.rule_ids`` and the shadow
rules of ``Decision.shadow_hits`` (both after each rule's cooldown). Shadow hits never
change a decision, here as in the service.

Memory: counters, and sets of account and campaign ids; no decision is kept.

>>> from monitor.events import decode
>>> from monitor.evaluate.source import LabelledSource, SourceStats
>>> from monitor.ruleset import load_rules
>>> from monitor.testing import login
>>> events = [(decode(login("a1", f"2026-01-01T00:0{i}:00Z", success=False)), None)
...           for i in range(8)]
>>> r = replay(LabelledSource("test", iter(events), SourceStats()), [load_rules("rules")])
>>> [(t.hits, sorted(t.accounts)) for rule, t in r.packs[0].rules.items()
...  if rule == "brute_force"]
[(3, ['a1'])]
>>> r.packs[0].alerts, sorted(r.packs[0].alerted_accounts), r.compare is None
(3, ['a1'], True)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.decision import Decision
from monitor.evaluate.run import EventClock, partition_of
from monitor.evaluate.source import LabelledSource, SourceStats
from monitor.events import Event
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import RulePack
from monitor.simulate.model import Label

__all__ = [
    "SAMPLE",
    "CompareTally",
    "PackTally",
    "Replayed",
    "RuleTally",
    "replay",
]

SAMPLE = 10  # ids kept as examples of each kind of change
_PROGRESS_EVERY = 1000


@dataclass
class RuleTally:
    hits: int = 0
    true_hits: int = 0  # hits on labelled events
    first_ts: float | None = None
    last_ts: float | None = None
    accounts: set[str] = field(default_factory=set)
    campaigns: dict[str, set[str]] = field(default_factory=dict)  # scenario -> campaign ids


@dataclass
class PackTally:
    """What one pack did over the stream."""

    pack: RulePack
    rules: dict[str, RuleTally]  # every rule not disabled, in pack order
    alerts: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    true_alerts: int = 0  # alerts on labelled events
    alerted_accounts: set[str] = field(default_factory=set)
    shadow_only: int = 0  # shadow hits, no alert
    late: int = 0
    duplicates: int = 0
    ops_alerts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, pack: RulePack) -> PackTally:
        rules = {r.id: RuleTally() for r in pack.rules if r.spec.mode != "disabled"}
        return cls(pack=pack, rules=rules)

    def observe(self, event: Event, label: Label | None, d: Decision) -> None:
        if d.late:
            self.late += 1
            return
        if d.duplicate:  # a copy: decided with its original
            self.duplicates += 1
            return
        ts = d.event_ts
        shadow = [r.rule_id for r in d.shadow_hits if r.rule_id is not None]
        for rule_id in [*d.rule_ids, *shadow]:
            t = self.rules[rule_id]
            t.hits += 1
            t.accounts.add(event.account_id)
            if t.first_ts is None:
                t.first_ts = ts
            t.last_ts = ts
            if label is not None:
                t.true_hits += 1
                t.campaigns.setdefault(label.scenario, set()).add(label.campaign_id)
        if d.severity != "none":
            self.alerts += 1
            self.by_severity[d.severity] += 1
            self.alerted_accounts.add(event.account_id)
            self.true_alerts += label is not None
        elif shadow:
            self.shadow_only += 1


@dataclass
class CompareTally:
    """Events whose decision severity differs between pack A and pack B."""

    transitions: Counter[str] = field(default_factory=Counter)  # "none→high" -> events
    samples: dict[str, list[str]] = field(default_factory=dict)  # transition -> event ids

    def observe(self, event_id: str, a: str, b: str) -> None:
        if a == b:
            return
        key = f"{a}→{b}"
        self.transitions[key] += 1
        sample = self.samples.setdefault(key, [])
        if len(sample) < SAMPLE:
            sample.append(event_id)


@dataclass
class Replayed:
    """Everything :func:`~monitor.replay.report.build_report` reads."""

    packs: list[PackTally]
    compare: CompareTally | None
    source: str
    stats: SourceStats
    labelled: bool  # labels were given: true hits, precision and recall mean something
    events: int
    accounts: int
    labelled_events: int
    campaigns: dict[str, set[str]]  # scenario -> campaign ids seen in the labels
    first_ts: float
    last_ts: float
    partitions: int
    elapsed_s: float


def replay(
    source: LabelledSource,
    packs: Sequence[RulePack],
    *,
    labelled: bool = True,
    partitions: int = 4,
    pipeline_options: Mapping[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
) -> Replayed:
    """Run every event of ``source`` through each pack's pipelines (one pack, or two to
    compare: A then B). ``pipeline_options`` are keyword arguments of
    :class:`~monitor.pipeline.PartitionPipeline`; ``progress(n)`` gets the events done
    since its previous call."""
    if not 1 <= len(packs) <= 2:
        raise ValueError(f"replay takes one or two rule packs, got {len(packs)}")
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    options = dict(pipeline_options or {})
    clock = EventClock()
    tallies = [PackTally.of(p) for p in packs]
    pipes = [
        [PartitionPipeline(p, t.pack, clock=clock, **options) for p in range(partitions)]
        for t in tallies
    ]
    compare = CompareTally() if len(packs) == 2 else None
    route: dict[str, int] = {}
    campaigns: dict[str, set[str]] = {}
    first_ts, last_ts = float("inf"), float("-inf")
    n = labelled_events = 0
    began = time.perf_counter()
    for event, label in source:
        ts = clock.now = event.epoch
        first_ts, last_ts = min(first_ts, ts), max(last_ts, ts)
        p = route.get(event.account_id)
        if p is None:
            p = route[event.account_id] = partition_of(event.account_id, partitions)
        if label is not None:
            labelled_events += 1
            campaigns.setdefault(label.scenario, set()).add(label.campaign_id)
        severities = []
        for tally, pipeset in zip(tallies, pipes, strict=True):
            pipe = pipeset[p]
            decision = pipe.process(event)
            tally.observe(event, label, decision)
            for ops in pipe.drain_ops():
                tally.ops_alerts[ops.rule_ids[0]] += 1
            severities.append(decision.severity)
        if compare is not None:
            compare.observe(event.event_id, severities[0], severities[1])
        n += 1
        if progress is not None and n % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
    if progress is not None and n % _PROGRESS_EVERY:
        progress(n % _PROGRESS_EVERY)
    if not n:
        first_ts = last_ts = 0.0
    return Replayed(
        packs=tallies,
        compare=compare,
        source=source.name,
        stats=source.stats,
        labelled=labelled,
        events=n,
        accounts=len(route),
        labelled_events=labelled_events,
        campaigns=campaigns,
        first_ts=first_ts,
        last_ts=last_ts,
        partitions=partitions,
        elapsed_s=time.perf_counter() - began,
    )
