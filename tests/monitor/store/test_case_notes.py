"""What people write on a case (monitor.store.case_notes), on SQLite and PostgreSQL:
notes are append-only and idempotent by request id; customer contacts are recorded and
shown in the timeline."""

from __future__ import annotations

import msgspec
import pytest
import sqlalchemy as sa

from monitor.store import AlertStore
from monitor.store.casework import Casework
from monitor.store.schema import case_events
from tests.monitor.store.casework_helpers import audit


def test_notes_are_append_only(store: AlertStore, desk: Casework, case_id: str) -> None:
    first = desk.add_note(case_id, "first look: new device", actor="ana", role="analyst")
    second = desk.add_note(case_id, "second note", actor="bo", role="analyst", request_id="n2")
    assert desk.add_note(case_id, "dup", actor="bo", role="analyst", request_id="n2") == second
    notes = desk.case_detail(case_id).notes
    assert [(n.seq, n.actor, n.body["text"]) for n in notes] == [
        (1, "ana", "first look: new device"),
        (2, "bo", "second note"),
    ]
    assert notes[0] == first
    assert [r["action"] for r in audit(store, case_id)] == ["case_note", "case_note"]
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:  # keys never repeat
        conn.execute(
            sa.insert(case_events),
            {**msgspec.to_builtins(first), "at": first.at, "body": {}},
        )
    for bad in ("", "   ", "x" * 4001):
        with pytest.raises(ValueError):
            desk.add_note(case_id, bad, actor="ana", role="analyst")


def test_customer_contact_is_recorded(store: AlertStore, desk: Casework, case_id: str) -> None:
    e = desk.record_contact(
        case_id,
        "phone",
        "customer called the hotline, identity verified, confirms new phone",
        True,
        actor="ana",
        role="analyst",
    )
    assert e.kind == "contact"
    assert e.body == {
        "channel": "phone",
        "summary": "customer called the hotline, identity verified, confirms new phone",
        "identity_verified": True,
    }
    (entry,) = [t for t in desk.case_detail(case_id).timeline if t.kind == "case_event"]
    assert "customer contact by phone (verified)" in entry.summary
    with pytest.raises(ValueError, match="unknown channel"):
        desk.record_contact(case_id, "pigeon", "coo", False, actor="ana", role="analyst")
    assert [r["action"] for r in audit(store, case_id)] == ["case_contact"]
