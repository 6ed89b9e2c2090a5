"""Schemas of the support workflow (``/v1/cases``, ``/v1/accounts``), named by direction:
``...Query`` and ``...Request`` in, ``...Public`` out. The ``...Public`` models read the
store's records (msgspec structs, :mod:`monitor.store.case_records`) by attribute.

:func:`reasons_in_words` is what an agent reads first on a case: the distinct reason
texts of its alerts, most severe alert first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import NO_CONTROL, AlertPublic, AwareDatetime, Queue
from monitor.decision import SEVERITY_RANK, Severity
from monitor.store.case_records import ContactChannel, VerdictLabel
from monitor.store.case_steps import MAX_NAME, MAX_TEXT, MAX_VERDICT_NOTE
from monitor.store.paging import MAX_PAGE as MAX_CASE_PAGE
from monitor.store.records import AlertRecord

__all__ = [
    "MAX_CASE_PAGE",
    "AccountPublic",
    "AccountRiskPublic",
    "ActionPublic",
    "AssignRequest",
    "CaseActionPublic",
    "CaseAlertPublic",
    "CaseDetailPublic",
    "CaseEventPublic",
    "CasePublic",
    "CaseRestoreRequest",
    "CaseStepPublic",
    "CasesPublic",
    "CasesQuery",
    "ClaimRequest",
    "ContactCreate",
    "EscalateRequest",
    "ForceRequest",
    "NoteCreate",
    "PasswordResetRequest",
    "RestrictionPublic",
    "RevealRequest",
    "ScorePointPublic",
    "TimelineEntryPublic",
    "VerdictRequest",
    "reasons_in_words",
]

Priority = Literal["P1", "P2", "P3", "P4"]
_FROM = ConfigDict(from_attributes=True)


# --- in ---------------------------------------------------------------------------------


class CasesQuery(BaseModel):
    """Filters and paging for ``GET /v1/cases``."""

    queue: list[Queue] | None = Field(
        None, max_length=4, description="only cases in these queues (repeat the parameter)"
    )
    status: Literal["open", "closed"] | None = Field(None, description="open or closed cases")
    min_priority: Priority | None = Field(
        None, description="this priority or more urgent: P2 gives P1 and P2"
    )
    min_severity: Severity | None = Field(
        None, description="the case's most severe alert is at least this severe"
    )
    rule_id: str | None = Field(
        None, max_length=200, pattern=NO_CONTROL, description="a rule raised one of its alerts"
    )
    account_id: str | None = Field(
        None, max_length=200, pattern=NO_CONTROL, description="only this account's cases"
    )
    assignee: str | None = Field(
        None, max_length=MAX_NAME, pattern=NO_CONTROL, description="only cases this user holds"
    )
    unassigned: bool = Field(False, description="only cases nobody holds")
    since: AwareDatetime | None = Field(
        None, description="opened at or after, ISO 8601 with offset: 2024-05-01T10:00:00Z"
    )
    until: AwareDatetime | None = Field(None, description="opened before, ISO 8601 with offset")
    cursor: str | None = Field(
        None, max_length=1000, description="next_cursor of the previous page"
    )
    limit: int = Field(
        50, ge=1, description=f"page size; more than {MAX_CASE_PAGE} gives {MAX_CASE_PAGE}"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be after until")
        if self.assignee is not None and self.unassigned:
            raise ValueError("give assignee or unassigned, not both")
        return self


class ForceRequest(BaseModel):
    """A step that may take over a case someone else holds (admins only)."""

    force: bool = Field(False, description="act on a case someone else holds (admins)")


class ClaimRequest(ForceRequest):
    pass


class AssignRequest(BaseModel):
    to: str | None = Field(
        description="user to give the case to (an analyst of its queue or an admin); "
        "null: back to the queue",
        max_length=64,
        pattern=NO_CONTROL,
    )


class VerdictRequest(ForceRequest):
    verdict: VerdictLabel
    note: str = Field(
        min_length=1, max_length=MAX_VERDICT_NOTE, description="why: what the customer said"
    )
    restore: bool = Field(
        False, description="legitimate only: lift the account's restrictions in the same step"
    )


class EscalateRequest(ForceRequest):
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    priority: Priority | None = Field(
        None, description="the new priority (default: one step more urgent; never lower)"
    )
    to_queue: Queue | None = Field(None, description="move the case to this queue")


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="appended, never edited")


class ContactCreate(BaseModel):
    channel: ContactChannel
    summary: str = Field(min_length=1, max_length=MAX_TEXT)
    identity_verified: bool = Field(description="the customer passed identity checks")


class CaseRestoreRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)
    features: list[str] | None = Field(
        None, max_length=20, description="features to lift; omitted: every restriction in force"
    )


class PasswordResetRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)


class RevealRequest(BaseModel):
    reason: str | None = Field(
        None, max_length=1000, description="why the personal data is needed (audited)"
    )


# --- out --------------------------------------------------------------------------------


class CasePublic(BaseModel):
    """A case as lists show it: ``priority`` P1 (most urgent) to P4, ``due_at`` the SLA
    deadline of the first response, then its workflow state."""

    model_config = _FROM

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
    assignee: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalation_level: int
    verdict: str | None
    closed_at: datetime | None
    closed_by: str | None
    detail: str | None = Field(description="text of a case Vigil opened about itself")


class CasesPublic(BaseModel):
    data: list[CasePublic]
    limit: int = Field(description="the page size used (larger requests are clamped)")
    next_cursor: str | None = Field(description="cursor of the next page, null on the last one")


class CaseEventPublic(BaseModel):
    """One step of a case's append-only history."""

    model_config = _FROM

    case_id: str
    seq: int
    at: datetime
    actor: str
    role: str
    kind: str
    body: dict[str, Any]
    request_id: str | None


class DeadLetterPublic(BaseModel):
    model_config = _FROM

    outcome: str
    attempts: int
    last_error: str | None
    failed_at: datetime


class ActionPublic(BaseModel):
    """A command issued for the account and its delivery: ``published_at`` null = still
    in the outbox; ``webhook_state`` delivered | dead | null."""

    model_config = _FROM

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
    dead_letter: DeadLetterPublic | None


class RestrictionPublic(BaseModel):
    model_config = _FROM

    feature: str
    expires_at: datetime
    imposed_at: datetime
    action_id: str
    alert_id: str | None
    limit_amount: float | None
    limit_currency: str | None


class TimelineEntryPublic(BaseModel):
    """``kind`` alert (``unusual``: an event Vigil flagged), action or case_event."""

    model_config = _FROM

    at: datetime
    kind: str
    ref: str
    summary: str
    unusual: bool
    severity: str | None
    detail: dict[str, Any]


class CaseAlertPublic(AlertPublic):
    """An alert of the case with its explanation: reasons and the model's inputs."""

    learn_input: dict[str, float] | None = Field(description="the features the model saw")


class CaseDetailPublic(BaseModel):
    case: CasePublic
    reasons: list[str] = Field(description="why, in plain words: distinct reason texts")
    alerts: list[CaseAlertPublic]
    timeline: list[TimelineEntryPublic] = Field(description="the account's history, oldest first")
    restrictions: list[RestrictionPublic] = Field(description="in force, soonest expiry first")
    recent_responses: dict[str, datetime] = Field(
        description="when a step-up or password reset was last issued"
    )
    actions: list[ActionPublic] = Field(description="commands issued, newest first")
    events: list[CaseEventPublic] = Field(description="the case's history, oldest first")
    notes: list[CaseEventPublic]
    verdicts: list[CaseEventPublic] = Field(description="verdicts on the account's cases")


class CaseStepPublic(BaseModel):
    event: CaseEventPublic = Field(description="the step as recorded")
    case: CasePublic = Field(description="the case after the step")


class CaseActionPublic(BaseModel):
    action: ActionPublic = Field(description="the command, through the outbox")
    case: CasePublic


class ScorePointPublic(BaseModel):
    model_config = _FROM

    at: datetime
    alert_id: str
    score: float
    anomaly_score: float | None
    severity: str


class AccountPublic(BaseModel):
    """An account at a glance (``GET /v1/accounts/{id}``)."""

    account_id: str
    open_cases: list[CasePublic]
    restrictions: list[RestrictionPublic]
    alert_count: int = Field(description="alerts stored (up to 500 counted)")
    last_alert_at: datetime | None
    last_score: float | None
    last_verdict: str | None


class AccountRiskPublic(BaseModel):
    """An account's risk view: scores over time, alerts, cases, restrictions, commands."""

    model_config = _FROM

    account_id: str
    score_series: list[ScorePointPublic] = Field(description="oldest first, up to 500")
    alerts: list[CaseAlertPublic] = Field(description="newest first")
    cases: list[CasePublic]
    restrictions: list[RestrictionPublic]
    recent_responses: dict[str, datetime]
    actions: list[ActionPublic]
    verdicts: list[CaseEventPublic]


def reasons_in_words(alerts: Iterable[AlertRecord]) -> list[str]:
    """The distinct reason texts of ``alerts``, the most severe alert's first (then the
    newest): what the agent says to the customer.

    >>> from datetime import UTC, datetime
    >>> from monitor.decision import Reason
    >>> def a(sev, t, *texts):
    ...     rs = [Reason(code="c", text=x) for x in texts]
    ...     return AlertRecord("al", "e", "acc", "login", datetime.fromtimestamp(t, UTC),
    ...                        datetime.fromtimestamp(t, UTC), 0.5, None, sev, [], rs, [],
    ...                        None, None, None, None, None)
    >>> reasons_in_words([a("medium", 1, "new device"), a("critical", 2, "drain", "new device")])
    ['drain', 'new device']
    """
    ranked = sorted(
        alerts, key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.event_time), reverse=True
    )
    seen: dict[str, None] = {}
    for alert in ranked:
        for reason in alert.reasons:
            if reason.text:
                seen.setdefault(reason.text, None)
    return list(seen)


class BulkVerdictRequest(BaseModel):
    """One verdict for many cases (e.g. a campaign confirmed as fraud): admins only."""

    case_ids: list[str] = Field(min_length=1, max_length=200, description="at most 200")
    verdict: VerdictLabel
    note: str = Field(min_length=1, max_length=MAX_VERDICT_NOTE)
    restore: bool = Field(False, description="legitimate only: lift restrictions too")
    force: bool = Field(False, description="also cases someone else holds")


class BulkOutcomePublic(BaseModel):
    case_id: str
    ok: bool
    status: int = Field(description="what the single-case route would have answered")
    detail: str | None = None


class BulkVerdictPublic(BaseModel):
    done: int
    refused: int
    outcomes: list[BulkOutcomePublic]
