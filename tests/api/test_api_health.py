"""/healthz and /readyz: liveness checks nothing; readiness runs the database check and
every injected check concurrently, each bounded by a timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.readiness import Check, Readiness
from monitor.config import Settings
from monitor.store import AlertStore
from tests.api.auth import ADMIN_TOKEN, bearer


async def passing() -> str | None:
    return None


async def lagging() -> str | None:
    return "consumer lag 250000 > 100000"


async def raising() -> str | None:
    raise RuntimeError("no partitions assigned\nsecond line is dropped")


async def hanging() -> str | None:
    await asyncio.sleep(30)
    return None


def get(settings: Settings, store: AlertStore, path: str, **kwargs: object) -> tuple[int, dict]:
    """``path`` as the break-glass admin (known without a database)."""
    app = create_app(settings, store, **kwargs)  # type: ignore[arg-type]
    with TestClient(app, headers=bearer(ADMIN_TOKEN)) as client:
        r = client.get(path)
    return r.status_code, r.json()


def test_healthz_is_alive(settings: Settings, sqlite_store: AlertStore) -> None:
    assert get(settings, sqlite_store, "/healthz") == (200, {"status": "alive"})


def test_readyz_ready_with_passing_injected_check(
    settings: Settings, sqlite_store: AlertStore
) -> None:
    status, body = get(settings, sqlite_store, "/readyz", checks={"broker": passing})
    assert status == 200
    assert body == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.parametrize(
    ("check", "problem"),
    [(lagging, "consumer lag 250000 > 100000"), (raising, "no partitions assigned")],
)
def test_readyz_503_names_the_failing_check(
    settings: Settings, sqlite_store: AlertStore, check: Check, problem: str
) -> None:
    status, body = get(
        settings, sqlite_store, "/readyz", checks={"broker": passing, "stream": check}
    )
    assert status == 503
    assert body == {
        "status": "not ready",
        "checks": {"database": "ok", "broker": "ok", "stream": problem},
    }


def test_readyz_times_out_a_slow_check_at_the_default_2s(
    settings: Settings, sqlite_store: AlertStore
) -> None:
    start = time.monotonic()
    status, body = get(settings, sqlite_store, "/readyz", checks={"lag": hanging})
    elapsed = time.monotonic() - start
    assert status == 503
    assert body["checks"] == {"database": "ok", "lag": "timed out"}
    assert 1.9 <= elapsed < 4


def test_readyz_runs_checks_concurrently(settings: Settings, sqlite_store: AlertStore) -> None:
    async def slow_ok() -> str | None:
        await asyncio.sleep(0.3)
        return None

    start = time.monotonic()
    status, body = get(
        settings, sqlite_store, "/readyz", checks={f"c{i}": slow_ok for i in range(5)}
    )
    assert status == 200, body
    assert time.monotonic() - start < 1.2  # 5 × 0.3 s one after another would be 1.5 s


def test_readyz_503_when_database_unreachable(settings: Settings) -> None:
    store = AlertStore("postgresql+psycopg://postgres@127.0.0.1:1/x")
    try:
        status, body = get(settings, store, "/readyz", checks={"broker": passing})
        live_status, _ = get(settings, store, "/healthz")
    finally:
        store.close()
    assert status == 503
    assert body["status"] == "not ready"
    assert body["checks"]["broker"] == "ok"
    database = body["checks"]["database"]
    assert database != "ok"
    assert "port 1" in database or "refused" in database.lower(), database
    assert live_status == 200  # liveness does not depend on the database


class HungStore(AlertStore):
    """The real store whose ping blocks, like a connect to a black-holed host."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.release = threading.Event()

    def ping(self) -> None:
        self.release.wait(10)
        super().ping()


@pytest.fixture
def hung_store(tmp_path) -> Iterator[HungStore]:
    store = HungStore(f"sqlite:///{tmp_path / 'hung.db'}")
    yield store
    store.release.set()
    store.close()


def test_readyz_does_not_wait_for_a_hung_database_ping(
    settings: Settings, hung_store: HungStore
) -> None:
    start = time.monotonic()
    status, body = get(settings, hung_store, "/readyz", check_timeout_s=0.3)
    assert time.monotonic() - start < 2
    assert (status, body) == (503, {"status": "not ready", "checks": {"database": "timed out"}})


def test_database_check_name_is_reserved(settings: Settings, sqlite_store: AlertStore) -> None:
    with pytest.raises(ValueError, match="reserved"):
        create_app(settings, sqlite_store, checks={"database": passing})


def test_readiness_rejects_non_positive_timeout() -> None:
    with pytest.raises(ValueError, match="positive"):
        Readiness({}, timeout_s=0)


async def test_readiness_reports_empty_problem_and_exception_type() -> None:
    async def empty() -> str | None:
        return ""

    async def bare() -> str | None:
        raise ConnectionError()

    ok, results = await Readiness({"empty": empty, "bare": bare}, timeout_s=1).run()
    assert not ok
    assert results == {"empty": "check empty failed", "bare": "ConnectionError"}


def test_readyz_needs_a_token_unless_probes_are_public(
    settings: Settings, sqlite_store: AlertStore
) -> None:
    with TestClient(create_app(settings, sqlite_store)) as client:
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    public = settings.model_copy(update={"public_probes": True})
    with TestClient(create_app(public, sqlite_store)) as client:
        assert client.get("/readyz").json() == {"status": "ready", "checks": {"database": "ok"}}
        assert client.get("/v1/alerts").status_code == 401  # only the probe is public
