"""Writing responses in the alerts' transaction: the outbox, account response state and
support cases. Planning itself is pure (``monitor.responders``); this module only loads
what the planner needs and stores what it decided, on the caller's connection."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa

from monitor.decision import Decision
from monitor.store.schema import account_responses, audit_log, case_alerts, cases, outbox


class Planned(Protocol):
    """What a responder returns for one alert (``monitor.responders.playbooks.Plan``)."""

    @property
    def actions(self) -> Any: ...  # list[Action]
    @property
    def state(self) -> Any: ...  # responders.actions.AccountState
    @property
    def case(self) -> Any: ...  # CaseUpdate | None


class Responder(Protocol):
    def plan(
        self, decision: Decision, state: Any, open_cases: dict[str, Any], now: float
    ) -> Planned: ...

    def empty_state(self) -> Any: ...

    def state_type(self) -> type: ...

    def case_type(self) -> type: ...

    def encode(self, action: Any) -> bytes: ...

    def expire(self, state: Any, account_id: str, now: float) -> tuple[list[Any], Any]: ...

    def restore(
        self,
        state: Any,
        account_id: str,
        features: list[str] | None,
        reason: str,
        actor: str,
        now: float,
        request_id: str | None,
    ) -> tuple[Any, Any]: ...


Insert = Callable[..., Any]


def respond(
    conn: sa.Connection,
    insert: Insert,
    responder: Responder,
    decisions: Sequence[Decision],
    now: float,
) -> int:
    """Plan and store the responses to ``decisions`` (new alerts only, in stream order);
    returns how many commands went into the outbox."""
    if not decisions:
        return 0
    accounts = sorted({d.account_id for d in decisions})
    states = _load_states(conn, responder, accounts)
    open_cases = _load_open_cases(conn, responder, accounts)
    when = datetime.fromtimestamp(now, UTC)
    rows: list[dict[str, Any]] = []
    touched: set[str] = set()
    # one statement per table for the whole batch (executemany), not one per alert:
    # building and compiling a statement per case and per account was ~0.8 ms per
    # stored alert, more than the whole pipeline spends per event (vigil bench core)
    case_rows: dict[str, dict[str, Any]] = {}  # a case changed twice: the last wins
    links: list[dict[str, Any]] = []
    for d in decisions:
        account_cases = open_cases.setdefault(d.account_id, {})
        plan = responder.plan(
            d, states.get(d.account_id) or responder.empty_state(), account_cases, now
        )
        states[d.account_id] = plan.state
        touched.add(d.account_id)
        event_time = datetime.fromtimestamp(d.event_ts, UTC)
        rows.extend(_outbox_row(responder, a, event_time, when) for a in plan.actions)
        if plan.case is not None:
            case = plan.case.case
            account_cases[case.category] = case
            case_rows[case.case_id] = _case_row(case, when)
            links.append({"case_id": case.case_id, "alert_id": plan.case.alert_id})
    if case_rows:
        conn.execute(_statements(insert).case_upsert, list(case_rows.values()))
        conn.execute(_statements(insert).link, links)
    if rows:
        conn.execute(_statements(insert).outbox, rows)
    _save_states(conn, insert, {a: states[a] for a in sorted(touched)}, when)
    return len(rows)


class _Statements:
    """The batch statements of :func:`respond` for one dialect, built once."""

    def __init__(self, insert: Insert) -> None:
        stmt = insert(cases)
        self.case_upsert = stmt.on_conflict_do_update(
            index_elements=["case_id"],
            set_={
                k: stmt.excluded[k] for k in ("status", "priority", "due_at", "updated_at", "data")
            },
        )
        self.link = insert(case_alerts).on_conflict_do_nothing()
        self.outbox = insert(outbox).on_conflict_do_nothing(index_elements=["action_id"])
        stmt = insert(account_responses)
        self.state_upsert = stmt.on_conflict_do_update(
            index_elements=["account_id"],
            set_={k: stmt.excluded[k] for k in ("state", "next_expiry", "updated_at")},
        )


@functools.cache
def _statements(insert: Insert) -> _Statements:
    return _Statements(insert)


def _load_states(conn: sa.Connection, responder: Responder, accounts: list[str]) -> dict[str, Any]:
    query = (
        sa.select(account_responses.c.account_id, account_responses.c.state)
        .where(account_responses.c.account_id.in_(accounts))
        .with_for_update()  # against a concurrent expiry or restore of the same account
    )
    kind = responder.state_type()
    return {a: msgspec.convert(s, kind) for a, s in conn.execute(query)}


def _load_open_cases(
    conn: sa.Connection, responder: Responder, accounts: list[str]
) -> dict[str, dict[str, Any]]:
    query = sa.select(cases.c.account_id, cases.c.category, cases.c.data).where(
        cases.c.account_id.in_(accounts), cases.c.status == "open"
    )
    kind = responder.case_type()
    out: dict[str, dict[str, Any]] = {}
    for account, category, data in conn.execute(query):
        out.setdefault(account, {})[category] = msgspec.convert(data, kind)
    return out


def _case_row(case: Any, when: datetime) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "account_id": case.account_id,
        "category": case.category,
        "status": case.status,
        "priority": case.priority,
        "due_at": datetime.fromtimestamp(case.due_at, UTC),
        "opened_at": datetime.fromtimestamp(case.opened_at, UTC),
        "updated_at": when,
        "data": msgspec.to_builtins(case),
    }


def _save_states(
    conn: sa.Connection, insert: Insert, states: dict[str, Any], when: datetime
) -> None:
    if not states:
        return
    rows = []
    for account, state in states.items():
        expiries = [r.expires_at for r in state.restrictions.values()]
        rows.append(
            {
                "account_id": account,
                "state": msgspec.to_builtins(state),
                "updated_at": when,
                "next_expiry": datetime.fromtimestamp(min(expiries), UTC) if expiries else None,
            }
        )
    conn.execute(_statements(insert).state_upsert, rows)


def _save_state(
    conn: sa.Connection, insert: Insert, account: str, state: Any, when: datetime
) -> None:
    _save_states(conn, insert, {account: state}, when)


def expire_due(
    conn: sa.Connection, insert: Insert, responder: Responder, now: float, limit: int = 500
) -> int:
    """Lift restrictions whose expiry has come: restore commands into the outbox and the
    accounts' new state, in the caller's transaction. Returns the commands written."""
    when = datetime.fromtimestamp(now, UTC)
    due = [
        a
        for (a,) in conn.execute(
            sa.select(account_responses.c.account_id)
            .where(account_responses.c.next_expiry <= when)
            .limit(limit)
        )
    ]
    if not due:
        return 0
    states = _load_states(conn, responder, due)
    rows: list[dict[str, Any]] = []
    after: dict[str, Any] = {}
    for account in due:
        actions, after[account] = responder.expire(states[account], account, now)
        rows.extend(_outbox_row(responder, a, None, when) for a in actions)
    _save_states(conn, insert, after, when)
    if rows:
        conn.execute(_statements(insert).outbox, rows)
    return len(rows)


def manual_restore(
    conn: sa.Connection,
    insert: Insert,
    responder: Responder,
    account: str,
    features: list[str] | None,
    reason: str,
    actor: str,
    role: str,
    now: float,
    request_id: str | None,
) -> Any:
    """Support lifts restrictions: the restore command, the new state and the audit row,
    in the caller's transaction. Returns the command."""
    when = datetime.fromtimestamp(now, UTC)
    before = _load_states(conn, responder, [account]).get(account) or responder.empty_state()
    action, after = responder.restore(before, account, features, reason, actor, now, request_id)
    conn.execute(
        insert(outbox).on_conflict_do_nothing(index_elements=["action_id"]),
        [_outbox_row(responder, action, None, when)],
    )
    _save_state(conn, insert, account, after, when)
    conn.execute(
        sa.insert(audit_log),
        {
            "at": when,
            "actor": actor,
            "role": role,
            "action": "restore_payment_features",
            "target": f"account:{account}",
            "before": msgspec.to_builtins(before),
            "after": msgspec.to_builtins(after),
            "request_id": request_id,
        },
    )
    return action


class PasswordResetter(Responder, Protocol):
    """A responder that can also plan a support agent's password reset
    (``monitor.responders.responder.PlaybookResponder``)."""

    def password_reset(
        self,
        state: Any,
        account_id: str,
        reason: str,
        actor: str,
        now: float,
        request_id: str | None,
        alert_id: str | None,
    ) -> tuple[Any, Any]: ...


def manual_password_reset(
    conn: sa.Connection,
    insert: Insert,
    responder: PasswordResetter,
    account: str,
    reason: str,
    actor: str,
    role: str,
    now: float,
    request_id: str | None,
    alert_id: str | None = None,
) -> Any:
    """Support forces a password reset: the command, the new state (the reset marked
    recent) and the audit row, in the caller's transaction. Returns the command; a retried
    request (same ``request_id``, so the same action id) writes nothing again."""
    when = datetime.fromtimestamp(now, UTC)
    before = _load_states(conn, responder, [account]).get(account) or responder.empty_state()
    action, after = responder.password_reset(
        before, account, reason, actor, now, request_id, alert_id
    )
    inserted = conn.execute(
        insert(outbox)
        .on_conflict_do_nothing(index_elements=["action_id"])
        .returning(outbox.c.action_id),
        _outbox_row(responder, action, None, when),
    ).first()
    if inserted is None:
        return action
    _save_state(conn, insert, account, after, when)
    conn.execute(
        sa.insert(audit_log),
        {
            "at": when,
            "actor": actor,
            "role": role,
            "action": "force_password_reset",
            "target": f"account:{account}",
            "before": msgspec.to_builtins(before),
            "after": msgspec.to_builtins(after),
            "request_id": request_id,
        },
    )
    return action


def _outbox_row(
    responder: Responder, action: Any, event_time: datetime | None, when: datetime
) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "account_id": action.account_id,
        "type": action.type,
        "body": responder.encode(action),
        "event_time": event_time,
        "created_at": when,
    }
