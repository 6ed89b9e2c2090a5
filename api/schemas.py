"""Request and response schemas, named by direction (``...Query`` in, ``...Public`` out).

Store records are msgspec structs; the ``...Public`` models read them by attribute
(``from_attributes``), so the API never depends on how the store builds them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from monitor.decision import Severity

MAX_PAGE = 500
MAX_CURSOR_PAGE = 200  # the store's keyset pages (monitor.store.paging)
MAX_OFFSET = 2**31 - 1  # an OFFSET the database takes (past the last alert: an empty page)

# "2024-05-01T10:00:00+02:00" typed into a URL unencoded arrives as "...T10:00:00 02:00".
_SPACE_FOR_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def _restore_plus(value: object) -> object:
    if isinstance(value, str):
        return _SPACE_FOR_PLUS.sub(r"\1+\2", value)
    return value


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone offset")
    return value


AwareDatetime = Annotated[datetime, BeforeValidator(_restore_plus), AfterValidator(_require_offset)]


# Ids and names in paths and filters: no control characters (PostgreSQL refuses NUL in
# text, and nothing Vigil stores has them), bounded length.
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
Queue = Literal["account_security", "payments", "topup", "ops"]


class AlertsQuery(BaseModel):
    """Filters and paging for ``GET /v1/alerts``."""

    account_id: str | None = Field(
        None, max_length=200, pattern=NO_CONTROL, description="only alerts for this account"
    )
    queue: Queue | None = Field(None, description="only alerts routed to this support queue")
    severity: Severity | None = Field(None, description="only alerts of exactly this severity")
    min_severity: Severity | None = Field(None, description="only alerts at or above this severity")
    rule_id: str | None = Field(
        None, max_length=200, pattern=NO_CONTROL, description="only alerts where this rule fired"
    )
    since: AwareDatetime | None = Field(
        None, description="event time from (inclusive), ISO 8601 with offset: 2024-05-01T10:00:00Z"
    )
    until: AwareDatetime | None = Field(
        None, description="event time before (exclusive), ISO 8601 with offset"
    )
    limit: int = Field(
        50,
        ge=1,
        le=MAX_PAGE,
        description=f"page size, 1..{MAX_PAGE} (with a cursor, above {MAX_CURSOR_PAGE} "
        f"gives {MAX_CURSOR_PAGE})",
    )
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="alerts to skip")
    cursor: str | None = Field(
        None,
        max_length=1000,
        description="next_cursor of the previous page: keyset paging, stable while new "
        "alerts arrive (instead of offset)",
    )

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be after until")
        if self.cursor is not None and self.offset:
            raise ValueError("give cursor or offset, not both")
        return self


class ReasonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    text: str
    rule_id: str | None = None
    values: dict[str, Any] = {}


class AlertPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alert_id: str
    event_id: str
    account_id: str
    event_type: str
    event_time: datetime
    detected_at: datetime
    score: float
    anomaly_score: float | None
    severity: Severity
    rule_ids: list[str]
    reasons: list[ReasonPublic]
    actions: list[str]
    queue: str | None
    rule_pack_version: str | None
    partition: int | None
    offset: int | None


class AlertsPublic(BaseModel):
    data: list[AlertPublic]
    count: int = Field(description="alerts matching the filters, over all pages")
    limit: int = Field(description="the page size used")
    offset: int | None = Field(description="alerts skipped; null when paging by cursor")
    next_offset: int | None = Field(
        description="offset of the next page, null on the last page and when paging by cursor"
    )
    next_cursor: str | None = Field(
        None, description="cursor of the next page (pass it as cursor), null on the last page"
    )


class LivenessPublic(BaseModel):
    status: Literal["alive"] = "alive"


class ReadinessPublic(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description='"ok", or what is wrong, per check')


class ErrorPublic(BaseModel):
    detail: str


class RulePublic(BaseModel):
    id: str
    description: str
    applies_to: list[str]
    severity: str
    score: float
    mode: str
    actions: list[str]
    queue: str | None
    cooldown_s: float
    source: str  # file:line
    hits: int  # stored alerts this rule contributed to
    shadow_hits: int  # recorded hits while in shadow mode


class RulesPublic(BaseModel):
    version: str
    source: str
    loaded_at: datetime
    last_reload_problems: list[str]
    data: list[RulePublic]
    count: int
