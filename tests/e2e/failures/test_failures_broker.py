"""The broker frozen (SIGSTOP) under load, then resumed; the monitor's connections to it
cut and refused through a TCP proxy, then restored. Nothing is lost or decided twice, and
the lag returns to 0 by itself. (The embedded broker keeps topics in memory only: killing
it loses them by design; surviving a broker crash is the production cluster's job.)"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.stream.embedded import EmbeddedBroker, free_port
from monitor.stream.topics import ensure_topics
from tests.e2e.failures.chaos import Monitor, TcpProxy, caught_up, produce, wait_until
from tests.e2e.failures.verify import Report, verify
from tests.e2e.failures.workload import build_workload

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scale:
    accounts: int
    freeze_s: float
    cut_s: float


SCALES = [
    pytest.param(Scale(accounts=600, freeze_s=8.0, cut_s=5.0), id="bounded"),
    pytest.param(
        Scale(accounts=4000, freeze_s=45.0, cut_s=30.0), id="soak", marks=pytest.mark.soak
    ),
]


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[EmbeddedBroker, TcpProxy]]:
    """A broker of this test's own that advertises a proxy in front of it: every client
    (the monitor, the producer, the verifier) reaches it through the proxy."""
    port = free_port()
    broker = EmbeddedBroker(advertised_port=port, log_path=tmp_path / "tansu.log").start()
    proxy = TcpProxy(("127.0.0.1", broker.port), port=port).start()
    try:
        yield broker, proxy
    finally:
        if broker.process is not None:
            os.kill(broker.process.pid, signal.SIGCONT)
        proxy.stop()
        broker.stop()


async def _not_ready_seen(member: Monitor, seconds: float) -> list[str]:
    """Poll /readyz for ``seconds``; the failing checks it reported meanwhile."""
    failing: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            body = await member.readyz()
            failing |= {k for k, v in body["checks"].items() if v != "ok"}
        except Exception:  # the API itself may time out on a check: not ready either
            failing.add("unanswered")
        await asyncio.sleep(0.5)
    return sorted(failing)


@pytest.mark.parametrize("scale", SCALES)
async def test_broker_frozen_and_connection_cut(
    scale: Scale,
    service: Settings,
    proxied: tuple[EmbeddedBroker, TcpProxy],
    rules_dir: Path,
    tmp_path: Path,
    record: Callable[[Report], None],
) -> None:
    broker, proxy = proxied
    assert broker.process is not None
    s = service.model_copy(update={"kafka_bootstrap": proxy.address})
    await ensure_topics(s.kafka_bootstrap, {s.events_topic: s.topic_partitions, s.dlq_topic: 1})
    work = build_workload(scale.accounts, 1.0, seed=53)
    third = len(work.messages) // 3
    before, during, after = (
        work.messages[:third],
        work.messages[third : 2 * third],
        work.messages[2 * third :],
    )
    member = Monitor(s, tmp_path / "member.log", api=True).start()
    try:
        await member.wait_assigned()
        await produce(s.kafka_bootstrap, s.events_topic, before, seconds=2.0)
        await wait_until(lambda: caught_up(s), 60, "lag 0 before the freeze")

        # the broker frozen under load: the producer keeps sending meanwhile
        producing = asyncio.create_task(
            produce(s.kafka_bootstrap, s.events_topic, during, seconds=scale.freeze_s)
        )
        await asyncio.sleep(1.0)
        os.kill(broker.process.pid, signal.SIGSTOP)
        frozen_checks = await _not_ready_seen(member, scale.freeze_s)
        os.kill(broker.process.pid, signal.SIGCONT)
        resumed = time.monotonic()
        await producing
        produced_s = time.monotonic() - resumed
        await wait_until(lambda: caught_up(s), 120, "lag 0 after the broker resumed")
        freeze_lag0_s = time.monotonic() - resumed
        assert member.alive

        # the monitor's connections cut and refused, with events still to decide. The
        # monitor is paused while they are sent and the cut is made: running, it had
        # decided them all (~30k events/s) before a cut made right after the send.
        assert member.proc is not None
        member.proc.send_signal(signal.SIGSTOP)
        try:
            await produce(s.kafka_bootstrap, s.events_topic, after)
            proxy.cut()
        finally:
            member.proc.send_signal(signal.SIGCONT)
        decided = (await member.metrics())["vigil_events_consumed_total"]
        cut_checks = await _not_ready_seen(member, scale.cut_s)
        proxy.restore()
        restored = time.monotonic()
        await wait_until(lambda: caught_up(s), 120, "lag 0 after the connection came back")
        cut_lag0_s = time.monotonic() - restored
        ready = await wait_until(lambda: _ready(member), 30, "/readyz ready again", every=0.5)
        stop_s, code = await member.terminate()
    finally:
        member.ensure_stopped()
    assert code == 0
    report = await verify("broker frozen, connection cut", s, work, rules_dir)
    report.figures = {
        "freeze_s": scale.freeze_s,
        "not_ready_while_frozen": frozen_checks,
        "producer_done_after_resume_s": round(produced_s, 1),
        "lag0_after_resume_s": round(freeze_lag0_s, 1),
        "cut_s": scale.cut_s,
        "undecided_at_cut": work.events - decided,
        "proxy_connections": proxy.connections,
        "not_ready_while_cut": cut_checks,
        "lag0_after_restore_s": round(cut_lag0_s, 1),
        "ready_after": ready,
        "stop_s": round(stop_s, 2),
    }
    record(report)
    assert not report.problems(), report.summary()
    assert frozen_checks and cut_checks  # /readyz said not ready meanwhile
    assert report.figures["undecided_at_cut"] > 0  # the cut came with work to do


async def _ready(member: Monitor) -> str | None:
    body = await member.readyz()
    return body["status"] if body["status"] == "ready" else None
