"""SIGTERM under load: ``vigil run`` stops cleanly within 10 s (exit code 0), its last
checkpoint is at the committed offsets, and the restarted member resumes from exactly
there: no event is decided twice, none is skipped."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.config import Settings
from monitor.store import AlertStore
from monitor.store.schema import checkpoints
from tests.e2e.failures.chaos import Monitor, caught_up, produce, wait_until
from tests.e2e.failures.verify import Report, verify
from tests.e2e.failures.workload import build_workload
from tests.e2e.harness import committed_offsets

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scale:
    accounts: int
    produce_s: float
    stops: int


SCALES = [
    pytest.param(Scale(accounts=1500, produce_s=14.0, stops=1), id="bounded"),
    pytest.param(Scale(accounts=8000, produce_s=120.0, stops=6), id="soak", marks=pytest.mark.soak),
]


def _checkpointed(s: Settings) -> dict[int, int]:
    store = AlertStore(s.sqlalchemy_url)
    try:
        with store.engine.connect() as conn:
            c = checkpoints.c
            query = sa.select(c.partition, c.offset).where(
                c.group_id == s.consumer_group, c.topic == s.events_topic
            )
            return dict(conn.execute(query).all())
    finally:
        store.close()


@pytest.mark.parametrize("scale", SCALES)
async def test_sigterm_under_load(
    scale: Scale,
    service: Settings,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    s = service
    work = build_workload(scale.accounts, 1.0, seed=47)
    rng = random.Random(47)
    producing = asyncio.create_task(
        produce(s.kafka_bootstrap, s.events_topic, work.messages, seconds=scale.produce_s)
    )
    member = Monitor(s, tmp_path / "member-0.log").start()
    stops: list[dict[str, float]] = []
    try:
        for i in range(scale.stops):
            await member.wait_assigned()
            await asyncio.sleep(rng.uniform(1.0, scale.produce_s / (scale.stops + 1)))
            before = (await member.metrics()).get("vigil_events_consumed_total", 0.0)
            stop_s, code = await member.terminate()
            assert code == 0, member.log.read_text()[-3000:]
            committed = await committed_offsets(s)
            checkpointed = _checkpointed(s)  # by the clean stop
            member = Monitor(s, tmp_path / f"member-{i + 1}.log").start()
            await member.wait_assigned()
            stops.append(
                {
                    "stop_s": round(stop_s, 2),
                    "decided_before_stop": before,
                    "committed": sum(committed.values()),
                    "checkpoint_is_committed": checkpointed == committed,
                    "resumed_at_committed": member.restored() == committed,
                }
            )
        await producing
        await wait_until(lambda: caught_up(s), 60, "lag 0 and an empty outbox")
        # the last member decided exactly the events after the offsets it resumed from
        # (no poison in this stream: every message is an event)
        consumed = (await member.metrics())["vigil_events_consumed_total"]
        decided_twice = consumed - (
            sum((await committed_offsets(s)).values()) - stops[-1]["committed"]
        )
        last_stop_s, code = await member.terminate()
    finally:
        member.ensure_stopped()
        producing.cancel()
    assert code == 0
    report = await verify("SIGTERM under load", s, work, rules_dir)
    report.figures = {
        "stops": stops,
        "last_stop_s": round(last_stop_s, 2),
        "decided_twice_after_last_restart": decided_twice,
    }
    record(report)
    assert not report.problems(), report.summary()
    assert all(x["stop_s"] <= 10.0 for x in stops) and last_stop_s <= 10.0
    assert all(x["checkpoint_is_committed"] and x["resumed_at_committed"] for x in stops), stops
    assert decided_twice == 0
    assert any(0 < x["committed"] < work.events for x in stops)  # stopped under load
