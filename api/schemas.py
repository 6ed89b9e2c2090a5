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


class AlertsQuery(BaseModel):
    """Filters and paging for ``GET /v1/alerts``."""

    account_id: str | None = Field(None, description="only alerts for this account")
    severity: Severity | None = Field(None, description="only alerts of exactly this severity")
    min_severity: Severity | None = Field(None, description="only alerts at or above this severity")
    rule_id: str | None = Field(None, description="only alerts where this rule fired")
    since: AwareDatetime | None = Field(
        None, description="event time from (inclusive), ISO 8601 with offset: 2024-05-01T10:00:00Z"
    )
    until: AwareDatetime | None = Field(
        None, description="event time before (exclusive), ISO 8601 with offset"
    )
    limit: int = Field(50, ge=1, le=MAX_PAGE, description=f"page size, 1..{MAX_PAGE}")
    offset: int = Field(0, ge=0, description="alerts to skip")

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be after until")
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
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, null on the last page")


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
