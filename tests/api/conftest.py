"""Fixtures for the API tests: the real store on SQLite (tmp_path) and on PostgreSQL
(a throwaway schema per test), seeded with decisions, a user per role with their token,
and a client around create_app that calls as the viewer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import Decision, Reason, Severity, decide
from monitor.responders.responder import PlaybookResponder
from monitor.store import AlertStore
from tests.api import casefiles
from tests.api.auth import ADMIN_TOKEN, bearer, create_users

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


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[AlertStore]:
    store = AlertStore(pg_url)
    store.create_schema()
    yield store
    store.close()


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
    return Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)


@pytest.fixture
def tokens(seeded_store: AlertStore) -> dict[str, str]:
    """Tokens by role, of users in the store behind ``client``."""
    return create_users(seeded_store)


@pytest.fixture
def client(
    settings: Settings, seeded_store: AlertStore, tokens: dict[str, str]
) -> Iterator[TestClient]:
    """The seeded store's API, called as the viewer (pass other headers to be someone else)."""
    app = create_app(settings, seeded_store)
    with TestClient(app, headers=bearer(tokens["viewer"])) as c:
        yield c


@pytest.fixture
def sqlite_client(settings: Settings, sqlite_store: AlertStore) -> Iterator[TestClient]:
    """SQLite only, as the viewer: for request validation, which never reaches the database."""
    decisions = seed_decisions()
    sqlite_store.save_decisions(decisions)
    viewer = create_users(sqlite_store)["viewer"]
    with TestClient(create_app(settings, sqlite_store), headers=bearer(viewer)) as c:
        yield c


# --- support cases (tests/api/casefiles.py) -----------------------------------------------


@pytest.fixture
def planner() -> PlaybookResponder:
    """The real playbooks' responder (cases, restrictions, restores)."""
    return casefiles.responder()


@pytest.fixture
def case_ids(store: AlertStore, planner: PlaybookResponder) -> dict[str, str]:
    """The three seeded cases (casefiles.py), by account, on each backend."""
    return casefiles.seed_cases(store, planner)


@pytest.fixture
def desk_tokens(store: AlertStore, case_ids: dict[str, str]) -> dict[str, str]:
    """Tokens of the viewer, the all-queue analyst, the admin and ``pat`` (payments only)."""
    return {**create_users(store), "pat": casefiles.create_payments_analyst(store)}


@pytest.fixture
def desk(
    settings: Settings, store: AlertStore, planner: PlaybookResponder, desk_tokens: dict[str, str]
) -> Iterator[TestClient]:
    """The API over the seeded cases, with playbooks; no default caller."""
    with TestClient(create_app(settings, store, responder=planner)) as c:
        yield c
