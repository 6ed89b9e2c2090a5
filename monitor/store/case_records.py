"""What the support workflow reads back from the store: cases, their history, the
account's timeline and risk view. Times are timezone-aware UTC on every backend; the
structs are plain data (``msgspec.to_builtins`` gives JSON for the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

import msgspec

from monitor.store.records import AlertRecord

__all__ = [
    "CASE_EVENT_KINDS",
    "CONTACT_CHANNELS",
    "VERDICTS",
    "AccountView",
    "ActionRecord",
    "CaseDetail",
    "CaseEvent",
    "CaseEventKind",
    "CaseSummary",
    "ContactChannel",
    "DeadLetter",
    "RestrictionRecord",
    "ScorePoint",
    "TimelineEntry",
    "VerdictLabel",
]

CaseEventKind = Literal[
    "note", "claim", "assign", "ack", "verdict", "escalate", "contact", "restore", "password_reset"
]
CASE_EVENT_KINDS: tuple[CaseEventKind, ...] = get_args(CaseEventKind)
VerdictLabel = Literal["fraud", "legitimate", "inconclusive"]
VERDICTS: tuple[VerdictLabel, ...] = get_args(VerdictLabel)
ContactChannel = Literal["phone", "chat", "email", "in_app", "video", "branch"]
CONTACT_CHANNELS: tuple[ContactChannel, ...] = get_args(ContactChannel)


class CaseSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One case as the lists show it. ``queue`` is the case's category; ``priority`` P1
    (most urgent) to P4; ``due_at`` the SLA deadline for the first response.
    ``assignee`` … ``closed_at`` are the workflow state (None/0 until someone acts);
    ``detail`` is the text of a case Vigil opened about itself (e.g. a failed webhook)."""

    case_id: str
    account_id: str
    queue: str
    status: Literal["open", "closed"]
    priority: str
    severity: str
    opened_at: datetime
    updated_at: datetime
    due_at: datetime
    alert_count: int
    first_alert_id: str
    last_alert_id: str
    assignee: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    escalation_level: int = 0
    verdict: VerdictLabel | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    detail: str | None = None


class CaseEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One step in a case's append-only history: who (``actor`` as ``role``) did what
    (``kind``) when, with the step's own data in ``body`` (a note's ``text``, a verdict's
    ``verdict``/``note``/``alert_ids``, a claim's ``from``/``to`` …)."""

    case_id: str
    seq: int
    at: datetime
    actor: str
    role: str
    kind: CaseEventKind
    body: dict[str, Any]
    request_id: str | None = None


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A command whose webhook delivery failed for good."""

    outcome: str  # rejected | exhausted | refused
    attempts: int
    last_error: str | None
    failed_at: datetime


class ActionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A command issued for an account (``wallet.account-actions``) and how far its
    delivery got: ``published_at`` (None: still in the outbox), ``webhook_state``
    (None: not tried or no webhook; ``delivered`` | ``dead``) and the dead letter."""

    action_id: str
    type: str
    account_id: str
    alert_id: str | None
    reason: str
    features: list[str]
    expires_at: datetime | None
    created_at: datetime
    published_at: datetime | None
    webhook_state: str | None
    dead_letter: DeadLetter | None = None


class RestrictionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A payment feature restricted on the account as Vigil tracks it, until
    ``expires_at`` (a restriction past its expiry is lifted by the next expiry run)."""

    feature: str
    expires_at: datetime
    imposed_at: datetime
    action_id: str
    alert_id: str | None
    limit_amount: float | None = None
    limit_currency: str | None = None


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an account's timeline. ``kind``: ``alert`` (an event Vigil flagged:
    ``unusual`` is True, ``detail`` holds its reasons and stored features), ``action``
    (a command issued) or ``case_event`` (a person's step on a case). ``ref`` is the
    alert, action or ``case_id#seq`` the line is about."""

    at: datetime
    kind: Literal["alert", "action", "case_event"]
    ref: str
    summary: str
    unusual: bool = False
    severity: str | None = None
    detail: dict[str, Any] = {}


class CaseDetail(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an agent needs on one screen. ``alerts`` are the case's (oldest first,
    with reasons); ``timeline`` the account's recent history (oldest first, see
    :meth:`monitor.store.casework.Casework.case_detail`); ``restrictions`` those in force;
    ``recent_responses`` when a step-up / password reset was last issued; ``actions`` the
    account's commands (newest first); ``events`` the case's history (oldest first),
    ``notes`` its notes; ``verdicts`` every verdict on the account's cases (newest first)."""

    case: CaseSummary
    alerts: list[AlertRecord]
    timeline: list[TimelineEntry]
    restrictions: list[RestrictionRecord]
    recent_responses: dict[str, datetime]
    actions: list[ActionRecord]
    events: list[CaseEvent]
    notes: list[CaseEvent]
    verdicts: list[CaseEvent]


class ScorePoint(msgspec.Struct, frozen=True, kw_only=True):
    """One alert on the account's risk chart: its event time and scores."""

    at: datetime
    alert_id: str
    score: float
    anomaly_score: float | None
    severity: str


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    """An account's risk view. ``known`` is False when Vigil has stored nothing about the
    account (no alert, case or response): Vigil keeps decisions, not a customer register.
    ``score_series`` is oldest first; ``alerts``, ``cases``, ``actions`` and ``verdicts``
    newest first."""

    account_id: str
    known: bool
    score_series: list[ScorePoint]
    alerts: list[AlertRecord]
    cases: list[CaseSummary]
    restrictions: list[RestrictionRecord]
    recent_responses: dict[str, datetime]
    actions: list[ActionRecord]
    verdicts: list[CaseEvent]
