"""What working a case ends in, written through the outbox in the step's transaction:
the verdict (the case closes; one ``wallet.verdicts`` message per alert, so the
supervised model learns from it) and the commands for the account — lifting its payment
restrictions, forcing a password reset — planned by the ``responder``. Steps of
:class:`~monitor.store.casework.Casework`; a command with a case is also a step in that
case's history.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> desk = CaseOutcomes(store)  # no responder: no commands
>>> desk.give_verdict("case_1", "fraud", "denies it", actor="ana", role="analyst", restore=True)
Traceback (most recent call last):
...
ValueError: only a legitimate verdict can lift restrictions
>>> desk.restore("a1", "customer verified", actor="ana", role="analyst")
Traceback (most recent call last):
...
ValueError: this Casework has no responder: cannot lift restrictions
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from monitor.store import case_queries as q
from monitor.store.action_queries import restrictions_of
from monitor.store.case_desk import CaseDesk
from monitor.store.case_records import VERDICTS, ActionRecord, CaseEvent
from monitor.store.case_steps import (
    MAX_TEXT,
    MAX_VERDICT_NOTE,
    CaseState,
    action_record,
    append_event,
    check_name,
    check_text,
    lock_account,
    lock_case,
    next_seq,
    replayed,
    require_holder,
    save_state,
    verdict_row,
)
from monitor.store.errors import translate
from monitor.store.exceptions import InvalidTransition
from monitor.store.responses import PasswordResetter, manual_password_reset, manual_restore
from monitor.store.schema import outbox

__all__ = ["CaseOutcomes"]


class CaseOutcomes(CaseDesk):
    """A verdict, and the account commands support issues from a case (or without one)."""

    def give_verdict(
        self,
        case_id: str,
        verdict: str,
        note: str,
        *,
        actor: str,
        role: str,
        request_id: str | None = None,
        restore: bool = False,
        force: bool = False,
    ) -> CaseEvent:
        """Close the case with a verdict (``fraud`` | ``legitimate`` | ``inconclusive``)
        and a note saying why.

        In the same transaction, one message per alert of the case goes into the outbox
        for ``wallet.verdicts`` (the ``Verdict`` contract: alert_id, account_id, verdict,
        ts; the note stays in the store), which the dispatcher publishes exactly once;
        the model learns from fraud/legitimate and counts inconclusive. With
        ``restore=True`` (only for ``legitimate``; needs a responder) the account's
        restrictions are lifted too. The case must be open and unassigned or held by
        ``actor`` (or ``force``). ``body``: verdict, note, alert_ids, published (messages
        written), restore_action_id."""
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; expected one of {list(VERDICTS)}")
        note = check_text(note, "note", MAX_VERDICT_NOTE)
        if restore and verdict != "legitimate":
            raise ValueError("only a legitimate verdict can lift restrictions")
        responder = self._need_responder("lift restrictions") if restore else None

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            if s.status != "open":
                raise InvalidTransition(
                    s.case_id,
                    f"is closed (verdict {s.verdict} by {s.closed_by}); "
                    "a closed case takes notes, not another verdict",
                )
            require_holder(s, actor, force, "give a verdict on")
            alert_ids = q.case_alert_ids(conn, s.case_id)
            rows = [verdict_row(s, seq, a, verdict, now) for a in alert_ids]
            if rows:
                conn.execute(sa.insert(outbox), rows)
            restore_id = None
            if responder is not None and restrictions_of(conn, s.account_id)[0]:
                action = manual_restore(
                    conn,
                    self._insert,
                    responder,
                    s.account_id,
                    None,
                    f"verdict legitimate on {s.case_id}: {note}",
                    actor,
                    role,
                    now.timestamp(),
                    None if request_id is None else f"{request_id}:restore",
                )
                restore_id = action.action_id
            s.status, s.verdict, s.closed_at, s.closed_by = "closed", verdict, now, actor
            return {
                "verdict": verdict,
                "note": note,
                "alert_ids": alert_ids,
                "published": len(rows),
                "restore_action_id": restore_id,
            }

        return self._step("verdict", case_id, actor, role, request_id, change)

    def restore(
        self,
        account_id: str,
        reason: str,
        *,
        actor: str,
        role: str,
        features: list[str] | None = None,
        case_id: str | None = None,
        request_id: str | None = None,
    ) -> ActionRecord:
        """Lift the account's payment restrictions (``features``; None: all in force) with
        a ``restore_payment_features`` command through the outbox, audited like
        :meth:`AlertStore.restore`. With ``case_id`` (a case of this account) the step is
        also in the case's history, and a retried ``request_id`` does nothing again.
        Raises ``ValueError`` for nothing to lift or an unknown feature."""
        responder = self._need_responder("lift restrictions")
        reason = check_text(reason, "reason", MAX_TEXT)

        def act(conn: sa.Connection, now: float) -> Any:
            return manual_restore(
                conn,
                self._insert,
                responder,
                account_id,
                features,
                reason,
                actor,
                role,
                now,
                request_id,
            )

        return self._account_step("restore", account_id, case_id, actor, role, request_id, act)

    def force_password_reset(
        self,
        account_id: str,
        reason: str,
        *,
        actor: str,
        role: str,
        case_id: str | None = None,
        alert_id: str | None = None,
        request_id: str | None = None,
    ) -> ActionRecord:
        """End the account's sessions and require a new password: a
        ``force_password_reset`` command through the outbox, audited; the playbooks then
        do not reset the account again within their ``repeat_after``. With ``case_id``
        the step is also in the case's history. A retried ``request_id`` gives the same
        command and writes nothing again."""
        responder = self._need_responder("force a password reset")
        reason = check_text(reason, "reason", MAX_TEXT)

        def act(conn: sa.Connection, now: float) -> Any:
            return manual_password_reset(
                conn,
                self._insert,
                responder,
                account_id,
                reason,
                actor,
                role,
                now,
                request_id,
                alert_id,
            )

        return self._account_step(
            "password_reset", account_id, case_id, actor, role, request_id, act
        )

    def _need_responder(self, what: str) -> PasswordResetter:
        if self.responder is None:
            raise ValueError(f"this Casework has no responder: cannot {what}")
        return self.responder

    def _account_step(
        self,
        kind: str,
        account_id: str,
        case_id: str | None,
        actor: str,
        role: str,
        request_id: str | None,
        act: Callable[[sa.Connection, float], Any],
    ) -> ActionRecord:
        """A command for the account (its own audit row), and with ``case_id`` a step in
        that case's history, in one transaction."""
        check_name(actor, "actor")
        check_name(role, "role")
        now = self._clock()
        when = datetime.fromtimestamp(now, UTC)
        with translate(kind.replace("_", " ")), self._engine.begin() as conn:
            if case_id is None:
                lock_account(conn, account_id)
                return action_record(conn, act(conn, now).action_id)
            state = lock_case(conn, case_id)
            if state.account_id != account_id:
                raise ValueError(f"case {case_id} is about account {state.account_id}")
            done = replayed(conn, case_id, kind, request_id)
            if done is not None:
                return action_record(conn, done.body["action_id"])
            action = act(conn, now)
            body = {
                "action_id": action.action_id,
                "reason": action.reason,
                "features": list(getattr(action, "feature_names", ())),
            }
            seq = next_seq(conn, case_id)
            append_event(conn, state, seq, when, actor, role, kind, body, request_id)
            save_state(conn, self._insert, state, state, when)
            return action_record(conn, action.action_id)
