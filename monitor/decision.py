"""What the pipeline decides about one event: severity, score and the reasons why.

A :class:`Decision` is the shared model between the pipeline (which makes it),
the store (which keeps the alerts) and the API (which shows them).

>>> r = Reason(code="rule:brute_force", text="6 failed logins in 10 min",
...            rule_id="brute_force", values={"failed_logins_10m": 6})
>>> d = decide(event_id="e1", account_id="a1", event_type="login", event_ts=0.0,
...            rule_hits=[("medium", 0.6, r)], anomaly=None)
>>> d.severity, d.score, d.rule_ids, d.is_alert
('medium', 0.6, ['brute_force'], True)
>>> decide(event_id="e2", account_id="a1", event_type="login", event_ts=0.0,
...        rule_hits=[], anomaly=None).is_alert
False
>>> alert_id_for("e1") == alert_id_for("e1") != alert_id_for("e2")
True
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

Severity = Literal["none", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("none", "low", "medium", "high", "critical")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}


class Reason(msgspec.Struct, frozen=True):
    """One reason an event was flagged, in words a support agent reads, with the
    values that made it fire."""

    code: str
    text: str
    rule_id: str | None = None
    values: dict[str, Any] = {}


class AnomalyResult(msgspec.Struct, frozen=True):
    """The anomaly model's view of one event: its score, whether it exceeded the
    adaptive threshold, and the features that stood out most."""

    score: float
    threshold: float
    flagged: bool
    reason: Reason | None = None
    # the model's input vector for this event, in the order of
    # ``monitor.detectors.anomaly.NAMES[event type]``
    vector: tuple[float, ...] | None = None


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    account_id: str
    event_type: str
    event_ts: float  # event time, epoch seconds
    severity: Severity
    score: float  # 0..1, combined
    anomaly_score: float | None
    rule_ids: list[str]
    reasons: list[Reason]
    actions: list[str] = []  # response steps the fired rules ask for, in rule order
    queue: str | None = None  # support queue of the most severe rule that names one
    # numeric features kept with the alert so a verdict days later can still teach the
    # supervised model (see monitor/detectors/verdicts.py)
    learn_input: dict[str, float] | None = None
    # too late to fold into the account's state (beyond the grace period): not decided,
    # the stream routes the raw event to the late topic instead
    late: bool = False
    # a redelivered copy of an event the account folded in within the grace period: not
    # decided again (it was), the stream commits past it
    duplicate: bool = False
    # shadow rules that would have fired: recorded (store, metrics), never acted on
    shadow_hits: list[Reason] = []
    rule_pack_version: str = ""  # content hash of the rule pack that decided

    @property
    def is_alert(self) -> bool:
        return self.severity != "none"

    @property
    def restricts(self) -> bool:
        """True if acting on this decision would restrict the customer."""
        return any(a in RESTRICTING_ACTIONS for a in self.actions)

    @property
    def alert_id(self) -> str:
        return alert_id_for(self.event_id)


@functools.lru_cache(maxsize=4096)
def alert_id_for(event_id: str) -> str:
    """Stable alert id for an event: replaying the same event gives the same id,
    so the store and any receiver can dedupe on it. Cached (a pure function): storing
    one alert with its response asks for its id five times."""
    return "al_" + hashlib.blake2b(event_id.encode(), digest_size=10).hexdigest()


_NONE_RANK = 0

# Actions that restrict what the customer can do (vs. step-up, support outreach).
RESTRICTING_ACTIONS = frozenset({"force_password_reset", "disable_payment_features"})


def decide(
    *,
    event_id: str,
    account_id: str,
    event_type: str,
    event_ts: float,
    rule_hits: Sequence[tuple[Severity, float, Reason]],
    anomaly: AnomalyResult | None,
    actions: Sequence[str] = (),
    queue: str | None = None,
    learn_input: dict[str, float] | None = None,
    shadow_hits: Sequence[Reason] = (),
    rule_pack_version: str = "",
) -> Decision:
    """Combine rule hits and the anomaly result into one decision.

    Severity is the highest of the rule severities; an anomaly above threshold alone
    raises a ``low`` alert (a model outlier is a reason to look, not to restrict).
    The score is the highest rule score, or the anomaly score if higher.
    """
    rank = _NONE_RANK
    score = 0.0
    reasons: list[Reason] = []
    rule_ids: list[str] = []
    for severity, rule_score, reason in rule_hits:
        rank = max(rank, SEVERITY_RANK[severity])
        score = max(score, rule_score)
        reasons.append(reason)
        if reason.rule_id:
            rule_ids.append(reason.rule_id)
    anomaly_score = None
    if anomaly is not None:
        anomaly_score = anomaly.score
        if anomaly.flagged:
            rank = max(rank, SEVERITY_RANK["low"])
            score = max(score, anomaly.score)
            if anomaly.reason is not None:
                reasons.append(anomaly.reason)
    return Decision(
        event_id=event_id,
        account_id=account_id,
        event_type=event_type,
        event_ts=event_ts,
        severity=SEVERITIES[rank],
        score=round(score, 4),
        anomaly_score=anomaly_score,
        rule_ids=rule_ids,
        reasons=reasons,
        actions=list(dict.fromkeys(actions)),
        queue=queue,
        learn_input=learn_input,
        shadow_hits=list(shadow_hits),
        rule_pack_version=rule_pack_version,
    )
