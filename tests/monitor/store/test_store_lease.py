"""One outbox publisher per deployment: on PostgreSQL the advisory lock admits one
holder, and the next one takes over when it lets go or its session dies."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from monitor.store import AlertStore
from monitor.store.lease import PublisherLease

pytestmark = pytest.mark.postgres


@pytest.fixture
def stores(pg_url: str):
    a, b = AlertStore(pg_url), AlertStore(pg_url)
    yield a, b
    a.close()
    b.close()


def test_one_holder_at_a_time_and_takeover_on_release(stores) -> None:
    a, b = stores
    first = PublisherLease(a.engine, name="test.lease.1", check_s=0.0)
    second = PublisherLease(b.engine, name="test.lease.1", check_s=0.0)
    assert first.hold()
    assert not second.hold()
    assert first.hold()  # still ours (re-checked)
    first.release()
    assert second.hold()
    assert not first.hold()
    second.release()


def test_a_dead_session_releases_the_lock(stores) -> None:
    a, b = stores
    first = PublisherLease(a.engine, name="test.lease.2", check_s=0.0)
    second = PublisherLease(b.engine, name="test.lease.2", check_s=0.0)
    assert first.hold()
    assert first._conn is not None
    pid = first._conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    first._conn.commit()
    with b.engine.connect() as conn:  # the holder's connection dies (crash, network)
        conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        conn.commit()
    deadline = time.monotonic() + 5.0  # the backend goes away asynchronously
    while not second.hold() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second.hold()
    assert not first.hold()  # it notices it lost the lock
    second.release()


def test_sqlite_always_publishes(tmp_path) -> None:
    store = AlertStore(f"sqlite:///{tmp_path / 'one.db'}")
    assert PublisherLease(store.engine).hold()
    store.close()
