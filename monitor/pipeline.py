"""The pipeline core: ``process(event) -> Decision``, pure given its state and a clock.

One :class:`PartitionPipeline` owns everything learned from one Kafka partition —
account states and anomaly models — so it can be dropped on revoke and (in a later
step) snapshotted with the offset it reflects. The rule pack is shared and immutable;
swapping it is one assignment.

>>> from monitor.events import decode
>>> from monitor.ruleset import load_rules
>>> pipe = PartitionPipeline(partition=0, rules=load_rules("rules"), clock=lambda: 1.9e9,
...                          anomaly_warmup=10_000)
>>> for i in range(7):
...     d = pipe.process(decode(('{"event_id":"e%d","type":"login","account_id":"a1",'
...         '"ts":"2026-01-01T00:0%d:00Z","success":false,"method":"password"}' % (i, i)).encode()))
>>> d.severity, d.rule_ids, d.reasons[0].text
('medium', ['brute_force'], '7 failed logins in 10 minutes')
>>> len(pipe.accounts)
1
"""

from __future__ import annotations

import time
from collections.abc import Callable

from monitor.decision import SEVERITY_RANK, Decision, Reason, Severity, decide
from monitor.detectors import AnomalyDetector
from monitor.events import Event
from monitor.features import AccountState, extract
from monitor.ruleset import RulePack

Clock = Callable[[], float]
_HIGH = SEVERITY_RANK["high"]


class PartitionPipeline:
    """Features + anomaly model + rules for the accounts of one partition."""

    def __init__(
        self,
        partition: int,
        rules: RulePack,
        *,
        clock: Clock = time.time,
        anomaly_warmup: int = 500,
        anomaly_quantile: float = 0.995,
        max_future_skew_s: float = 300.0,
        seed: int | None = 42,
    ) -> None:
        self.partition = partition
        self.rules = rules
        self.clock = clock
        self.max_future_skew_s = max_future_skew_s
        self.accounts: dict[str, AccountState] = {}
        self.detector = AnomalyDetector(warmup=anomaly_warmup, q=anomaly_quantile, seed=seed)

    def process(self, event: Event) -> Decision:
        state = self.accounts.get(event.account_id)
        if state is None:
            state = self.accounts[event.account_id] = AccountState()
        features = extract(state, event)
        fired = [h for h in self.rules.evaluate(features) if h.rule.spec.mode == "active"]
        hits: list[tuple[Severity, float, Reason]] = [
            (h.rule.spec.severity, h.rule.spec.score, h.reason) for h in fired
        ]
        queues = [h.rule.spec for h in fired if h.rule.spec.queue]
        queue = max(queues, key=lambda s: SEVERITY_RANK[s.severity]).queue if queues else None
        skew = event.epoch - self.clock()
        if skew > self.max_future_skew_s:
            hits.append(
                (
                    "low",
                    0.3,
                    Reason(
                        code="future_timestamp",
                        text=f"event time is {skew / 60:,.0f} min in the future",
                        values={"skew_s": round(skew, 1)},
                    ),
                )
            )
        return decide(
            event_id=event.event_id,
            account_id=event.account_id,
            event_type=event.type,
            event_ts=event.epoch,
            rule_hits=hits,
            actions=[a for h in fired for a in h.rule.spec.actions],
            queue=queue,
            # an event a severe rule caught is an attack: the model must not learn it
            anomaly=self.detector.score(
                features, learn=all(SEVERITY_RANK[h[0]] < _HIGH for h in hits)
            ),
        )
