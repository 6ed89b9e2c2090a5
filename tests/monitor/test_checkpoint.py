"""Checkpoints: a partition restored from its snapshot decides the rest of the stream
exactly as the partition that never stopped; seals bind body, partition and offset."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from monitor.checkpoint import CheckpointRefused, Where, seal, unseal
from monitor.features import AccountState
from monitor.features.codec import decode_states, encode_states
from monitor.features.state import FIELDS
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import load_rules
from monitor.simulate import SimConfig, generate
from monitor.testing import ManualClock

KEY = b"0123456789abcdef0123456789abcdef"
WHERE = Where("vigil", "wallet.events", 1)


@pytest.fixture(scope="module")
def events():
    return [e for e, _ in generate(SimConfig(accounts=300, days=3.0, seed=11))]


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


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
        for name in FIELDS:
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


# --- lazy restore: accounts decoded at their first event ---------------------------------


def _pipe(clock: ManualClock) -> PartitionPipeline:
    return PartitionPipeline(0, load_rules("rules"), clock=clock, anomaly_warmup=200)


@pytest.mark.parametrize("split", [0.2, 0.5, 0.9])
def test_lazy_and_eager_restores_decide_alike(events, split) -> None:
    cut = int(len(events) * split)
    clock = ManualClock()
    straight = _pipe(clock)
    _run(straight, clock, events[:cut])
    snapshot = straight.snapshot()
    lazy, eager = _pipe(clock), _pipe(clock)
    lazy.restore(snapshot)
    eager.restore(snapshot)
    assert all(isinstance(st, bytes) for st in lazy.accounts.values())  # nothing decoded
    for account in list(eager.accounts):  # the eager path: all decoded before any event
        assert eager.account(account) is not None
    assert not any(isinstance(st, bytes) for st in eager.accounts.values())
    assert list(eager.accounts) == list(lazy.accounts) == list(straight.accounts)

    rest = events[cut:]
    want = _run(straight, clock, rest)
    assert _run(lazy, clock, rest) == want
    assert _run(eager, clock, rest) == want
    assert list(lazy.accounts) == list(eager.accounts) == list(straight.accounts)
    # the same account states, whether decoded at their first event or at the restore
    assert encode_states(lazy.accounts) == encode_states(eager.accounts)
    assert lazy.snapshot() == eager.snapshot()


def test_a_partly_decoded_table_snapshots_and_restores(events) -> None:
    half = len(events) // 2
    clock = ManualClock()
    first = _pipe(clock)
    _run(first, clock, events[:half])
    resumed = _pipe(clock)
    resumed.restore(first.snapshot())
    some = events[half : half + (len(events) - half) // 10]
    _run(first, clock, some)
    _run(resumed, clock, some)
    packed = sum(isinstance(st, bytes) for st in resumed.accounts.values())
    assert 0 < packed < len(resumed.accounts)  # partly decoded

    again = _pipe(clock)
    again.restore(resumed.snapshot())
    assert list(again.accounts) == list(resumed.accounts)
    assert encode_states(again.accounts) == encode_states(resumed.accounts)
    for account in resumed.accounts:  # every field, packed or decoded before the snapshot
        a, b = resumed.account(account), again.account(account)
        assert a is not None and b is not None
        for name in FIELDS:
            mine, theirs = getattr(a, name), getattr(b, name)
            if name == "amount_median":
                mine = None if mine is None else mine.get()
                theirs = None if theirs is None else theirs.get()
            if name != "novelty_fp":
                assert mine == theirs, (account, name)
    tail = events[half + len(some) :]
    assert _run(again, clock, tail) == _run(resumed, clock, tail)


def test_idle_accounts_expire_without_being_decoded(events, monkeypatch) -> None:
    rules = load_rules("rules")
    clock = ManualClock()
    pipe = PartitionPipeline(0, rules, clock=clock, account_ttl_s=86400.0)
    _run(pipe, clock, events)
    restored = PartitionPipeline(0, rules, clock=clock, account_ttl_s=86400.0)
    restored.restore(pipe.snapshot())
    n, expired = len(restored.accounts), restored.expired_accounts
    decoded: list[bytes] = []
    import monitor.pipeline as pipeline_module

    real = pipeline_module.decode_account

    def counting(packed: bytes) -> AccountState:
        decoded.append(packed)
        return real(packed)

    monkeypatch.setattr(pipeline_module, "decode_account", counting)
    # one account active 2 days later: the watermark moves past everyone else's TTL
    late = events[-1]
    for k in range(64 * 4):  # expiry runs every 64 advances of the watermark
        clock.now = late.epoch + 2 * 86400 + k
        restored.process(msgspec.structs.replace(late, ts=_at(clock.now), event_id=f"x{k}"))
    assert len(restored.accounts) < n // 2
    assert restored.expired_accounts - expired == n - len(restored.accounts)
    assert len(decoded) == 1  # only the active account was decoded
