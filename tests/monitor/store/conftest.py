"""Fixtures for the alert store tests: each store test runs on SQLite (a file in
tmp_path) and on PostgreSQL (a fresh schema per test on the local server).

PostgreSQL tests are marked ``postgres``. When the server is unreachable they are
skipped locally but fail when ``CI`` is set, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.decision import Decision, Reason
from monitor.store import AlertStore

PG_URL = os.environ.get("VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@cache
def _pg_unreachable_reason() -> str | None:
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc.orig or exc}"
    finally:
        engine.dispose()
    return None


def _require_pg() -> None:
    reason = _pg_unreachable_reason()
    if reason is None:
        return
    if "CI" in os.environ:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of an empty, private schema on the test PostgreSQL server."""
    _require_pg()
    schema = f"vigil_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
    )


@pytest.fixture(scope="session")
def make_decision() -> MakeDecision:
    """Build a Decision with sensible defaults; override any field by keyword."""
    return _make_decision
