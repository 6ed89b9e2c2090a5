"""Fixtures for the API tests: the real store on SQLite (tmp_path) and on PostgreSQL
(a throwaway schema per test), seeded with decisions, and a client around create_app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import Decision, Reason, Severity, decide
from monitor.store import AlertStore

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()


def _rule(rule_id: str, **values: object) -> Reason:
    return Reason(code=f"rule:{rule_id}", text=f"{rule_id} fired", rule_id=rule_id, values=values)


def seed_decisions() -> list[Decision]:
    """Six alerts over three accounts and an hour, plus one event that is not an alert."""
    brute = _rule("brute_force", failed_logins_10m=6)
    drain = _rule("drain", amount=950.0, balance_share=0.97)
    new_dev = _rule("new_device", device="d-9")
    rows: list[tuple[str, str, str, float, list[tuple[Severity, float, Reason]]]] = [
        ("e1", "acc-1", "login", 0, [("medium", 0.6, brute)]),
        ("e2", "acc-1", "transfer", 600, [("high", 0.8, drain), ("low", 0.3, new_dev)]),
        ("e3", "acc-2", "login", 1200, [("low", 0.3, new_dev)]),
        ("e4", "acc-2", "transfer", 1800, [("critical", 0.95, drain)]),
        ("e5", "acc-3", "login", 2400, [("medium", 0.55, brute)]),
        ("e6", "acc-3", "transfer", 3000, [("high", 0.85, drain)]),
        ("e7", "acc-3", "login", 3300, []),  # severity none: not an alert
    ]
    return [
        decide(
            event_id=event_id,
            account_id=account,
            event_type=event_type,
            event_ts=T0 + dt,
            rule_hits=rule_hits,
            anomaly=None,
        )
        for event_id, account, event_type, dt, rule_hits in rows
    ]


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[AlertStore]:
    store = AlertStore(f"sqlite:///{tmp_path / 'vigil.db'}")
    store.create_schema()
    yield store
    store.close()


def _pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at 127.0.0.1:5432 unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def pg_store() -> Iterator[AlertStore]:
    schema = f"api_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        store = AlertStore(f"{PG_URL}?options=-csearch_path%3D{schema}")
        try:
            store.create_schema()
            yield store
        finally:
            store.close()
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> AlertStore:
    """The real store on each backend."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)


@pytest.fixture
def seeded_store(store: AlertStore) -> AlertStore:
    decisions = seed_decisions()
    store.save_decisions(decisions, positions=[(i % 2, 100 + i) for i in range(len(decisions))])
    return store


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite:///unused.db")


@pytest.fixture
def client(settings: Settings, seeded_store: AlertStore) -> Iterator[TestClient]:
    with TestClient(create_app(settings, seeded_store)) as c:
        yield c


@pytest.fixture
def sqlite_client(settings: Settings, sqlite_store: AlertStore) -> Iterator[TestClient]:
    """SQLite only: for request validation, which never reaches the database."""
    decisions = seed_decisions()
    sqlite_store.save_decisions(decisions)
    with TestClient(create_app(settings, sqlite_store)) as c:
        yield c
