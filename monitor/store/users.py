"""People who use the API and their bearer tokens (docs/security.md).

A user has one role — ``viewer`` (reads, personal data masked), ``analyst`` (works cases
in their queues, may reveal personal data), ``admin`` (also rules, users, bulk actions)
— and any number of tokens. A token is ``vgl_`` + 32 random bytes (URL-safe base64),
shown once when it is made; the store keeps only its SHA-256. Every change is audited.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> by = AuditContext("cli:root", "cli")
>>> user, token = store.create_user("ana", "analyst", ["payments"], by=by)
>>> token.startswith("vgl_"), len(token)
(True, 47)
>>> who = store.authenticate(token)
>>> who.name, who.role, who.queues, who.works("payments"), who.works("topup")
('ana', 'analyst', ('payments',), True, False)
>>> store.authenticate("vgl_not-a-token") is None
True
>>> store.revoke_tokens("ana", by=by)
1
>>> store.authenticate(token) is None
True
>>> [e.action for e in store.audit_page(target="user:ana")]
['token_revoke', 'user_create']
>>> store.close()
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.responders.cases import CATEGORIES
from monitor.store.audit import AuditContext, audit_row
from monitor.store.errors import translate
from monitor.store.exceptions import UnknownUser, UserExists
from monitor.store.schema import api_tokens, audit_log, users

__all__ = [
    "ALL_QUEUES",
    "BREAK_GLASS_NAME",
    "QUEUES",
    "ROLES",
    "TOKEN_PREFIX",
    "Principal",
    "UserQueries",
    "UserRecord",
    "api_tokens",
    "hash_token",
    "new_token",
    "users",
]

ROLES = ("viewer", "analyst", "admin")  # each may do what the ones before it may
QUEUES: tuple[str, ...] = CATEGORIES  # the support queues (case categories)
ALL_QUEUES = "*"
TOKEN_PREFIX = "vgl_"
BREAK_GLASS_NAME = "admin-token"  # the principal of VIGIL_ADMIN_TOKEN; no user may take it
_MAX_TOKEN_CHARS = 128
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# last_used_at is written at most this often per token: a read must not be a write.
_TOUCH_EVERY = timedelta(minutes=1)


def new_token() -> str:
    """A fresh token: ``vgl_`` + 32 random bytes, URL-safe base64 (47 characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the store keeps of a token.

    >>> hash_token("vgl_x")[:16]
    '9983a725b5c97d5d'
    """
    return hashlib.sha256(token.encode()).hexdigest()


class Principal(msgspec.Struct, frozen=True):
    """Who a request is from: a user's name, role and queues (``token_id`` is ``None``
    for the break-glass ``VIGIL_ADMIN_TOKEN``).

    >>> viewer = Principal("vic", "viewer", ())
    >>> viewer.at_least("viewer"), viewer.at_least("analyst"), viewer.works("payments")
    (True, False, False)
    >>> Principal("root", "admin", ("*",)).works(None)
    True
    """

    name: str
    role: str
    queues: tuple[str, ...]
    token_id: str | None = None

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def works(self, queue: str | None) -> bool:
        """May this principal work (and reveal) what is in ``queue``? Admins and
        all-queue analysts may work everything, including what has no queue."""
        if not self.at_least("analyst"):
            return False
        return ALL_QUEUES in self.queues or self.role == "admin" or queue in self.queues


class UserRecord(msgspec.Struct, frozen=True):
    """A user as listed: never a token, only how many are active and when one was last used."""

    user_id: str
    name: str
    role: str
    queues: list[str]
    created_at: datetime
    disabled: bool
    active_tokens: int
    last_used_at: datetime | None


def check_user(name: str, role: str, queues: Iterable[str] | None) -> list[str]:
    """Validate a new user; returns the queues to store. Raises ``ValueError``.

    >>> check_user("ana", "analyst", ["payments", "topup"])
    ['payments', 'topup']
    >>> check_user("vic", "viewer", None), check_user("root", "admin", None)
    ([], ['*'])
    >>> check_user("bob", "analyst", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: an analyst needs queues: some of account_security, ..., or * for all
    """
    if not _NAME.match(name):
        raise ValueError(
            f"invalid user name {name!r}: 1-64 of a-z 0-9 . _ -, starting with a letter or digit"
        )
    if name == BREAK_GLASS_NAME:
        raise ValueError(f"{BREAK_GLASS_NAME!r} is reserved for VIGIL_ADMIN_TOKEN")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    chosen = list(dict.fromkeys(q.strip() for q in queues or () if q.strip()))
    if role != "analyst":
        if chosen and chosen != [ALL_QUEUES]:
            raise ValueError(f"queues are for analysts; a {role} has none to choose")
        return [ALL_QUEUES] if role == "admin" else []
    if not chosen:
        raise ValueError(
            f"an analyst needs queues: some of {', '.join(QUEUES)}, or {ALL_QUEUES} for all"
        )
    if ALL_QUEUES in chosen:
        if len(chosen) > 1:
            raise ValueError(f"{ALL_QUEUES} means every queue: give it alone")
        return chosen
    unknown = [q for q in chosen if q not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    return chosen


class UserQueries:
    """Needs ``_engine`` (an SQLAlchemy engine). A mixin of :class:`AlertStore`."""

    _engine: sa.Engine
    _insert: Callable[..., Any]

    def create_user(
        self, name: str, role: str, queues: Iterable[str] | None = None, *, by: AuditContext
    ) -> tuple[UserRecord, str]:
        """Create a user with one token; returns the user and the token — the only time
        it is ever seen. Raises ``ValueError`` (``UserExists`` for a taken name)."""
        stored_queues = check_user(name, role, queues)
        now = datetime.now(UTC)
        user_id = "usr_" + secrets.token_hex(8)
        user: dict[str, Any] = {
            "user_id": user_id,
            "name": name,
            "role": role,
            "queues": stored_queues,
            "created_at": now,
            "disabled": False,
        }
        token = new_token()
        with translate("create user"), self._engine.begin() as conn:
            if conn.execute(sa.select(users.c.user_id).where(users.c.name == name)).first():
                raise UserExists(f"user {name!r} exists already")
            conn.execute(sa.insert(users), user)
            conn.execute(sa.insert(api_tokens), _token_row(user_id, token, now))
            public = {k: user[k] for k in ("name", "role", "queues")}
            conn.execute(sa.insert(audit_log), _audit(by, "user_create", name, after=public))
        return _user(user, active_tokens=1, last_used_at=None), token

    def issue_token(self, name: str, *, by: AuditContext) -> str:
        """Another token for an enabled user (e.g. after a revoke); shown once."""
        token = new_token()
        now = datetime.now(UTC)
        with translate("issue token"), self._engine.begin() as conn:
            row = self._user_row(conn, name)
            if row.disabled:
                raise ValueError(f"user {name!r} is disabled: no new tokens")
            values = _token_row(row.user_id, token, now)
            conn.execute(sa.insert(api_tokens), values)
            after = {"token_id": values["token_id"]}
            conn.execute(sa.insert(audit_log), _audit(by, "token_create", name, after=after))
        return token

    def revoke_tokens(self, name: str, *, by: AuditContext) -> int:
        """Revoke every active token of ``name``; returns how many."""
        with translate("revoke tokens"), self._engine.begin() as conn:
            return self._revoke(conn, self._user_row(conn, name).user_id, name, by)

    def disable_user(self, name: str, *, by: AuditContext) -> None:
        """Disable a user for good and revoke their tokens (the name stays taken)."""
        with translate("disable user"), self._engine.begin() as conn:
            row = self._user_row(conn, name)
            conn.execute(
                sa.update(users).where(users.c.user_id == row.user_id).values(disabled=True)
            )
            self._revoke(conn, row.user_id, name, by)
            conn.execute(
                sa.insert(audit_log),
                _audit(
                    by,
                    "user_disable",
                    name,
                    before={"disabled": row.disabled},
                    after={"disabled": True},
                ),
            )

    def list_users(self) -> list[UserRecord]:
        active = api_tokens.c.revoked_at.is_(None)
        use = (
            sa.select(
                api_tokens.c.user_id,
                sa.func.count(api_tokens.c.token_id).filter(active).label("active_tokens"),
                sa.func.max(api_tokens.c.last_used_at).label("last_used_at"),
            )
            .group_by(api_tokens.c.user_id)
            .subquery()
        )
        query = (
            sa.select(users, use.c.active_tokens, use.c.last_used_at)
            .select_from(users.outerjoin(use, use.c.user_id == users.c.user_id))
            .order_by(users.c.name)
        )
        with translate("list users"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _user(row._mapping, active_tokens=row.active_tokens or 0, last_used_at=row.last_used_at)
            for row in rows
        ]

    def authenticate(self, token: str, now: datetime | None = None) -> Principal | None:
        """The principal of an active token of an enabled user, or ``None``.

        The lookup is by the token's SHA-256, so no secret is compared in Python and a
        timing difference could only tell how much of a digest matched, which does not
        help to find a token."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_CHARS:
            return None  # not ours: no database round trip
        now = now or datetime.now(UTC)
        query = (
            sa.select(
                api_tokens.c.token_id,
                api_tokens.c.last_used_at,
                users.c.name,
                users.c.role,
                users.c.queues,
            )
            .select_from(api_tokens.join(users))
            .where(
                api_tokens.c.token_hash == hash_token(token),
                api_tokens.c.revoked_at.is_(None),
                users.c.disabled.is_(False),
            )
        )
        with translate("authenticate"), self._engine.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
                conn.execute(
                    sa.update(api_tokens)
                    .where(api_tokens.c.token_id == row.token_id)
                    .values(last_used_at=now)
                )
        return Principal(row.name, row.role, tuple(row.queues), token_id=row.token_id)

    def principal_for_token_id(self, token_id: str, name: str) -> Principal | None:
        """The principal behind a console session: the user ``name`` while the token
        ``token_id`` they logged in with is active and they are enabled, else ``None``
        (a revoke or disable ends their sessions too). Nothing is written."""
        query = (
            sa.select(users.c.name, users.c.role, users.c.queues)
            .select_from(api_tokens.join(users))
            .where(
                api_tokens.c.token_id == token_id,
                api_tokens.c.revoked_at.is_(None),
                users.c.disabled.is_(False),
                users.c.name == name,
            )
        )
        with translate("session lookup"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Principal(row.name, row.role, tuple(row.queues), token_id=token_id)

    @staticmethod
    def _user_row(conn: sa.Connection, name: str) -> sa.Row[Any]:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        if row is None:
            raise UnknownUser(f"no user {name!r} (vigil users list)")
        return row

    @staticmethod
    def _revoke(conn: sa.Connection, user_id: str, name: str, by: AuditContext) -> int:
        active = (api_tokens.c.user_id == user_id) & api_tokens.c.revoked_at.is_(None)
        ids = list(conn.execute(sa.select(api_tokens.c.token_id).where(active)).scalars())
        if ids:
            now = datetime.now(UTC)
            conn.execute(sa.update(api_tokens).where(active).values(revoked_at=now))
            conn.execute(
                sa.insert(audit_log), _audit(by, "token_revoke", name, after={"token_ids": ids})
            )
        return len(ids)


def _token_row(user_id: str, token: str, now: datetime) -> dict[str, Any]:
    return {
        "token_id": "tok_" + secrets.token_hex(8),
        "user_id": user_id,
        "token_hash": hash_token(token),
        "created_at": now,
        "last_used_at": None,
        "revoked_at": None,
    }


def _audit(by: AuditContext, action: str, name: str, **changes: Any) -> dict[str, Any]:
    return audit_row(by.actor, by.role, action, f"user:{name}", request_id=by.request_id, **changes)


def _user(row: Any, *, active_tokens: int, last_used_at: datetime | None) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        name=row["name"],
        role=row["role"],
        queues=list(row["queues"]),
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
        active_tokens=int(active_tokens),
        last_used_at=last_used_at,
    )
