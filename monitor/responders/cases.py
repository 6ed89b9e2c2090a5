"""Support cases: one open case per account and category collects that account's alerts,
with a priority from the most severe alert and an SLA due time that only ever moves
earlier. Pure: the store loads the open case, calls :func:`route` with ``now`` and writes
the result (upsert by ``case_id``, plus a link row case -> alert).

>>> from monitor.decision import Decision
>>> def alert(event_id, severity, ts):
...     return Decision(event_id=event_id, account_id="a1", event_type="payment",
...                     event_ts=ts, severity=severity, score=0.5, anomaly_score=None,
...                     rule_ids=["r"], reasons=[], queue="payments")
>>> first = route(alert("e1", "medium", 0.0), None, now=0.0)
>>> first.kind, first.case.priority, first.case.due_at
('opened', 'P3', 14400.0)
>>> second = route(alert("e2", "critical", 600.0), first.case, now=600.0)
>>> second.kind, second.case.case_id == first.case.case_id, second.case.priority
('added', True, 'P1')
>>> second.case.due_at, second.case.alert_count, second.escalated
(1500.0, 2, True)
"""

from __future__ import annotations

import hashlib
from typing import Literal, get_args

import msgspec

from monitor.decision import SEVERITY_RANK, Decision, Severity

__all__ = [
    "CATEGORIES",
    "DEFAULT_POLICY",
    "PRIORITIES",
    "Case",
    "CasePolicy",
    "CaseUpdate",
    "Category",
    "Priority",
    "case_id_for",
    "category_for",
    "route",
]

Category = Literal["account_security", "payments", "topup", "ops"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)  # most urgent first


class CasePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How alerts become cases: priority by severity, SLA (seconds) by priority, and the
    category of an alert whose rule names no queue, by event type
    (``rules/playbooks.yaml``, section ``cases``)."""

    priority: dict[str, Priority] = msgspec.field(
        default_factory=lambda: {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}
    )
    sla: dict[str, float] = msgspec.field(
        default_factory=lambda: {"P1": 900.0, "P2": 3600.0, "P3": 14400.0, "P4": 86400.0}
    )
    category: dict[str, Category] = msgspec.field(
        default_factory=lambda: {
            "login": "account_security",
            "security": "account_security",
            "payment": "payments",
            "topup": "topup",
            "ops": "ops",
        }
    )
    default_category: Category = "account_security"


DEFAULT_POLICY = CasePolicy()


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """A support case. ``priority``/``severity`` are those of its most severe alert;
    ``due_at`` (epoch seconds) is the SLA deadline. The alerts themselves are link rows
    in the store; the case counts them and names the first and the latest."""

    case_id: str
    account_id: str
    category: Category
    status: Literal["open", "closed"] = "open"
    priority: Priority
    severity: Severity
    opened_at: float
    updated_at: float
    due_at: float
    alert_count: int = 1
    first_alert_id: str
    last_alert_id: str


class CaseUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`route` did: ``opened`` a new case or ``added`` the alert to the open one.
    ``case`` is the case after the update; ``escalated`` is True when the priority rose
    or the due time moved earlier (a new case counts as escalated: someone must be told)."""

    kind: Literal["opened", "added"]
    case: Case
    alert_id: str
    escalated: bool


def case_id_for(account_id: str, category: str, first_alert_id: str) -> str:
    """Stable case id: the account, the category and the alert that opened it."""
    key = f"{account_id}:{category}:{first_alert_id}"
    return "case_" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def category_for(decision: Decision, policy: CasePolicy = DEFAULT_POLICY) -> Category:
    """The decision's queue if it is a known category, else one by event type; ops
    decisions always go to ``ops``."""
    if decision.event_type == "ops":
        return "ops"
    for category in CATEGORIES:
        if decision.queue == category:
            return category
    return policy.category.get(decision.event_type, policy.default_category)


def priority_for(severity: str, policy: CasePolicy = DEFAULT_POLICY) -> Priority:
    try:
        return policy.priority[severity]
    except KeyError:
        raise ValueError(f"severity {severity!r} does not open a case") from None


def route(
    decision: Decision,
    open_case: Case | None,
    now: float,
    policy: CasePolicy = DEFAULT_POLICY,
) -> CaseUpdate:
    """Open a case for the alert, or add it to ``open_case`` (the account's open case in
    the alert's category, if any): the priority rises to the new alert's if that is more
    urgent and the due time moves to ``now + SLA`` of that priority if that is earlier —
    never later. Re-routing the case's latest alert changes nothing."""
    category = category_for(decision, policy)
    priority = priority_for(decision.severity, policy)
    alert_id = decision.alert_id
    due = now + policy.sla[priority]
    if open_case is None or open_case.status != "open":
        case = Case(
            case_id=case_id_for(decision.account_id, category, alert_id),
            account_id=decision.account_id,
            category=category,
            priority=priority,
            severity=decision.severity,
            opened_at=now,
            updated_at=now,
            due_at=due,
            first_alert_id=alert_id,
            last_alert_id=alert_id,
        )
        return CaseUpdate(kind="opened", case=case, alert_id=alert_id, escalated=True)
    if (open_case.account_id, open_case.category) != (decision.account_id, category):
        raise ValueError(
            f"case {open_case.case_id} is ({open_case.account_id}, {open_case.category}), "
            f"the alert is ({decision.account_id}, {category})"
        )
    if alert_id in (open_case.last_alert_id, open_case.first_alert_id):
        return CaseUpdate(kind="added", case=open_case, alert_id=alert_id, escalated=False)
    new_priority = min(open_case.priority, priority, key=PRIORITIES.index)
    severity = max(open_case.severity, decision.severity, key=SEVERITY_RANK.__getitem__)
    new_due = min(open_case.due_at, due)
    case = msgspec.structs.replace(
        open_case,
        priority=new_priority,
        severity=severity,
        due_at=new_due,
        updated_at=max(open_case.updated_at, now),
        alert_count=open_case.alert_count + 1,
        last_alert_id=alert_id,
    )
    escalated = new_priority != open_case.priority or new_due < open_case.due_at
    return CaseUpdate(kind="added", case=case, alert_id=alert_id, escalated=escalated)
