"""Fixtures of the failure tests: the probe rule pack, the service settings for
``vigil run`` members, a PostgreSQL database of the test's own, and a place to record
each run's figures."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.config import Settings
from monitor.stream.topics import ensure_topics
from tests.e2e.conftest import RULES_DIR
from tests.e2e.failures.chaos import Database, monitor_settings
from tests.e2e.failures.verify import Report
from tests.e2e.failures.workload import probe_rules


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return probe_rules(RULES_DIR, tmp_path / "rules")


@pytest.fixture
async def service(topics: Settings, rules_dir: Path) -> Settings:
    """Settings of the monitors under test (topics created, probe rules, checkpoints)."""
    s = monitor_settings(topics, rules_dir)
    await ensure_topics(
        s.kafka_bootstrap,
        {
            s.late_topic: 1,
            s.actions_topic: s.topic_partitions,
            s.verdicts_topic: s.topic_partitions,
        },
    )
    return s


@pytest.fixture
def record() -> Callable[[Report], None]:
    """``record(report)``: print the run's figures; append them as a JSON line to
    ``$VIGIL_FAILURES_REPORT`` when set (docs/reliability.md is written from them)."""

    def _record(report: Report) -> None:
        line = report.summary()
        print(f"\nFIGURES {line}")
        path = os.environ.get("VIGIL_FAILURES_REPORT")
        if path:
            with Path(path).open("a", encoding="utf-8") as out:
                out.write(json.dumps(json.loads(line)) + "\n")

    return _record


@pytest.fixture
def database() -> Iterator[Database]:
    """A PostgreSQL database of the test's own (dropped afterwards); skipped when the
    server is unreachable, failed under CI."""
    db = Database()
    try:
        db.create()
    except sa.exc.OperationalError as exc:
        if "CI" in os.environ:
            pytest.fail(f"PostgreSQL not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield db
    finally:
        db.drop()
