"""The database unavailable under load (PostgreSQL refusing connections, sessions
terminated): no offset is committed past an undecided event, ``/readyz`` says not ready
meanwhile, and the service recovers by itself when the database returns. And a batch
stalled on the database for longer than ``max_poll_interval_ms`` (SQLite locked by
another process): the member leaves the group once, comes back, and nothing is lost or
decided twice: no rebalance loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import Settings
from tests.e2e.failures.chaos import Database, Monitor, caught_up, produce, wait_until
from tests.e2e.failures.verify import Report, committed_undecided, verify
from tests.e2e.failures.workload import build_workload
from tests.e2e.harness import committed_offsets

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scale:
    accounts: int
    outage_s: float


OUTAGES = [
    pytest.param(Scale(accounts=600, outage_s=6.0), id="bounded"),
    pytest.param(Scale(accounts=3000, outage_s=30.0), id="soak", marks=pytest.mark.soak),
]


@pytest.mark.postgres
@pytest.mark.parametrize("scale", OUTAGES)
async def test_database_unavailable(
    scale: Scale,
    service: Settings,
    database: Database,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    s = service.model_copy(update={"database_url": database.url})
    work = build_workload(scale.accounts, 1.0, seed=59)
    half = len(work.messages) // 2
    member = Monitor(s, tmp_path / "member.log", api=True).start()
    samples: list[tuple[datetime, dict[int, int]]] = []
    not_ready: set[str] = set()
    try:
        await member.wait_assigned()
        await produce(s.kafka_bootstrap, s.events_topic, work.messages[:half], seconds=2.0)
        producing = asyncio.create_task(
            produce(
                s.kafka_bootstrap,
                s.events_topic,
                work.messages[half:],
                seconds=scale.outage_s / 2,
            )
        )
        await asyncio.sleep(0.5)  # down with events arriving
        database.down()
        down_at = time.monotonic()
        while time.monotonic() - down_at < scale.outage_s:
            samples.append((datetime.now(UTC), await committed_offsets(s)))
            try:
                body = await member.readyz()
                not_ready |= {k for k, v in body["checks"].items() if v != "ok"}
            except Exception:  # no answer is not ready either
                not_ready.add("unanswered")
            await asyncio.sleep(0.5)
        await producing
        database.up()
        up_at = time.monotonic()
        await wait_until(lambda: caught_up(s), 120, "lag 0 after the database came back")
        recovered_s = time.monotonic() - up_at
        ready = await member.readyz()
        metrics = await member.metrics()
        stop_s, code = await member.terminate()
    finally:
        member.ensure_stopped()
    assert code == 0
    report = await verify("database unavailable", s, work, rules_dir)
    frozen = {tuple(sorted(c.items())) for _, c in samples[2:]}  # after the in-flight batch
    report.figures = {
        "outage_s": scale.outage_s,
        "not_ready_checks": sorted(not_ready),
        "failed_store_writes": metrics.get("vigil_store_errors_total", 0.0),
        "committed_past_undecided": await committed_undecided(s, samples),
        "commit_advanced_during_outage": len(frozen) > 1,
        "lag0_after_recovery_s": round(recovered_s, 1),
        "ready_after": ready["status"],
        "stop_s": round(stop_s, 2),
    }
    record(report)
    assert not report.problems(), report.summary()
    assert report.figures["committed_past_undecided"] == 0
    assert not report.figures["commit_advanced_during_outage"]
    assert {"database", "store_writes"} & not_ready, not_ready
    assert report.figures["failed_store_writes"] > 0
    assert ready["status"] == "ready", ready


STALLS = [
    pytest.param(2, id="bounded"),
    pytest.param(6, id="soak", marks=pytest.mark.soak),
]


@pytest.mark.parametrize("stalls", STALLS)
async def test_batch_stalled_longer_than_max_poll_interval(
    stalls: int,
    service: Settings,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    poll_s = 3.0
    # checkpoints only on revocation and stop: the revocation after a stall writes one
    s = service.model_copy(
        update={"max_poll_interval_ms": int(poll_s * 1000), "checkpoint_interval_s": 0.0}
    )
    work = build_workload(500, 1.0, seed=61)
    chunk = len(work.messages) // (stalls + 1)
    db_path = s.database_url.removeprefix("sqlite:///")
    member = Monitor(s, tmp_path / "member.log").start()
    held: list[float] = []
    try:
        await member.wait_assigned()
        await produce(s.kafka_bootstrap, s.events_topic, work.messages[:chunk])
        for i in range(1, stalls + 1):
            await wait_until(lambda: caught_up(s), 60, "lag 0 before the stall")
            # another process holds the database: the next batch stalls on it
            lock = sqlite3.connect(db_path, timeout=10, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            t0 = time.monotonic()
            last = (i + 1) * chunk if i < stalls else None
            await produce(s.kafka_bootstrap, s.events_topic, work.messages[i * chunk : last])
            await asyncio.sleep(2.5 * poll_s)
            lock.execute("ROLLBACK")
            lock.close()
            held.append(round(time.monotonic() - t0, 1))
        await wait_until(lambda: caught_up(s), 90, "lag 0 after the stalls")
        settled = await member.metrics()
        await asyncio.sleep(2 * poll_s)  # quiet: no rebalance may follow
        metrics = await member.metrics()
        stop_s, code = await member.terminate()
    finally:
        member.ensure_stopped()
    assert code == 0
    report = await verify("batch stalled > max_poll_interval", s, work, rules_dir)
    report.figures = {
        "max_poll_interval_s": poll_s,
        "stalls_s": held,
        "rebalances": metrics.get("vigil_rebalances_total", 0.0),
        "store_errors": metrics.get("vigil_store_errors_total", 0.0),
        "failed_commits": metrics.get('vigil_commits_total{outcome="failed"}', 0.0),
        "stop_s": round(stop_s, 2),
    }
    record(report)
    assert not report.problems(), report.summary()
    # one revoke + assign for the first join and at most one more pair per stall
    assert metrics["vigil_rebalances_total"] <= 2 * (1 + stalls), report.figures
    assert metrics["vigil_rebalances_total"] == settled["vigil_rebalances_total"]  # no loop
