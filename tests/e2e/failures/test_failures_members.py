"""Members joining and leaving the group every few seconds while the stream arrives
(``vigil run`` processes started and stopped with SIGTERM): partitions move between
members with their checkpointed state, and in the end everything was decided exactly as
by one member that never stopped. Each change waits for the previous rebalance to finish:
the embedded broker wedges overlapping ones (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from monitor.config import Settings
from tests.e2e.failures.chaos import Database, Monitor, caught_up, produce, wait_until
from tests.e2e.failures.verify import Report, verify
from tests.e2e.failures.workload import build_workload

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scale:
    accounts: int
    changes: int  # members joining or leaving, one after the other
    produce_s: float  # the stream arrives over this long, meanwhile
    every_s: tuple[float, float]  # between a settled group and the next change


SCALES = [
    pytest.param(Scale(accounts=800, changes=4, produce_s=40.0, every_s=(1.0, 4.0)), id="bounded"),
    pytest.param(
        Scale(accounts=6000, changes=30, produce_s=300.0, every_s=(1.0, 6.0)),
        id="soak",
        marks=pytest.mark.soak,
    ),
]


async def _up(member: Monitor) -> dict[str, float] | None:
    """The member's metrics once it serves them (it has started), else None."""
    try:
        return await member.metrics()
    except httpx.TransportError:
        return None


@pytest.mark.postgres
@pytest.mark.parametrize("scale", SCALES)
async def test_members_join_and_leave(
    scale: Scale,
    service: Settings,
    database: Database,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    # several replicas share PostgreSQL (a SQLite file has one writer process)
    s = service.model_copy(update={"database_url": database.url})
    work = build_workload(scale.accounts, 1.0, seed=67)
    rng = random.Random(67)
    started = 0

    def member() -> Monitor:
        nonlocal started
        started += 1
        return Monitor(s, tmp_path / f"member-{started}.log").start()

    running = [member(), member()]
    stopped: list[Monitor] = []
    rebalances = 0.0
    stop_times: list[float] = []
    producing = asyncio.create_task(
        produce(s.kafka_bootstrap, s.events_topic, work.messages, seconds=scale.produce_s)
    )
    settle_times: list[float] = []

    async def settled() -> bool:
        """Every running member up and holding partitions, all of them between them."""
        held = [await _up(m) for m in running]
        return all(h is not None and h["vigil_partitions_assigned"] > 0 for h in held) and (
            sum(h["vigil_partitions_assigned"] for h in held if h is not None) == s.topic_partitions
        )

    try:
        for _ in range(scale.changes):
            # the embedded broker wedges a rebalance that starts before the last one
            # ended (docs/reliability.md), so each change waits for the group to settle
            t0 = time.monotonic()
            await wait_until(settled, 60, "the group to settle")
            settle_times.append(round(time.monotonic() - t0, 1))
            await asyncio.sleep(rng.uniform(*scale.every_s))
            if len(running) == 1 or (len(running) == 2 and rng.random() < 0.5):
                running.append(member())  # joins
                continue
            leaving = running.pop(rng.randrange(len(running)))  # leaves
            rebalances += (await leaving.metrics()).get("vigil_rebalances_total", 0.0)
            stop_s, code = await leaving.terminate()
            assert code == 0, leaving.log.read_text()[-3000:]
            stop_times.append(round(stop_s, 2))
            stopped.append(leaving)
        await wait_until(settled, 60, "the group to settle")
        await producing
        t0 = time.monotonic()
        await wait_until(lambda: caught_up(s), 120, "lag 0 and an empty outbox")
        caught_up_s = time.monotonic() - t0
        for leaving in running:
            rebalances += (await leaving.metrics()).get("vigil_rebalances_total", 0.0)
            stop_s, code = await leaving.terminate()
            assert code == 0
            stop_times.append(round(stop_s, 2))
    finally:
        for m in running:
            m.ensure_stopped()
        producing.cancel()
    report = await verify("members join and leave", s, work, rules_dir)
    report.figures = {
        "members_started": started,
        "members_stopped_during_churn": len(stopped),
        "rebalance_callbacks": rebalances,
        "settle_s": settle_times,
        "caught_up_after_churn_s": round(caught_up_s, 1),
        "max_stop_s": max(stop_times),
    }
    record(report)
    assert not report.problems(), report.summary()
    assert len(stopped) >= 2 and started >= 4  # members really left and joined
    assert max(stop_times) <= 10.0
