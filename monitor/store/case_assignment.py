"""Who works a case and how urgently, as steps of
:class:`~monitor.store.casework.Casework`: ``claim`` (take it), ``assign`` (give it to
someone or back to the queue), ``acknowledge`` (the first response, which stops the SLA
clock) and ``escalate`` (hand it up: more urgent, back to the queue, maybe another
queue). Each is one audited transaction (:meth:`CaseDesk._step
<monitor.store.case_desk.CaseDesk._step>`).

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> desk = CaseAssignment(store)
>>> desk.escalate("case_1", "customer in tears", actor="ana", role="analyst", priority="P0")
Traceback (most recent call last):
...
ValueError: unknown priority 'P0'; expected one of ('P1', 'P2', 'P3', 'P4')
>>> desk.claim("case_1", actor="ana", role="analyst")
Traceback (most recent call last):
...
monitor.store.exceptions.CaseNotFound: no case 'case_1'
>>> store.close()
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor.responders.cases import CATEGORIES, PRIORITIES
from monitor.store.case_desk import CaseDesk
from monitor.store.case_records import CaseEvent
from monitor.store.case_steps import (
    MAX_TEXT,
    NOOP,
    CaseState,
    check_name,
    check_text,
    open_case_in,
    require_holder,
    require_open,
)
from monitor.store.exceptions import InvalidTransition

__all__ = ["CaseAssignment"]


class CaseAssignment(CaseDesk):
    """Claim, assign, acknowledge and escalate a case."""

    def claim(
        self,
        case_id: str,
        *,
        actor: str,
        role: str,
        request_id: str | None = None,
        force: bool = False,
    ) -> CaseEvent:
        """``actor`` takes the open case. Claiming a case one holds changes nothing (the
        step that gave it to them is returned); a case someone else holds needs
        ``force=True`` (a lead taking it over), else :class:`InvalidTransition`."""

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            require_open(s, "claim")
            if s.assignee == actor:
                return NOOP
            if s.assignee is not None and not force:
                raise InvalidTransition(
                    s.case_id, f"is claimed by {s.assignee}; claim with force=True to take it over"
                )
            body = {"from": s.assignee, "to": actor, "forced": s.assignee is not None}
            s.assignee = actor
            return body

        return self._step("claim", case_id, actor, role, request_id, change)

    def assign(
        self,
        case_id: str,
        to_user: str | None,
        *,
        actor: str,
        role: str,
        request_id: str | None = None,
    ) -> CaseEvent:
        """``actor`` gives the open case to ``to_user`` (None: back to the queue), whoever
        holds it now. Assigning it to its holder changes nothing; releasing a case nobody
        holds is :class:`InvalidTransition` (there is no step to return)."""
        if to_user is not None:
            check_name(to_user, "to_user")

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            require_open(s, "assign")
            if s.assignee is None and to_user is None:
                raise InvalidTransition(s.case_id, "is not held by anyone: nothing to release")
            if s.assignee == to_user:
                return NOOP
            body = {"from": s.assignee, "to": to_user}
            s.assignee = to_user
            return body

        return self._step("assign", case_id, actor, role, request_id, change)

    def acknowledge(
        self,
        case_id: str,
        *,
        actor: str,
        role: str,
        request_id: str | None = None,
        force: bool = False,
    ) -> CaseEvent:
        """The first response: stops the SLA clock (``body.within_sla`` says whether it was
        met). Once per case; the case must be unassigned or held by ``actor`` (or
        ``force``)."""

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            require_open(s, "acknowledge")
            require_holder(s, actor, force, "acknowledge")
            if s.acknowledged_at is not None:
                raise InvalidTransition(
                    s.case_id,
                    f"was already acknowledged by {s.acknowledged_by} "
                    f"at {s.acknowledged_at.isoformat()}",
                )
            s.acknowledged_at, s.acknowledged_by = now, actor
            return {"due_at": s.due_at.isoformat(), "within_sla": now <= s.due_at}

        return self._step("ack", case_id, actor, role, request_id, change)

    def escalate(
        self,
        case_id: str,
        reason: str,
        *,
        actor: str,
        role: str,
        priority: str | None = None,
        to_queue: str | None = None,
        request_id: str | None = None,
        force: bool = False,
    ) -> CaseEvent:
        """Hand the open case up: its priority rises one step (or to ``priority``; never
        lower, P1 stays P1), its due time moves to now + that priority's SLA if that is
        earlier, its escalation level rises, it goes back to the queue unassigned and,
        with ``to_queue``, moves to that queue (refused if the account already has an
        open case there: one open case per account and queue). The case must be held by
        ``actor`` or unassigned (or ``force``)."""
        reason = check_text(reason, "reason", MAX_TEXT)
        if priority is not None and priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}; expected one of {PRIORITIES}")
        if to_queue is not None and to_queue not in CATEGORIES:
            raise ValueError(f"unknown queue {to_queue!r}; expected one of {CATEGORIES}")

        def change(conn: sa.Connection, s: CaseState, now: datetime, seq: int) -> Any:
            require_open(s, "escalate")
            require_holder(s, actor, force, "escalate")
            rank = PRIORITIES.index(s.priority)
            target = priority or PRIORITIES[max(0, rank - 1)]
            if PRIORITIES.index(target) > rank:
                raise ValueError(f"an escalation cannot lower priority {s.priority} to {target}")
            queue = to_queue or s.queue
            if queue != s.queue:
                other = open_case_in(conn, s.account_id, queue)
                if other is not None:
                    raise InvalidTransition(
                        s.case_id,
                        f"account {s.account_id} already has open case {other} in queue "
                        f"{queue}; escalate or note that case instead",
                    )
            sla = timedelta(seconds=self.policy.sla.get(target, 0.0))
            body = {
                "reason": reason,
                "from_priority": s.priority,
                "priority": target,
                "from_queue": s.queue,
                "queue": queue,
                "released": s.assignee,
            }
            s.priority, s.queue = target, queue
            s.due_at = min(s.due_at, now + sla)
            s.escalation_level += 1
            s.assignee = None
            return {**body, "due_at": s.due_at.isoformat(), "level": s.escalation_level}

        return self._step("escalate", case_id, actor, role, request_id, change)
