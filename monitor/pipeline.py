"""The pipeline core: ``process(event) -> Decision``, pure given its state and a clock.

One :class:`PartitionPipeline` owns everything learned from one Kafka partition —
account states and anomaly models — so it can be dropped on revoke and (in a later
step) snapshotted with the offset it reflects. The rule pack is shared and immutable;
swapping it is one assignment.

>>> from monitor.events import decode
>>> from monitor.ruleset import load_rules
>>> from monitor.testing import login
>>> pipe = PartitionPipeline(partition=0, rules=load_rules("rules"), clock=lambda: 1.9e9,
...                          anomaly_warmup=10_000)
>>> for i in range(7):
...     d = pipe.process(decode(login("a1", f"2026-01-01T00:0{i}:00Z", success=False)))
>>> d.severity, d.rule_ids, d.reasons[0].text
('medium', ['brute_force'], '7 failed logins in 10 minutes')
>>> len(pipe.accounts)
1
>>> pipe.process(decode(login("a1", "2025-12-31T23:00:00Z"))).late   # an hour behind
True
>>> again = login("a1", "2026-01-01T00:09:00Z", event_id="e-9")
>>> pipe.process(decode(again)).duplicate, pipe.process(decode(again)).duplicate
(False, True)
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from monitor.decision import SEVERITY_RANK, AnomalyResult, Decision, Reason, Severity, decide
from monitor.detectors import AnomalyDetector, VerdictLearner
from monitor.detectors.anomaly import named
from monitor.detectors.population import PopulationMonitor
from monitor.events import Event
from monitor.features import AccountState, extract
from monitor.features.codec import (
    Entry,
    decode_account,
    encode_states,
    load_states,
    packed_last_ts,
)
from monitor.ruleset import RulePack

Clock = Callable[[], float]
_HIGH = SEVERITY_RANK["high"]


class PartitionPipeline:
    """Features + anomaly model + rules for the accounts of one partition.

    ``grace_s``: an event older than its account's newest event by more than this is
    *late*: it is not folded into state (it would corrupt windows already used) and
    comes back with ``late=True`` for the stream to keep on the late topic. An event
    whose id the account saw within the grace period is a redelivered copy: it was
    decided already, so it is not folded in nor decided again and comes back with
    ``duplicate=True`` (the stream commits past it). A copy older than the grace period
    is late, as any event that old.
    ``account_ttl_s``: accounts idle (in event time) this long are forgotten.
    """

    def __init__(
        self,
        partition: int,
        rules: RulePack,
        *,
        clock: Clock = time.time,
        anomaly_warmup: int = 500,
        anomaly_quantile: float = 0.995,
        anomaly_learn_every: int = 4,
        max_future_skew_s: float = 300.0,
        grace_s: float = 300.0,
        account_ttl_s: float = 90 * 86400.0,
        verdict_min: int = 20,
        verdict_watch: float = 0.3,
        ops: Mapping[str, Any] | None = None,
        seed: int | None = 42,
    ) -> None:
        self.partition = partition
        self.rules = rules
        self.clock = clock
        self.max_future_skew_s = max_future_skew_s
        self.grace_s = grace_s
        self.account_ttl_s = account_ttl_s
        # insertion order = least recently active first (moved to the end on each event);
        # after a restore, accounts not seen since are still packed (bytes): decoded at
        # their next event (see account())
        self.accounts: dict[str, Entry] = {}
        self.watermark = 0.0  # newest event time seen in this partition
        self.late_events = 0
        self.duplicate_events = 0
        self.expired_accounts = 0
        self._advances = 0  # of the watermark, to expire idle accounts now and then
        self.detector = AnomalyDetector(
            warmup=anomaly_warmup, q=anomaly_quantile, learn_every=anomaly_learn_every, seed=seed
        )
        self.verdicts = VerdictLearner(min_verdicts=verdict_min)
        # population-level spikes (ops alerts), on this partition's sample of accounts
        self.population = PopulationMonitor(partition=partition, **(ops or {}))
        self.ops_alerts: list[Decision] = []
        self.verdict_watch = verdict_watch  # anomaly score above which verdicts are asked

    def process(self, event: Event) -> Decision:
        ts = event.epoch
        accounts = self.accounts
        state = accounts.pop(event.account_id, None)
        if state is None:
            state = AccountState()
        elif isinstance(state, bytes):  # restored, not decoded yet: its first event since
            state = decode_account(state)
        accounts[event.account_id] = state
        last_ts = state.last_ts
        if state.events and ts < last_ts - self.grace_s:
            self.late_events += 1
            return _late(event, ts, last_ts)

        future = ts - self.clock() > self.max_future_skew_s
        # the account's newest event time once this one is folded in: records of events
        # older than it minus the grace period can go (a copy of them would be late)
        newest = ts if ts > last_ts and not future else last_ts
        if not state.admit(event.event_id, ts, newest - self.grace_s):
            self.duplicate_events += 1
            return _duplicate(event, ts)
        features = extract(state, event, ts)
        if not future:  # a clock far ahead must not make the account's next events "late"
            # ... nor close the population monitor's open bucket
            ops = self.population.observe(event, features, ts)
            if ops:
                self.ops_alerts.extend(ops)
            if ts > state.last_ts:
                state.last_ts = ts
            if ts > self.watermark:
                self.watermark = ts
                self._advances += 1
                if not self._advances & 63:  # every 64 advances: amortised
                    self._expire()
        if event.type == "login":
            ip_n, net_n = self.population.failed_accounts(event.ip, ts)
            features["ip_failed_accounts_10m"] = ip_n
            features["subnet_failed_accounts_10m"] = net_n

        assessed = self.detector.assess(features)  # rules may read the model's view
        features["anomaly_score"] = assessed.score
        features["anomaly_flagged"] = assessed.flagged
        hits: list[tuple[Severity, float, Reason]] = []
        shadow: list[Reason] = []
        actions: list[str] = []
        queue = None
        severe = False
        fired = self.rules.evaluate(features)
        if fired:  # rare; the common path allocates nothing here
            queue_rank = -1
            for h in fired:
                spec = h.rule.spec
                if spec.cooldown and _cooling(state, spec.id, spec.cooldown, ts):
                    continue  # fired for this account within its cooldown
                if spec.mode != "active":
                    shadow.append(h.reason)  # recorded, never acted on
                    continue
                rank = SEVERITY_RANK[spec.severity]
                hits.append((spec.severity, spec.score, h.reason))
                actions.extend(spec.actions)
                severe = severe or rank >= _HIGH
                if spec.queue and rank > queue_rank:
                    queue, queue_rank = spec.queue, rank
        if future:
            skew = ts - self.clock()
            reason = Reason(
                code="future_timestamp",
                text=f"event time is {skew / 60:,.0f} min in the future",
                values={"skew_s": round(skew, 1)},
            )
            hits.append(("low", 0.3, reason))
        # an event a severe rule caught is an attack: the model must not learn it
        self.detector.learn(event.type, assessed, learn=not severe)
        anomaly = assessed
        if self.verdicts.trained and (hits or anomaly.score >= self.verdict_watch):
            anomaly = self._apply_verdicts(event.type, anomaly, hits, severe)
        if not hits and not shadow and not anomaly.flagged:  # most events: nothing to say
            return Decision(
                event_id=event.event_id,
                account_id=event.account_id,
                event_type=event.type,
                event_ts=ts,
                severity="none",
                score=0.0,
                anomaly_score=anomaly.score,
                rule_ids=[],
                reasons=[],
                rule_pack_version=self.rules.version,
            )
        return decide(
            event_id=event.event_id,
            account_id=event.account_id,
            event_type=event.type,
            event_ts=ts,
            rule_hits=hits,
            anomaly=anomaly,
            actions=actions,
            queue=queue,
            learn_input=_learn_input(event.type, anomaly),
            shadow_hits=shadow,
            rule_pack_version=self.rules.version,
        )

    def _apply_verdicts(
        self,
        event_type: str,
        anomaly: AnomalyResult,
        hits: list[tuple[Severity, float, Reason]],
        severe: bool,
    ) -> AnomalyResult:
        """Combine what support confirmed before with this event: an event that looks
        like confirmed fraud becomes a medium alert; a model-only outlier that looks like
        alerts confirmed legitimate is not raised."""
        if anomaly.vector is None or not self.verdicts.ready(event_type):
            return anomaly
        p = self.verdicts.probability(event_type, named(event_type, anomaly.vector))
        if p is None:
            return anomaly
        if p >= 0.8 and not severe:
            hits.append(
                (
                    "medium",
                    round(p, 4),
                    Reason(
                        code="verdicts",
                        text=f"resembles alerts support confirmed as fraud (p={p:.2f})",
                        values={"p_fraud": round(p, 3)},
                    ),
                )
            )
        elif p <= 0.1 and not hits and anomaly.flagged:
            return msgspec.structs.replace(anomaly, flagged=False, reason=None)
        return anomaly

    def account(self, account_id: str) -> AccountState | None:
        """The state of one account (decoded now if it was restored and not seen since;
        its place in the idle order does not change), or None."""
        state = self.accounts.get(account_id)
        if isinstance(state, bytes):
            state = self.accounts[account_id] = decode_account(state)
        return state

    # -- snapshots (checkpoints: monitor/checkpoint.py) ------------------------------------
    def snapshot(self) -> bytes:
        """Everything learned from this partition, as bytes: account states (compact
        codec; accounts restored and not seen since are written back as read) and the
        models, windows and counters (pickle). Not the rule pack (shared, loaded from
        files) nor the clock."""
        rest = {
            "watermark": self.watermark,
            "late_events": self.late_events,
            "duplicate_events": self.duplicate_events,
            "expired_accounts": self.expired_accounts,
            "advances": self._advances,
            "detector": self.detector,
            "verdicts": self.verdicts,
            "population": self.population,
            "ops_alerts": self.ops_alerts,
        }
        return msgspec.msgpack.encode([encode_states(self.accounts), pickle.dumps(rest, 5)])

    def restore(self, data: bytes) -> None:
        """Take over the state of :meth:`snapshot` (only ever called on data whose
        signature was checked: the models are pickled). Lazy: each account is decoded
        at its first event (or by :meth:`account`), not here."""
        accounts, rest_blob = msgspec.msgpack.decode(data)
        rest = pickle.loads(rest_blob)
        self.accounts = load_states(accounts)
        self.watermark = rest["watermark"]
        self.late_events = rest["late_events"]
        self.duplicate_events = rest.get("duplicate_events", 0)  # not in older snapshots
        self.expired_accounts = rest["expired_accounts"]
        self._advances = rest["advances"]
        self.detector = rest["detector"]
        self.verdicts = rest["verdicts"]
        self.population = rest["population"]
        self.ops_alerts = rest["ops_alerts"]

    def drain_ops(self) -> list[Decision]:
        """Ops alerts (population spikes) raised since the last call; the stream stores
        them with the batch that completed them."""
        out, self.ops_alerts = self.ops_alerts, []
        return out

    def learn_verdict(self, event_type: str, inputs: dict[str, float], fraud: bool) -> None:
        """Teach the supervised model a support verdict on an earlier alert."""
        self.verdicts.learn(event_type, inputs, fraud)

    def _expire(self) -> None:
        """Forget accounts idle longer than the TTL: the oldest are first in the dict."""
        cutoff = self.watermark - self.account_ttl_s
        accounts = self.accounts
        for _ in range(256):  # a few per event on average, never a long pause
            oldest = next(iter(accounts), None)
            if oldest is None:
                return
            state = accounts[oldest]
            last_ts = packed_last_ts(state) if isinstance(state, bytes) else state.last_ts
            if last_ts >= cutoff:
                return
            del accounts[oldest]
            self.expired_accounts += 1


def _learn_input(event_type: str, anomaly: AnomalyResult) -> dict[str, float] | None:
    """The model input an alert keeps, by name, for a later verdict to teach."""
    return None if anomaly.vector is None else named(event_type, anomaly.vector)


def _cooling(state: AccountState, rule_id: str, cooldown: float, ts: float) -> bool:
    """True if ``rule_id`` fired for this account less than ``cooldown`` seconds of event
    time ago; otherwise remember that it fires now."""
    last = state.cooldowns
    if last is None:
        last = state.cooldowns = {}
    before = last.get(rule_id)
    if before is not None and 0.0 <= ts - before < cooldown:
        return True
    last[rule_id] = ts
    return False


def _not_decided(event: Event, ts: float, reason: Reason, *, late: bool = False) -> Decision:
    """An event the pipeline does not fold in nor decide: too late, or a copy."""
    return Decision(
        event_id=event.event_id,
        account_id=event.account_id,
        event_type=event.type,
        event_ts=ts,
        severity="none",
        score=0.0,
        anomaly_score=None,
        rule_ids=[],
        reasons=[reason],
        late=late,
        duplicate=not late,
    )


def _duplicate(event: Event, ts: float) -> Decision:
    text = "a copy of an event already decided (same event id)"
    return _not_decided(event, ts, Reason(code="duplicate_event", text=text, values={}))


def _late(event: Event, ts: float, newest: float) -> Decision:
    behind = (newest - ts) / 60.0
    reason = Reason(
        code="late_event",
        text=f"arrived {behind:,.0f} min behind the account's newest event",
        values={"behind_s": round(newest - ts, 1)},
    )
    return _not_decided(event, ts, reason, late=True)
