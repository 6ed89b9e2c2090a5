"""Which process of a deployment publishes the outbox.

Every replica writes commands to the outbox; one must publish them, or each command
goes out once per replica (receivers would dedupe on ``action_id``, but the promise is
one delivery, and an account's commands must keep their order). On PostgreSQL the
publisher is whoever holds a session advisory lock, on a connection kept for it: if that
process dies or loses its connection, the lock is released and another replica takes
over within its next retry. A SQLite file has one writer process: it always publishes.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> lease = PublisherLease(store.engine)
>>> lease.hold()
True
>>> lease.release()
"""

from __future__ import annotations

import logging
import time
import zlib

import sqlalchemy as sa

log = logging.getLogger("vigil.lease")


class PublisherLease:
    """``hold()`` says whether this process is the publisher now (taking the lock when
    free). The lock is re-checked at most every ``check_s`` seconds."""

    def __init__(self, engine: sa.Engine, name: str = "vigil.outbox", check_s: float = 1.0) -> None:
        self.engine = engine
        self.key = zlib.crc32(name.encode())  # advisory locks take a bigint
        self.check_s = check_s
        self._conn: sa.Connection | None = None
        self._checked = 0.0
        self.shared = engine.dialect.name == "postgresql"

    def hold(self) -> bool:
        if not self.shared:
            return True
        now = time.monotonic()
        if self._conn is not None and now - self._checked < self.check_s:
            return True
        self._checked = now
        try:
            if self._conn is None:
                conn = self.engine.connect()
                got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
                if not got.scalar():
                    conn.close()
                    return False
                conn.commit()  # the lock is the session's, not the transaction's
                self._conn = conn
                log.info("this process publishes the outbox now")
            else:
                self._conn.execute(sa.text("SELECT 1"))
                self._conn.commit()
            return True
        except sa.exc.SQLAlchemyError as exc:
            log.warning("outbox publisher lock lost: %s", exc)
            self.release()
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.commit()
        except sa.exc.SQLAlchemyError:
            pass  # a dead session released it already
        finally:
            conn.invalidate()  # never back to the pool holding a session lock
            conn.close()
