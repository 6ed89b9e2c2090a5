"""kill -9 of ``vigil run`` at random points while the stream arrives: each time the
member is restarted, restores its partitions from their checkpoints and reads on. In the
end every event was decided with the state a clean run has, every alert and command is
there exactly once, and the group's offsets reached the end."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.config import Settings
from tests.e2e.failures.chaos import Monitor, caught_up, produce, wait_until
from tests.e2e.failures.verify import Progress, Report, progress_at_crash, replayed, verify
from tests.e2e.failures.workload import build_workload

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scale:
    accounts: int
    days: float
    kills: int
    produce_s: float  # the stream arrives over this long
    max_gap_s: float  # a kill comes 0.5 .. this many seconds after the member got partitions


SCALES = [
    pytest.param(
        Scale(accounts=800, days=1.0, kills=3, produce_s=40.0, max_gap_s=4.0), id="bounded"
    ),
    pytest.param(
        Scale(accounts=6000, days=2.0, kills=12, produce_s=300.0, max_gap_s=8.0),
        id="soak",
        marks=pytest.mark.soak,
    ),
]


@pytest.mark.parametrize("scale", SCALES)
async def test_kill_9_at_random_points(
    scale: Scale,
    service: Settings,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    s = service
    work = build_workload(scale.accounts, scale.days, seed=31)
    rng = random.Random(31)
    producing = asyncio.create_task(
        produce(s.kafka_bootstrap, s.events_topic, work.messages, seconds=scale.produce_s)
    )
    member = Monitor(s, tmp_path / "member.log").start()
    crashes: list[Progress] = []
    try:
        for _ in range(scale.kills):
            await member.wait_assigned()
            await asyncio.sleep(rng.uniform(0.5, scale.max_gap_s))
            member.kill()
            crashes.append(await progress_at_crash(s))
            member.start()
        await producing
        t0 = time.monotonic()
        await member.wait_assigned()
        await wait_until(lambda: caught_up(s), 120 + scale.produce_s, "lag 0 and an empty outbox")
        caught_up_s = time.monotonic() - t0
        stop_s, code = await member.terminate()
    finally:
        member.ensure_stopped()
        producing.cancel()
    assert code == 0
    report = await verify("kill -9", s, work, rules_dir)
    report.figures = {
        "kills": len(crashes),
        "decided_at_kills": [len(c.decided) for c in crashes],
        "replayed_after_kills": await replayed(s, crashes),
        "caught_up_after_last_restart_s": round(caught_up_s, 1),
        "stop_s": round(stop_s, 2),
    }
    record(report)
    assert not report.problems(), report.summary()
    assert any(0 < len(c.decided) < work.events for c in crashes)  # kills hit mid-stream
