"""Bad input: 1% poison messages (bad JSON, bad UTF-8, schema violations, oversized) go to
the dead-letter topic and nothing else changes; the whole stream delivered twice (same
event ids) must change nothing anyone sees: the alerts and commands of one delivery (each
copy is late, or recognised as a duplicate and committed past)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import Settings
from tests.e2e.failures.chaos import Monitor, caught_up, produce, wait_until
from tests.e2e.failures.verify import Report, verify
from tests.e2e.failures.workload import build_workload

pytestmark = pytest.mark.e2e

SIZES = [
    pytest.param(600, id="bounded"),
    pytest.param(8000, id="soak", marks=pytest.mark.soak),
]


async def _run(s: Settings, messages: list[tuple[bytes, bytes]], log: Path) -> dict[str, float]:
    member = Monitor(s, log).start()
    try:
        await produce(s.kafka_bootstrap, s.events_topic, messages)
        t0 = time.monotonic()
        await member.wait_assigned()
        await wait_until(lambda: caught_up(s), 300, "lag 0 and an empty outbox")
        seconds = time.monotonic() - t0
        metrics = await member.metrics()
        stop_s, code = await member.terminate()
    finally:
        member.ensure_stopped()
    assert code == 0
    return {
        "caught_up_s": round(seconds, 1),
        "stop_s": round(stop_s, 2),
        "invalid_counted": metrics.get("vigil_events_invalid_total", 0.0),
        "consumed_counted": metrics.get("vigil_events_consumed_total", 0.0),
        "late_counted": metrics.get("vigil_events_late_total", 0.0),
        "duplicate_counted": metrics.get("vigil_events_duplicate_total", 0.0),
    }


@pytest.mark.parametrize("accounts", SIZES)
async def test_one_percent_poison(
    accounts: int,
    service: Settings,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    s = service
    work = build_workload(accounts, 1.0, seed=41, poison_share=0.01)
    figures = await _run(s, work.messages, tmp_path / "member.log")
    report = await verify("poison 1%", s, work, rules_dir)
    report.figures = figures
    record(report)
    assert not report.problems(), report.summary()
    assert report.dlq_raw >= report.poison > 0
    assert figures["invalid_counted"] == report.poison
    assert figures["consumed_counted"] == report.events  # each valid event decided once


@pytest.mark.parametrize("accounts", SIZES)
async def test_stream_delivered_twice(
    accounts: int,
    service: Settings,
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    s = service
    work = build_workload(accounts, 1.0, seed=43)
    figures = await _run(s, work.twice().messages, tmp_path / "member.log")
    report = await verify("delivered twice", s, work, rules_dir, redelivered=True)
    report.figures = figures
    record(report)
    assert report.deliveries == 2 * report.events
    assert not report.problems(), report.summary()  # no extra alerts nor commands
    # second copies beyond the grace period are late (kept on the late topic, not
    # decided); those within it are duplicates (committed past, not decided again)
    assert report.late > 0
    assert figures["consumed_counted"] == report.events  # each event decided once
    assert figures["duplicate_counted"] > 0
    assert figures["duplicate_counted"] + figures["late_counted"] == report.events
