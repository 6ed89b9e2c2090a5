"""Building the SQLAlchemy engine for a database URL (SQLite or PostgreSQL).

No I/O happens here: SQLite's parent directory is created on first connect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import StaticPool

from monitor.store.exceptions import StoreError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_MS = 5_000
PG_CONNECT_TIMEOUT_S = 5


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _sqlite_in_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; raises :class:`StoreError` for a malformed or unsupported URL."""
    try:
        sa_url = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"invalid database URL: {exc}") from exc
    backend = sa_url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise StoreError(
            f"unsupported database {backend!r} in {sa_url.render_as_string()}; "
            f"use one of {', '.join(SUPPORTED_BACKENDS)}"
        )
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": msgspec.json.decode,
    }
    if backend == "sqlite" and _sqlite_in_memory(sa_url):
        # One shared connection, or every checkout would see a new, empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in sa_url.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    try:
        engine = sa.create_engine(sa_url, **kwargs)
    except sa.exc.ArgumentError as exc:  # e.g. unknown driver
        raise StoreError(f"cannot build engine for {sa_url.render_as_string()}: {exc}") from exc
    if backend == "sqlite":
        _install_sqlite_hooks(engine, sa_url)
    return engine


def _install_sqlite_hooks(engine: Engine, url: URL) -> None:
    database = url.database or ""
    if not _sqlite_in_memory(url) and not url.query.get("uri"):
        parent = Path(database).parent

        @sa.event.listens_for(engine, "do_connect")
        def _make_parent_dir(*_args: Any) -> None:
            parent.mkdir(parents=True, exist_ok=True)

    @sa.event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            # WAL: readers (the API) don't block the writer (the stream) and vice versa.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()
