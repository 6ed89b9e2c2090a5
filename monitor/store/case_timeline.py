"""An account's timeline as a case shows it: its alerts, the commands issued for it and
the steps people took on its cases, merged into one list, oldest first, each entry with
a one-line summary (Vigil stores decisions, not raw events, so this is its history).
:meth:`Casework.case_detail <monitor.store.casework.Casework.case_detail>` reads the
three sources and merges them here; nothing here touches the database.

>>> describe("claim", {"from": None, "to": "ana"})
'claimed to ana'
>>> describe("contact", {"channel": "phone", "summary": "confirms the new phone",
...                      "identity_verified": True})
'customer contact by phone (verified): confirms the new phone'
>>> timeline([], [], [], 10)
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from monitor.store.case_records import ActionRecord, CaseEvent, TimelineEntry
from monitor.store.records import AlertRecord


def timeline(
    account_alerts: Sequence[AlertRecord],
    actions: Sequence[ActionRecord],
    events: Sequence[CaseEvent],
    limit: int,
) -> list[TimelineEntry]:
    """The three sources merged, oldest first, cut to the newest ``limit`` entries."""
    entries = [_alert_entry(a) for a in account_alerts]
    entries += [_action_entry(a) for a in actions]
    entries += [_event_entry(e) for e in events]
    entries.sort(key=lambda e: (e.at, e.kind, e.ref))
    return entries[-limit:] if limit else []


def _alert_entry(a: AlertRecord) -> TimelineEntry:
    text = "; ".join(r.text for r in a.reasons) or f"{a.event_type} flagged"
    return TimelineEntry(
        at=a.event_time,
        kind="alert",
        ref=a.alert_id,
        summary=f"{a.event_type}: {text}",
        unusual=True,
        severity=a.severity,
        detail={
            "event_id": a.event_id,
            "event_type": a.event_type,
            "score": a.score,
            "anomaly_score": a.anomaly_score,
            "rule_ids": a.rule_ids,
            "reasons": msgspec.to_builtins(a.reasons),
            "features": a.learn_input,
            "actions": a.actions,
        },
    )


def _action_entry(a: ActionRecord) -> TimelineEntry:
    return TimelineEntry(
        at=a.created_at,
        kind="action",
        ref=a.action_id,
        summary=f"{a.type}: {a.reason}",
        detail={
            "alert_id": a.alert_id,
            "features": a.features,
            "expires_at": a.expires_at,
            "published_at": a.published_at,
            "webhook_state": a.webhook_state,
        },
    )


def _event_entry(e: CaseEvent) -> TimelineEntry:
    return TimelineEntry(
        at=e.at,
        kind="case_event",
        ref=f"{e.case_id}#{e.seq}",
        summary=f"{describe(e.kind, e.body)} ({e.actor}, {e.role})",
        detail={"case_id": e.case_id, "kind": e.kind, "actor": e.actor, **e.body},
    )


def describe(kind: str, body: dict[str, Any]) -> str:
    """One line for a case step, as the timeline shows it."""
    match kind:
        case "note":
            return f"note: {body.get('text', '')}"
        case "claim" | "assign":
            return f"{kind}ed to {body.get('to') or 'nobody'}"
        case "ack":
            return "acknowledged"
        case "verdict":
            return f"verdict {body.get('verdict')}: {body.get('note', '')}"
        case "escalate":
            return f"escalated to {body.get('priority')}: {body.get('reason', '')}"
        case "contact":
            verified = "verified" if body.get("identity_verified") else "not verified"
            return f"customer contact by {body.get('channel')} ({verified}): {body.get('summary')}"
        case "restore":
            return f"restrictions lifted: {body.get('reason', '')}"
        case "password_reset":
            return f"password reset forced: {body.get('reason', '')}"
    return kind
