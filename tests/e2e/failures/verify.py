"""The failure tests' verifier: after a run, read the topics end to end and the store, and
compare with what one clean in-process pass over the same partitions produces.

What it proves, per run:
- every valid event was decided: it has a probe row in the store (``lost`` = those
  without one);
- with the right state: the probe saw as many earlier events of the account as the
  partition holds before it (``state_errors``: an event lost from, or folded twice into,
  account state);
- the alerts and the commands in the outbox are exactly those of the clean pass
  (``alerts_diff``, ``commands_diff``): nothing missing, nothing extra, nothing changed;
- every command is on ``wallet.account-actions`` (deduplicated by ``action_id``: what a
  receiver applies); raw duplicates are counted, not failed (publishing is at-least-once);
- every known attack produced a command; every poison message is on the dead-letter topic
  with its reason (raw duplicates counted), and nothing else is;
- the group's committed offsets are the end offsets (lag 0).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.config import Settings
from monitor.decision import Decision
from monitor.events import DecodeError, decode
from monitor.pipeline import PartitionPipeline
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.ruleset import load_rules
from monitor.store import AlertStore
from monitor.store.schema import alerts, checkpoints, outbox, shadow_hits
from tests.e2e.failures.workload import PROBE_RULE, Workload, split_id
from tests.e2e.harness import committed_offsets

Record = tuple[int, bytes | None, bytes | None, dict[str, bytes]]  # offset, key, value, headers


async def read_topic(bootstrap: str, topic: str) -> dict[int, list[Record]]:
    """Every record of ``topic``, per partition, from the beginning to the end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return {}
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[int, list[Record]] = {tp.partition: [] for tp in tps}
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=1000)
            for tp, msgs in batch.items():
                out[tp.partition] += [(m.offset, m.key, m.value, dict(m.headers)) for m in msgs]
                if msgs[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
        return out
    finally:
        await consumer.stop()


@dataclass
class Outcome:
    """What a run left in a store."""

    alerts: dict[str, tuple[tuple[str, ...], str]]  # event id -> (rule ids, severity)
    probes: dict[str, int]  # event id -> account_events the probe saw
    commands: dict[str, str]  # action id -> type (the outbox)
    unpublished: int

    @classmethod
    def of(cls, store: AlertStore) -> Outcome:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(alerts.c.event_id, alerts.c.rule_ids, alerts.c.severity))
            found = {e: (tuple(r), s) for e, r, s in rows}
            probes = {
                e: int(v["account_events"])
                for e, v in conn.execute(
                    sa.select(shadow_hits.c.event_id, shadow_hits.c["values"]).where(
                        shadow_hits.c.rule_id == PROBE_RULE
                    )
                )
            }
            commands = dict(conn.execute(sa.select(outbox.c.action_id, outbox.c.type)).all())
            unpublished = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))
            ).scalar_one()
        return cls(found, probes, commands, int(unpublished))


def clean_pass(partitions: dict[int, list[Record]], settings: Settings, rules_dir: Path) -> Outcome:
    """Decide the partitions' records once, in order, with fresh state, into an in-memory
    store with the service's responder: what a run without failures must leave."""
    rules = load_rules(rules_dir)
    responder = PlaybookResponder(load_playbooks(rules_dir))
    store = AlertStore("sqlite://")
    store.create_schema()
    try:
        for p, records in sorted(partitions.items()):
            pipe = PartitionPipeline(p, rules, **settings.pipeline_options())
            decided: list[Decision] = []
            positions: list[tuple[int, int]] = []
            for offset, _, value, _ in records:
                event = decode(value, settings.max_event_bytes)
                if isinstance(event, DecodeError):
                    continue
                d = pipe.process(event)
                if d.late:
                    continue
                if d.is_alert or d.shadow_hits:
                    decided.append(d)
                    positions.append((p, offset))
                for ops in pipe.drain_ops():
                    decided.append(ops)
                    positions.append((p, offset))
            for i in range(0, len(decided), 1000):
                store.save_decisions(
                    decided[i : i + 1000], positions=positions[i : i + 1000], responder=responder
                )
        return Outcome.of(store)
    finally:
        store.close()


def _diff(seen: dict[str, Any], want: dict[str, Any]) -> dict[str, int]:
    return {
        "missing": len(want.keys() - seen.keys()),
        "extra": len(seen.keys() - want.keys()),
        "changed": sum(1 for k in want.keys() & seen.keys() if want[k] != seen[k]),
    }


@dataclass
class Report:
    """The figures of one run (``docs/reliability.md`` records them)."""

    scenario: str
    events: int = 0  # valid events produced (each event id once)
    deliveries: int = 0  # valid messages on the events topic (> events: redelivered)
    poison: int = 0
    decided: int = 0  # events with a decision in the store
    lost: int = 0
    state_errors: int = 0
    alerts: int = 0
    alerts_diff: dict[str, int] = field(default_factory=dict)
    commands: int = 0
    commands_diff: dict[str, int] = field(default_factory=dict)
    unpublished: int = 0
    published_raw: int = 0  # records on the actions topic
    published_duplicates: int = 0  # raw - distinct action ids
    published_missing: int = 0  # outbox commands not on the topic
    published_unknown: int = 0  # action ids on the topic that the outbox does not have
    attacks: int = 0
    attacks_without_command: int = 0
    dlq_raw: int = 0
    dlq_duplicates: int = 0
    dlq_missing: int = 0
    dlq_wrong: int = 0  # on the DLQ but not poison, or with the wrong reason
    late: int = 0
    lag: int = 0
    figures: dict[str, Any] = field(default_factory=dict)  # the scenario's own
    samples: dict[str, list[Any]] = field(default_factory=dict)  # a few of each problem

    def problems(self) -> list[str]:
        checks = {
            "lost": self.lost,
            "state_errors": self.state_errors,
            **{f"alerts_{k}": v for k, v in self.alerts_diff.items()},
            **{f"commands_{k}": v for k, v in self.commands_diff.items()},
            "unpublished": self.unpublished,
            "published_missing": self.published_missing,
            "published_unknown": self.published_unknown,
            "attacks_without_command": self.attacks_without_command,
            "dlq_missing": self.dlq_missing,
            "dlq_wrong": self.dlq_wrong,
            "lag": self.lag,
        }
        return [f"{k}={v}" for k, v in checks.items() if v]

    def summary(self) -> str:
        return json.dumps(asdict(self), sort_keys=False)


async def verify(
    scenario: str, settings: Settings, work: Workload, rules_dir: Path, *, redelivered: bool = False
) -> Report:
    """Check a finished run of ``work`` (see the module docstring).

    ``redelivered``: the stream was produced twice; the clean pass then decides only the
    first delivery (a duplicate delivery must change nothing anyone sees)."""
    s = settings
    events = await read_topic(s.kafka_bootstrap, s.events_topic)
    r = Report(scenario, events=work.events, poison=len(work.poison), attacks=len(work.attacks))
    expected_probe: dict[str, int] = {}
    where: dict[str, tuple[int, int]] = {}
    first: dict[int, list[Record]] = {}
    seen_ids: set[str] = set()
    for p, records in events.items():
        counts: Counter[str] = Counter()
        keep = first.setdefault(p, [])
        for rec in records:
            event = decode(rec[2], s.max_event_bytes)
            if isinstance(event, DecodeError):
                keep.append(rec)
                continue
            r.deliveries += 1
            if event.event_id in seen_ids:
                continue
            seen_ids.add(event.event_id)
            keep.append(rec)
            expected_probe[event.event_id] = counts[event.account_id]
            where[event.event_id] = (p, rec[0])
            counts[event.account_id] += 1
    # the workload's own sequence numbers must match the partition order it was read in
    assert all(split_id(e)[1] == n for e, n in expected_probe.items()), "producer reordered"
    assert seen_ids == set(work.seq), "the events topic does not hold the workload"

    want = clean_pass(first if redelivered else events, s, rules_dir)
    store = AlertStore(s.sqlalchemy_url)
    try:
        got = Outcome.of(store)
    finally:
        store.close()
    r.decided = len(got.probes.keys() & expected_probe.keys())
    r.lost = len(expected_probe.keys() - got.probes.keys())
    r.state_errors = sum(
        1 for e, n in expected_probe.items() if e in got.probes and got.probes[e] != n
    )
    lost = sorted(where[e] for e in expected_probe.keys() - got.probes.keys())
    wrong = sorted(
        (*where[e], n, got.probes[e])
        for e, n in expected_probe.items()
        if e in got.probes and got.probes[e] != n
    )
    r.samples = {
        "lost (p, offset)": lost[:5] + lost[-5:],
        "state (p, offset, want, got)": wrong[:10],
    }
    r.alerts, r.alerts_diff = len(got.alerts), _diff(got.alerts, want.alerts)
    r.commands, r.commands_diff = len(got.commands), _diff(got.commands, want.commands)
    r.unpublished = got.unpublished

    actions = await read_topic(s.kafka_bootstrap, s.actions_topic)
    published: Counter[str] = Counter(
        json.loads(rec[2] or b"{}").get("action_id", "?")
        for records in actions.values()
        for rec in records
    )
    r.published_raw = sum(published.values())
    r.published_duplicates = r.published_raw - len(published)
    r.published_missing = len(got.commands.keys() - published.keys())
    r.published_unknown = len(published.keys() - got.commands.keys())
    commanded = {
        json.loads(rec[2] or b"{}").get("triggering_event_id")
        for records in actions.values()
        for rec in records
    }
    r.attacks_without_command = sum(
        1 for e in work.attacks if e not in commanded or e not in got.alerts
    )

    dlq = await read_topic(s.kafka_bootstrap, s.dlq_topic)
    dead: Counter[bytes | None] = Counter()
    for records in dlq.values():
        for _, _, value, headers in records:
            dead[value] += 1
            reason = headers.get("vigil.error.reason", b"").decode()
            if value not in work.poison or work.poison[value] != reason:
                r.dlq_wrong += 1
    r.dlq_raw = sum(dead.values())
    r.dlq_duplicates = r.dlq_raw - len(dead)
    r.dlq_missing = sum(1 for v in work.poison if v not in dead)
    late = await read_topic(s.kafka_bootstrap, s.late_topic)
    r.late = sum(len(v) for v in late.values())

    ends = {p: (records[-1][0] + 1 if records else 0) for p, records in events.items()}
    committed = await committed_offsets(s)
    r.lag = sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())
    return r


@dataclass
class Progress:
    """Where a crashed member left off: the events whose decisions were stored, and the
    offsets its successor resumes from (the checkpoint's, else the committed one)."""

    decided: set[str]
    resume: dict[int, int]


async def progress_at_crash(settings: Settings) -> Progress:
    """Call right after a SIGKILL, before the restart."""
    s = settings
    store = AlertStore(s.sqlalchemy_url)
    try:
        with store.engine.connect() as conn:
            decided = set(
                conn.execute(
                    sa.select(shadow_hits.c.event_id).where(shadow_hits.c.rule_id == PROBE_RULE)
                ).scalars()
            )
            c = checkpoints.c
            saved = dict(
                conn.execute(
                    sa.select(c.partition, c.offset).where(
                        c.group_id == s.consumer_group, c.topic == s.events_topic
                    )
                ).all()
            )
    finally:
        store.close()
    committed = await committed_offsets(s)
    return Progress(decided, {p: saved.get(p, off) for p, off in committed.items()})


async def replayed(settings: Settings, crashes: list[Progress]) -> int:
    """Events decided again after a crash although their decisions were stored: the
    successor resumed before them (the store dedupes them; none may show twice)."""
    events = await read_topic(settings.kafka_bootstrap, settings.events_topic)
    where: dict[str, tuple[int, int]] = {}
    for p, records in events.items():
        for offset, _, value, _ in records:
            event = decode(value, settings.max_event_bytes)
            if not isinstance(event, DecodeError):
                where.setdefault(event.event_id, (p, offset))
    total = 0
    for crash in crashes:
        through: dict[int, int] = {}
        for event_id in crash.decided:
            p, offset = where[event_id]
            through[p] = max(through.get(p, -1), offset)
        total += sum(max(0, last + 1 - crash.resume.get(p, 0)) for p, last in through.items())
    return total


async def committed_undecided(
    settings: Settings, samples: list[tuple[datetime, dict[int, int]]]
) -> int:
    """Events below an offset the group had committed at a moment whose decision was
    not yet stored at that moment (0: offsets never passed undecided events). Needs a
    finished run: every decision's probe row carries when it was stored."""
    events = await read_topic(settings.kafka_bootstrap, settings.events_topic)
    store = AlertStore(settings.sqlalchemy_url)
    try:
        with store.engine.connect() as conn:
            query = sa.select(shadow_hits.c.event_id, shadow_hits.c.detected_at).where(
                shadow_hits.c.rule_id == PROBE_RULE
            )
            stored = dict(conn.execute(query).all())
    finally:
        store.close()
    bad = 0
    for when, committed in samples:
        for p, records in events.items():
            for offset, _, value, _ in records:
                if offset >= committed.get(p, 0):
                    break
                event = decode(value, settings.max_event_bytes)
                if isinstance(event, DecodeError):
                    continue
                at = stored.get(event.event_id)
                if at is None or at > when:
                    bad += 1
    return bad
