"""File and Kafka sinks of the simulator (Kafka through a stand-in producer; e2e uses a broker)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest

from monitor.events import DecodeError, decode, encode
from monitor.simulate import (
    SCENARIOS,
    Label,
    SimConfig,
    add_arguments,
    generate,
    produce,
    run_from_args,
    write_jsonl,
)

CFG = SimConfig(accounts=120, days=1.0, seed=4, attack_share=0.1)


def test_write_jsonl_writes_decodable_events_and_matching_labels(tmp_path: Path):
    events_path, labels_path = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    stats = write_jsonl(CFG, events_path, labels_path)
    lines = events_path.read_bytes().splitlines()
    events = [decode(line) for line in lines]
    assert not [e for e in events if isinstance(e, DecodeError)]
    assert lines == [encode(e) for e, _ in generate(CFG)]
    labels = [
        msgspec.json.decode(line, type=Label) for line in labels_path.read_bytes().splitlines()
    ]
    assert stats.events == len(events) and stats.malicious == len(labels) > 0
    assert stats.accounts == 120
    assert sum(stats.campaigns.values()) == 12 and set(stats.campaigns) == set(SCENARIOS)
    ids = {e.event_id: e for e in events if not isinstance(e, DecodeError)}
    assert all(lab.event_id in ids and ids[lab.event_id].account_id == lab.account_id
               for lab in labels)  # fmt: skip


def test_labels_without_a_variant_still_decode():
    old = b'{"event_id":"e","account_id":"a","campaign_id":"c","scenario":"brute_force",' \
          b'"stage":"guess_login"}'  # fmt: skip
    assert msgspec.json.decode(old, type=Label).variant is None
    new = Label("e", "a", "c", "account_takeover", "takeover_login", "local_proxy")
    assert msgspec.json.decode(msgspec.json.encode(new), type=Label) == new


def test_run_from_args_writes_files_and_summarises(tmp_path: Path, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "ev.jsonl"
    args = parser.parse_args(["--accounts", "30", "--days", "0.5", "--out", str(out)])
    assert run_from_args(args, bootstrap_default="unused:9092") == 0
    assert out.stat().st_size > 0 and (tmp_path / "ev.labels.jsonl").exists()
    err = capsys.readouterr().err
    assert "simulated" in err and "30 accounts" in err
    bad = parser.parse_args(["--accounts", "0", "--out", str(out)])
    assert run_from_args(bad, bootstrap_default="unused:9092") == 2


class FakeProducer:
    """Stands in for aiokafka's producer: records what would be sent."""

    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, **config: object) -> None:
        self.config, self.flushed, self.stopped = config, False, False
        self.sent: list[tuple[str, bytes, bytes]] = []
        FakeProducer.instances.append(self)

    async def start(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def flush(self) -> None:
        self.flushed = True

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fake_kafka(monkeypatch) -> type[FakeProducer]:
    import aiokafka

    FakeProducer.instances = []
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", FakeProducer)
    return FakeProducer


async def test_produce_keys_by_account_and_splits_labels(fake_kafka):
    seen: list[int] = []
    stats = await produce(CFG, "k:9092", "ev", "lab", compression="zstd", progress=seen.append)
    (producer,) = fake_kafka.instances
    assert producer.config["compression_type"] == "zstd" and producer.flushed and producer.stopped
    events = [(k, decode(v)) for t, k, v in producer.sent if t == "ev"]
    labels = [(k, msgspec.json.decode(v, type=Label)) for t, k, v in producer.sent if t == "lab"]
    assert len(events) == stats.events and len(labels) == stats.malicious > 0
    assert all(k == e.account_id.encode() for k, e in events)  # type: ignore[union-attr]
    assert all(k == lab.account_id.encode() for k, lab in labels)
    assert seen[-1] == stats.events


async def test_produce_realtime_start_and_stop(fake_kafka):
    stop = asyncio.Event()

    def progress(n: int) -> None:
        if n >= 1000:
            stop.set()

    began = datetime.now(UTC)
    stats = await produce(CFG, "k:9092", labels_topic=None, realtime_start=True,
                          progress=progress, stop=stop)  # fmt: skip
    (producer,) = fake_kafka.instances
    assert stats.events == 1000 and {t for t, _, _ in producer.sent} == {"wallet.events"}
    first = decode(producer.sent[0][2])
    assert abs(first.ts - began) < timedelta(seconds=5)  # type: ignore[union-attr]


async def test_produce_paces_event_time(fake_kafka):
    # Two hours of event time at 36,000x take about 0.2 s of wall clock.
    cfg = SimConfig(accounts=30, days=2 / 24, seed=2, attack_share=0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await produce(cfg, "k:9092", speed=36_000.0)
    (producer,) = fake_kafka.instances
    events = [decode(v) for _, _, v in producer.sent]
    span = events[-1].epoch - events[0].epoch  # type: ignore[union-attr]
    assert span / 36_000 * 0.8 <= loop.time() - began <= span / 36_000 + 1.0
