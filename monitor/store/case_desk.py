"""What every support-workflow step of :class:`~monitor.store.casework.Casework` stands
on: the store's engine, the ``responder``, the case ``policy``, the ``clock``, and
:meth:`CaseDesk._step`, which runs one step on one case as one transaction — lock the
case, apply the change (:mod:`monitor.store.case_steps` has the pieces), append it to the
case's history, save the workflow state and write the audit row. A ``request_id`` already
recorded for the step returns that step instead of doing it again.

The steps themselves are grouped by what they do: :mod:`~monitor.store.case_reads`,
:mod:`~monitor.store.case_assignment`, :mod:`~monitor.store.case_outcomes` and
:mod:`~monitor.store.case_notes`; :class:`~monitor.store.casework.Casework` is all of them.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> desk = CaseDesk(store, clock=lambda: 1.8e9)
>>> desk.responder is None, desk.policy.sla["P1"] > 0
(True, True)
>>> store.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from monitor.responders.cases import DEFAULT_POLICY, CasePolicy
from monitor.store.case_records import CaseEvent
from monitor.store.case_steps import (
    NOOP,
    Change,
    append_event,
    audit_step,
    check_name,
    last_event,
    lock_case,
    next_seq,
    replayed,
    save_state,
)
from monitor.store.errors import translate
from monitor.store.repository import _DIALECT_INSERT, AlertStore
from monitor.store.responses import PasswordResetter

__all__ = ["CaseDesk"]


class CaseDesk:
    """The engine and collaborators the workflow steps share, and the transaction that
    runs one step on one case. ``responder`` plans restores and password resets;
    ``policy`` has the SLAs an escalation uses; ``clock`` (seconds since the epoch) is
    what tests set."""

    def __init__(
        self,
        store: AlertStore,
        *,
        responder: PasswordResetter | None = None,
        policy: CasePolicy = DEFAULT_POLICY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = store.engine
        self._insert = _DIALECT_INSERT[self._engine.dialect.name]
        self.responder = responder
        self.policy = policy
        self._clock = clock

    def _step(
        self,
        kind: str,
        case_id: str,
        actor: str,
        role: str,
        request_id: str | None,
        change: Change,
    ) -> CaseEvent:
        """Lock the case, apply ``change`` and record it (history, state, audit) in one
        transaction; a known ``request_id`` returns the step already recorded."""
        check_name(actor, "actor")
        check_name(role, "role")
        now = datetime.fromtimestamp(self._clock(), UTC)
        with translate(f"case {kind}"), self._engine.begin() as conn:
            state = lock_case(conn, case_id)
            done = replayed(conn, case_id, kind, request_id)
            if done is not None:
                return done
            seq = next_seq(conn, case_id)
            before = replace(state)
            body = change(conn, state, now, seq)
            if body is NOOP:
                return last_event(conn, case_id, ("claim", "assign"))
            event = append_event(conn, state, seq, now, actor, role, kind, body, request_id)
            save_state(conn, self._insert, before, state, now)
            audit_step(conn, now, actor, role, f"case_{kind}", before, state, seq, request_id)
        return event
