"""Checkpoints: a partition restored from its snapshot decides the rest of the stream
exactly as the partition that never stopped; seals bind body, partition and offset."""

from __future__ import annotations

import pytest

from monitor.checkpoint import CheckpointRefused, Where, seal, unseal
from monitor.features import AccountState
from monitor.features.codec import decode_states, encode_states
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import load_rules
from monitor.simulate import SimConfig, generate
from monitor.testing import ManualClock

KEY = b"0123456789abcdef0123456789abcdef"
WHERE = Where("vigil", "wallet.events", 1)


@pytest.fixture(scope="module")
def events():
    return [e for e, _ in generate(SimConfig(accounts=300, days=3.0, seed=11))]


def _run(pipe: PartitionPipeline, clock: ManualClock, events) -> list:
    out = []
    for e in events:
        clock.now = e.epoch
        out.append(pipe.process(e))
    return out


def test_a_restored_partition_decides_like_one_that_never_stopped(events) -> None:
    rules = load_rules("rules")
    half = len(events) // 2
    clock_a, clock_b = ManualClock(), ManualClock()
    straight = PartitionPipeline(0, rules, clock=clock_a, anomaly_warmup=200)
    _run(straight, clock_a, events[:half])
    snapshot = straight.snapshot()
    rest_straight = _run(straight, clock_a, events[half:])

    resumed = PartitionPipeline(0, rules, clock=clock_b, anomaly_warmup=200)
    resumed.restore(unseal(KEY, WHERE, half, seal(KEY, WHERE, half, snapshot)))
    rest_resumed = _run(resumed, clock_b, events[half:])

    assert rest_resumed == rest_straight  # every field of every decision
    assert sum(d.is_alert for d in rest_straight) > 5  # the stream did raise alerts
    assert len(resumed.accounts) == len(straight.accounts)
    assert list(resumed.accounts) == list(straight.accounts)  # LRU order kept


def test_every_account_field_survives_the_codec(events) -> None:
    rules = load_rules("rules")
    clock = ManualClock()
    pipe = PartitionPipeline(0, rules, clock=clock)
    _run(pipe, clock, events)
    back = decode_states(encode_states(pipe.accounts))
    for account, st in pipe.accounts.items():
        other = back[account]
        for name in AccountState.__slots__:
            if name == "novelty_fp":  # per process: reset on purpose
                assert other.novelty_fp == 0
                continue
            mine, theirs = getattr(st, name), getattr(other, name)
            if name == "amount_median":
                mine = None if mine is None else mine.get()
                theirs = None if theirs is None else theirs.get()
            assert mine == theirs, (account, name)


def test_codec_refuses_what_it_did_not_write() -> None:
    with pytest.raises(ValueError, match="not an account-state table"):
        decode_states(b"\x93\x01garbage")
    with pytest.raises(ValueError, match="format 99"):
        import msgspec

        decode_states(msgspec.msgpack.encode([99, [], []]))


@pytest.mark.parametrize(
    ("where", "offset", "key"),
    [
        (Where("vigil", "wallet.events", 2), 10, KEY),  # another partition
        (Where("other", "wallet.events", 1), 10, KEY),  # another group
        (WHERE, 11, KEY),  # another offset
        (WHERE, 10, b"another key of thirty-two bytes!"),
    ],
)
def test_a_seal_binds_partition_offset_and_key(where, offset, key) -> None:
    blob = seal(KEY, WHERE, 10, b"body")
    assert unseal(KEY, WHERE, 10, blob) == b"body"
    with pytest.raises(CheckpointRefused, match="signature does not match"):
        unseal(key, where, offset, blob)


def test_truncated_or_foreign_blobs_are_refused() -> None:
    blob = seal(KEY, WHERE, 10, b"body")
    with pytest.raises(CheckpointRefused, match="signature"):
        unseal(KEY, WHERE, 10, blob[:-3])
    with pytest.raises(CheckpointRefused, match="not a Vigil checkpoint"):
        unseal(KEY, WHERE, 10, b"PK\x03\x04 a zip file")
