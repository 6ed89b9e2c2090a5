"""The support workflow on the store: case lists, case detail, an account's risk view, and
every step an agent takes on a case — claim, assign, acknowledge, verdict, escalate, note,
customer contact, restore, password reset.

Each step is one transaction that locks the case, appends a row to the case's history
(``case_events``, append-only), updates its workflow state (``case_work``/``cases``),
writes an ``audit_log`` row (actor, role, before/after, request id) and — for a verdict —
one ``wallet.verdicts`` message per alert into the outbox, which the dispatcher publishes
exactly once so the supervised model learns from it. A step the case's state does not
allow raises :class:`~monitor.store.exceptions.InvalidTransition`; an unknown case
:class:`~monitor.store.exceptions.CaseNotFound`; a bad argument ``ValueError``.

Who may do what (roles, queues) is the API's decision: the store records ``actor`` and
``role`` as given. A ``request_id`` makes a step idempotent: retrying it returns the step
already recorded instead of doing it twice.

>>> from monitor.decision import Reason, decide
>>> from monitor.events import decode_verdict
>>> from monitor.responders.responder import PlaybookResponder, load_playbooks
>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> responder = PlaybookResponder(load_playbooks("rules"))
>>> hit = Reason(code="rule:takeover_drain", text="drain after a password change",
...              rule_id="takeover_drain")
>>> d = decide(event_id="e1", account_id="a1", event_type="payment", event_ts=1.8e9,
...            rule_hits=[("critical", 0.95, hit)], anomaly=None,
...            actions=["disable_payment_features", "alert_support"], queue="account_security")
>>> store.save_decisions([d], responder=responder)
1
>>> desk = Casework(store, responder=responder, clock=lambda: 1.8e9 + 60)
>>> (case,), next_page = desk.list_cases(queue=["account_security"], status="open")
>>> case.priority, case.severity, case.assignee, next_page
('P1', 'critical', None, None)
>>> desk.claim(case.case_id, actor="ana", role="analyst").body
{'from': None, 'to': 'ana', 'forced': False}
>>> v = desk.give_verdict(case.case_id, "fraud", "customer denies the transfer",
...                       actor="ana", role="analyst")
>>> v.kind, v.body["verdict"], v.body["published"]
('verdict', 'fraud', 1)
>>> desk.get_case(case.case_id).status
'closed'
>>> message = store.pending_actions()[-1]  # the dispatcher sends it to wallet.verdicts
>>> message.topic, decode_verdict(message.body).verdict
('verdicts', 'fraud')
>>> desk.claim(case.case_id, actor="bo", role="analyst")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
monitor.store.exceptions.InvalidTransition: case case_...: is closed (verdict fraud by ana)...
>>> [e.kind for e in desk.case_detail(case.case_id).events]
['claim', 'verdict']
>>> store.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor.responders.cases import CATEGORIES, DEFAULT_POLICY, PRIORITIES, CasePolicy
from monitor.store import case_queries as q
from monitor.store.case_records import (
    CONTACT_CHANNELS,
    VERDICTS,
    AccountView,
    ActionRecord,
    CaseDetail,
    CaseEvent,
    CaseSummary,
    ScorePoint,
)
from monitor.store.case_steps import (
    MAX_TEXT,
    MAX_VERDICT_NOTE,
    NOOP,
    CaseState,
    Change,
    action_record,
    append_event,
    audit_step,
    check_name,
    check_text,
    last_event,
    lock_account,
    lock_case,
    next_seq,
    open_case_in,
    replayed,
    require_holder,
    require_open,
    save_state,
    verdict_row,
)
from monitor.store.errors import translate
from monitor.store.exceptions import CaseNotFound, InvalidTransition
from monitor.store.records import AlertRecord
from monitor.store.repository import _DIALECT_INSERT, AlertStore
from monitor.store.responses import PasswordResetter, manual_password_reset, manual_restore
from monitor.store.schema import outbox

__all__ = ["Casework"]


class Casework:
    """The support workflow over an :class:`~monitor.store.AlertStore`'s database.

    A separate object rather than another ``AlertStore`` mixin: it has dependencies the
    alert writer does not (the ``responder`` that plans restores and password resets, the
    case ``policy`` whose SLAs an escalation uses, a ``clock`` tests can set), and the
    API builds it once beside the store. ``responder`` is only needed for
    :meth:`restore`, :meth:`force_password_reset` and ``give_verdict(restore=True)``;
    ``policy`` should be the playbooks' (``responder.playbooks.cases``).
    """

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

    # --- reading ------------------------------------------------------------------------

    def list_cases(
        self,
        *,
        queue: str | Sequence[str] | None = None,
        status: str | None = None,
        min_priority: str | None = None,
        min_severity: str | None = None,
        rule_id: str | None = None,
        account_id: str | None = None,
        assignee: str | None = None,
        unassigned: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[CaseSummary], str | None]:
        """One page of cases, most urgent first — priority (P1 first), then SLA due time,
        then case id — and the cursor of the next page (None on the last).

        Filters: ``queue`` (one or several), ``status`` (``open`` | ``closed``),
        ``min_priority`` (``P2``: P1 and P2), ``min_severity`` (of the case's most severe
        alert), ``rule_id`` (a rule that raised one of its alerts), ``account_id``,
        ``assignee`` or ``unassigned``, ``since`` (inclusive) / ``until`` (exclusive) on
        the time the case opened. ``limit`` is clamped to [1, 200]. ``cursor`` is opaque;
        a page starts strictly after the last case of the previous one, so cases opened
        meanwhile never shift pages. Raises ``ValueError`` for an unknown queue, status,
        priority or severity, :class:`~monitor.store.exceptions.InvalidCursor` for a
        cursor not made by this list.
        """
        with translate("list cases"), self._engine.connect() as conn:
            return q.list_cases(
                conn,
                queue=queue,
                status=status,
                min_priority=min_priority,
                min_severity=min_severity,
                rule_id=rule_id,
                account_id=account_id,
                assignee=assignee,
                unassigned=unassigned,
                since=since,
                until=until,
                cursor=cursor,
                limit=limit,
            )

    def get_case(self, case_id: str) -> CaseSummary:
        """The case; raises :class:`~monitor.store.exceptions.CaseNotFound`."""
        with translate("get case"), self._engine.connect() as conn:
            case = q.get_case(conn, case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def case_events(self, case_id: str) -> list[CaseEvent]:
        """The case's history, oldest first (raises ``CaseNotFound``)."""
        with translate("case events"), self._engine.connect() as conn:
            if q.get_case(conn, case_id) is None:
                raise CaseNotFound(case_id)
            return q.case_events_of(conn, case_id)

    def case_detail(
        self,
        case_id: str,
        *,
        lookback: timedelta = timedelta(days=30),
        timeline_limit: int = 200,
    ) -> CaseDetail:
        """Everything about one case (see :class:`~monitor.store.case_records.CaseDetail`).

        The timeline: Vigil stores decisions, not raw events — an event that raised no
        alert is not kept — so an account's history is what was stored about it: its
        alerts (every one ``unusual``, with reasons and the features the model saw), the
        commands issued and the steps people took on its cases. It starts ``lookback``
        before the earlier of the case's opening and its first alert's event time, and
        keeps the newest ``timeline_limit`` entries. Alerts sit at their event time,
        commands and steps at the wall-clock time they were written.
        """
        with translate("case detail"), self._engine.connect() as conn:
            case = q.get_case(conn, case_id)
            if case is None:
                raise CaseNotFound(case_id)
            account = case.account_id
            alerts = q.case_alerts_of(conn, case_id)
            start = min([case.opened_at, *(a.event_time for a in alerts)]) - lookback
            history = q.account_alerts(conn, account, start, timeline_limit)
            actions = q.account_actions(conn, account, None, timeline_limit)
            steps = q.account_case_events(conn, account, since=start, limit=timeline_limit)
            events = q.case_events_of(conn, case_id)
            restrictions, recent = q.restrictions_of(conn, account)
            verdicts = q.account_case_events(conn, account, kinds=["verdict"], limit=50)
        recent_actions = [a for a in actions if a.created_at >= start]
        return CaseDetail(
            case=case,
            alerts=alerts,
            timeline=q.timeline(history, recent_actions, steps, timeline_limit),
            restrictions=restrictions,
            recent_responses=recent,
            actions=actions,
            events=events,
            notes=[e for e in events if e.kind == "note"],
            verdicts=verdicts,
        )

    def account_view(self, account_id: str, *, limit: int = 100) -> AccountView:
        """An account's risk: its alert scores over time (up to 500, oldest first), its
        newest ``limit`` alerts, cases (open and closed), commands and verdicts, and the
        restrictions in force. ``known`` is False if nothing is stored about it."""
        with translate("account view"), self._engine.connect() as conn:
            history = q.account_alerts(conn, account_id, None, max(limit, 500))
            cases_ = q.account_cases(conn, account_id, limit)
            restrictions, recent = q.restrictions_of(conn, account_id)
            actions = q.account_actions(conn, account_id, None, limit)
            verdicts = q.account_case_events(conn, account_id, kinds=["verdict"], limit=limit)
        series = [
            ScorePoint(
                at=a.event_time,
                alert_id=a.alert_id,
                score=a.score,
                anomaly_score=a.anomaly_score,
                severity=a.severity,
            )
            for a in reversed(history[:500])
        ]
        return AccountView(
            account_id=account_id,
            known=bool(history or cases_ or restrictions or recent or actions),
            score_series=series,
            alerts=history[:limit],
            cases=cases_,
            restrictions=restrictions,
            recent_responses=recent,
            actions=actions,
            verdicts=verdicts,
        )

    def list_alerts_page(
        self,
        *,
        account_id: str | None = None,
        severity: str | None = None,
        min_severity: str | None = None,
        rule_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
        queue: str | None = None,
    ) -> tuple[list[AlertRecord], str | None]:
        """Alerts as :meth:`AlertStore.list_alerts` filters them (newest event time first,
        then alert id), with cursor pagination instead of offsets: ``limit`` clamped to
        [1, 200], the next page's cursor (None on the last), no total count."""
        with translate("list alerts"), self._engine.connect() as conn:
            return q.alerts_page(
                conn,
                queue=queue,
                account_id=account_id,
                severity=severity,
                min_severity=min_severity,
                rule_id=rule_id,
                since=since,
                until=until,
                cursor=cursor,
                limit=limit,
            )

    # --- the workflow -------------------------------------------------------------------

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
            if responder is not None and q.restrictions_of(conn, s.account_id)[0]:
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

    # --- machinery ----------------------------------------------------------------------

    def _need_responder(self, what: str) -> PasswordResetter:
        if self.responder is None:
            raise ValueError(f"this Casework has no responder: cannot {what}")
        return self.responder

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
