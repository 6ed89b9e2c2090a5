"""Fixtures for the alert store tests: each store test runs on SQLite (a file in
tmp_path) and on PostgreSQL (``pg_url`` from tests/conftest.py: a fresh schema per test).
The support-workflow tests get a ``desk`` (a Casework with the rule pack's playbooks and a
clock moved by hand) and ``case_id``, an open case (casework_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from monitor.decision import Decision, Reason
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.store import AlertStore
from monitor.store.casework import Casework
from tests.monitor.store.casework_helpers import RULES, Clock, T, alert, case_of


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'vigil.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[AlertStore]:
    s = AlertStore(store_url)
    s.create_schema()
    try:
        yield s
    finally:
        s.close()


MakeDecision = Callable[..., Decision]


def _make_decision(
    event_id: str,
    *,
    account_id: str = "acc-1",
    event_type: str = "transfer",
    event_ts: float = 1_700_000_000.0,
    severity: Any = "high",
    score: float = 0.8,
    anomaly_score: float | None = None,
    rule_ids: Sequence[str] = ("velocity",),
    reasons: list[Reason] | None = None,
    **extra: Any,
) -> Decision:
    if reasons is None:
        reasons = [Reason(code=f"rule:{r}", text=f"{r} fired", rule_id=r) for r in rule_ids]
    return Decision(
        event_id=event_id,
        account_id=account_id,
        event_type=event_type,
        event_ts=event_ts,
        severity=severity,
        score=score,
        anomaly_score=anomaly_score,
        rule_ids=list(rule_ids),
        reasons=reasons,
        **extra,
    )


@pytest.fixture(scope="session")
def make_decision() -> MakeDecision:
    """Build a Decision with sensible defaults; override any field by keyword."""
    return _make_decision


@pytest.fixture
def responder() -> PlaybookResponder:
    return PlaybookResponder(load_playbooks(RULES))


@pytest.fixture
def clock() -> Clock:
    return Clock(T + 3600)


@pytest.fixture
def desk(store: AlertStore, responder: PlaybookResponder, clock: Clock) -> Casework:
    return Casework(store, responder=responder, clock=clock)


@pytest.fixture
def case_id(store: AlertStore, responder: PlaybookResponder) -> str:
    """An open P1 account-security case on ``victim`` with two alerts and a freeze."""
    store.save_decisions([alert("e1")], responder=responder)
    store.save_decisions([alert("e2", ts=T + 60, rule="new_device")], responder=responder)
    return case_of(store, "victim")
