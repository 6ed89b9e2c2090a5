"""Users, tokens and the audit log in the store, on SQLite and PostgreSQL: tokens are kept
only as SHA-256, authenticate finds active tokens of enabled users, every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.store import AlertStore, AuditContext, Principal, UnknownUser, UserExists
from monitor.store.users import api_tokens, hash_token, users

BY = AuditContext("cli:ops", "cli", "req-1")


def test_create_and_authenticate(store: AlertStore) -> None:
    user, token = store.create_user("ana", "analyst", ["payments", "topup"], by=BY)
    assert (user.name, user.role, user.queues, user.disabled) == (
        "ana",
        "analyst",
        ["payments", "topup"],
        False,
    )
    assert token.startswith("vgl_") and len(token) == 47
    principal = store.authenticate(token)
    assert principal is not None
    assert principal == Principal("ana", "analyst", ("payments", "topup"), principal.token_id)
    assert principal.token_id is not None and principal.token_id.startswith("tok_")


def test_only_the_hash_is_stored(store: AlertStore) -> None:
    _, token = store.create_user("vic", "viewer", by=BY)
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(api_tokens))]
        people = [dict(r._mapping) for r in conn.execute(sa.select(users))]
    (row,) = rows
    assert row["token_hash"] == hash_token(token) and len(row["token_hash"]) == 64
    assert token not in repr(rows) + repr(people)
    assert token not in repr(store.audit_page())


@pytest.mark.parametrize(
    "token",
    ["", "vgl_", "vgl_unknown-token-value-000000000000000000000", "Bearer x", "vgl_" + "a" * 200],
)
def test_unknown_tokens_are_none(store: AlertStore, token: str) -> None:
    store.create_user("vic", "viewer", by=BY)
    assert store.authenticate(token) is None


def test_last_used_is_written_at_most_once_a_minute(store: AlertStore) -> None:
    _, token = store.create_user("vic", "viewer", by=BY)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def last_used() -> datetime | None:
        (u,) = store.list_users()
        return u.last_used_at

    assert last_used() is None
    store.authenticate(token, now=t0)
    assert last_used() == t0
    store.authenticate(token, now=t0 + timedelta(seconds=30))
    assert last_used() == t0  # a read is not a write every time
    store.authenticate(token, now=t0 + timedelta(minutes=2))
    assert last_used() == t0 + timedelta(minutes=2)


def test_revoke_issue_disable(store: AlertStore) -> None:
    _, first = store.create_user("ana", "analyst", ["*"], by=BY)
    second = store.issue_token("ana", by=BY)
    assert store.authenticate(first) is not None and store.authenticate(second) is not None
    (listed,) = store.list_users()
    assert listed.active_tokens == 2
    assert store.revoke_tokens("ana", by=BY) == 2
    assert store.revoke_tokens("ana", by=BY) == 0
    assert store.authenticate(first) is None and store.authenticate(second) is None
    third = store.issue_token("ana", by=BY)
    assert store.authenticate(third) is not None
    store.disable_user("ana", by=BY)
    assert store.authenticate(third) is None
    with pytest.raises(ValueError, match="disabled"):
        store.issue_token("ana", by=BY)
    (listed,) = store.list_users()
    assert listed.disabled and listed.active_tokens == 0


def test_every_change_is_audited(store: AlertStore) -> None:
    store.create_user("ana", "analyst", ["ops"], by=BY)
    store.issue_token("ana", by=BY)
    store.revoke_tokens("ana", by=BY)
    store.disable_user("ana", by=BY)
    entries = store.audit_page(target="user:ana")
    assert [e.action for e in entries] == [
        "user_disable",
        "token_revoke",  # nothing left to revoke at disable: no second row
        "token_create",
        "user_create",
    ]
    assert all((e.actor, e.role, e.request_id) == ("cli:ops", "cli", "req-1") for e in entries)
    assert entries[-1].after == {"name": "ana", "role": "analyst", "queues": ["ops"]}
    assert entries[0].before == {"disabled": False} and entries[0].after == {"disabled": True}
    assert len(entries[1].after["token_ids"]) == 2


def test_names_are_unique_and_unknown_names_raise(store: AlertStore) -> None:
    store.create_user("ana", "analyst", ["ops"], by=BY)
    with pytest.raises(UserExists, match="'ana' exists already"):
        store.create_user("ana", "viewer", by=BY)
    for call in (store.issue_token, store.revoke_tokens, store.disable_user):
        with pytest.raises(UnknownUser, match="no user 'zed'"):
            call("zed", by=BY)


@pytest.mark.parametrize(
    ("name", "role", "queues", "message"),
    [
        ("Ana", "viewer", None, "invalid user name"),
        ("", "viewer", None, "invalid user name"),
        ("a" * 65, "viewer", None, "invalid user name"),
        ("admin-token", "admin", None, "reserved"),
        ("ana", "superuser", None, "unknown role"),
        ("ana", "analyst", [], "an analyst needs queues"),
        ("ana", "analyst", ["vip"], "unknown queue"),
        ("ana", "analyst", ["*", "ops"], "give it alone"),
        ("ana", "viewer", ["ops"], "queues are for analysts"),
    ],
)
def test_invalid_users_are_refused(
    store: AlertStore, name: str, role: str, queues: list[str] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.create_user(name, role, queues, by=BY)
    assert store.list_users() == []
    assert store.audit_page() == []


def test_roles_and_queues() -> None:
    admin = Principal("root", "admin", ("*",))
    analyst = Principal("ana", "analyst", ("payments",))
    everywhere = Principal("eve", "analyst", ("*",))
    viewer = Principal("vic", "viewer", ())
    assert [p.at_least("analyst") for p in (admin, analyst, viewer)] == [True, True, False]
    assert admin.works(None) and everywhere.works(None) and everywhere.works("ops")
    assert analyst.works("payments") and not analyst.works("ops") and not analyst.works(None)
    assert not viewer.works("payments")


def test_audit_page_filters_and_cursor(store: AlertStore) -> None:
    for i in range(5):
        store.audit("ana" if i % 2 else "bob", "analyst", "reveal", f"alert:{i}")
    first = store.audit_page(limit=2)
    assert [e.target for e in first] == ["alert:4", "alert:3"]
    rest = store.audit_page(before_id=first[-1].id, limit=10)
    assert [e.target for e in rest] == ["alert:2", "alert:1", "alert:0"]
    assert [e.target for e in store.audit_page(actor="ana")] == ["alert:3", "alert:1"]
    assert store.audit_page(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    with pytest.raises(ValueError, match="limit"):
        store.audit_page(limit=0)
    with pytest.raises(ValueError, match="needs an actor"):
        store.audit("", "analyst", "reveal", "alert:x")
