"""What people write on a case, as steps of :class:`~monitor.store.casework.Casework`:
notes (append-only, never edited or deleted) and records of conversations with the
customer (channel, summary, whether their identity was verified). Both are allowed on an
open or a closed case and change nothing but its history.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> desk = CaseNotes(store)
>>> desk.add_note("case_1", "   ", actor="ana", role="analyst")
Traceback (most recent call last):
...
ValueError: a note is required
>>> desk.record_contact("case_1", "phone", "confirms the new phone", True,
...                     actor="ana", role="analyst")
Traceback (most recent call last):
...
monitor.store.exceptions.CaseNotFound: no case 'case_1'
>>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.store.case_desk import CaseDesk
from monitor.store.case_records import CONTACT_CHANNELS, CaseEvent
from monitor.store.case_steps import MAX_TEXT, CaseState, check_text

__all__ = ["CaseNotes"]


class CaseNotes(CaseDesk):
    """Notes and customer contacts on a case."""

    def add_note(
        self, case_id: str, text: str, *, actor: str, role: str, request_id: str | None = None
    ) -> CaseEvent:
        """Append a note (open or closed case; notes are never edited or deleted)."""
        text = check_text(text, "note", MAX_TEXT)

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            return {"text": text}

        return self._step("note", case_id, actor, role, request_id, change)

    def record_contact(
        self,
        case_id: str,
        channel: str,
        summary: str,
        identity_verified: bool,
        *,
        actor: str,
        role: str,
        request_id: str | None = None,
    ) -> CaseEvent:
        """Record a conversation with the customer (open or closed case), e.g. channel
        ``phone``, "customer called the hotline, confirms new phone",
        ``identity_verified=True``. Channels: phone, chat, email, in_app, video, branch."""
        if channel not in CONTACT_CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; expected one of {CONTACT_CHANNELS}")
        summary = check_text(summary, "summary", MAX_TEXT)
        verified = bool(identity_verified)

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            return {"channel": channel, "summary": summary, "identity_verified": verified}

        return self._step("contact", case_id, actor, role, request_id, change)
