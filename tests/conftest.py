"""Shared fixtures: a private schema on the PostgreSQL server every dev/CI machine runs.

PostgreSQL tests are marked ``postgres``. When the server is unreachable they are
skipped locally but fail when ``CI`` is set, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import pytest
import sqlalchemy as sa


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test old code: a module compiled by setup.py shadows its source."""
    from monitor.compiled import stale

    old = stale()
    if old:
        pytest.exit(
            f"compiled modules older than their source: {', '.join(old)}. Rebuild them: "
            "`make test`, or `.venv/bin/pip install -e .`",
            returncode=2,
        )


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
