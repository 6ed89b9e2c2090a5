"""What readers of the store (the API, the console) get back: one stored alert."""

from __future__ import annotations

from datetime import datetime

import msgspec

from monitor.decision import Reason


class AlertRecord(msgspec.Struct, frozen=True):
    """One stored alert. Times are timezone-aware UTC on every backend.

    ``partition``/``offset`` are where the event was read from Kafka, when known.
    """

    alert_id: str
    event_id: str
    account_id: str
    event_type: str
    event_time: datetime
    detected_at: datetime
    score: float
    anomaly_score: float | None
    severity: str
    rule_ids: list[str]
    reasons: list[Reason]
    actions: list[str]
    queue: str | None
    learn_input: dict[str, float] | None
    rule_pack_version: str | None
    partition: int | None
    offset: int | None
