"""Account states to bytes and back, fast enough for a million accounts per restart.

``pickle`` of the account table took ~20 µs per account to write and ~10 µs to read
(measured: 2.0 s and 1.0 s for 100k accounts), most of it in the generic object
protocol of ``AccountState`` and river's ``Quantile``. Here each account is a flat
msgpack array of primitives and byte strings (the arrays' own buffers), written and
read by msgspec in C; the median's estimator is carried as the state river's Rust
``Quantile`` exports itself (a 170-byte blob), with pickle as the fallback should a
river release stop exporting it. The account table's order (least recently active
first) is kept, so expiry continues where it left off.

The fingerprint of the last (device, IP, country) is per process (Python's ``hash``):
it is written as 0, so the first event after a restore takes the long way.

>>> from monitor.events import decode
>>> from monitor.features import extract
>>> from monitor.testing import login
>>> st = AccountState()
>>> _ = extract(st, decode(login("a1", "2026-01-01T00:00:00Z", success=False)), 1767225600.0)
>>> back = decode_states(encode_states({"a1": st}))
>>> list(back), back["a1"].events, bytes(back["a1"].marks) == bytes(st.marks)
(['a1'], 1, True)
"""

from __future__ import annotations

import pickle
import sys
from array import array
from typing import Any

import msgspec
from river import stats

from monitor.features.state import AccountState

__all__ = ["decode_states", "encode_states"]

FORMAT = 1  # bump on any change of the layout below


def _quantile_out(q: stats.Quantile | None) -> Any:
    if q is None:
        return None
    inner = getattr(q, "_quantile", None)
    if inner is not None and hasattr(inner, "__getstate__"):
        try:
            return [q.q, bool(getattr(q, "_is_updated", True)), inner.__getstate__()]
        except TypeError:
            pass
    return pickle.dumps(q)


def _quantile_in(value: Any) -> stats.Quantile | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        restored: stats.Quantile = pickle.loads(value)  # written by this process type
        return restored
    level, updated, blob = value
    q = stats.Quantile(level)
    inner = q._quantile
    inner.__setstate__(blob)
    q._is_updated = updated
    return q


def _account_out(st: AccountState) -> tuple[Any, ...]:
    geo, new, topup = st.last_geo, st.last_new, st.last_topup
    return (
        st.events,
        st.first_ts,
        st.last_ts,
        st.times.tobytes(),
        bytes(st.marks),
        st.amounts.tobytes(),
        bytes(st.seen),
        st.seen_counts,
        st.amount_n,
        st.amount_mean,
        st.amount_m2,
        st.amount_max,
        _quantile_out(st.amount_median),
        None if geo is None else geo.tobytes(),
        st.last_city,
        st.last_method,
        None if new is None else new.tobytes(),
        st.last_change,
        None if topup is None else list(topup),
        st.cooldowns,
    )


_new_state = AccountState.__new__


def _account_in(v: list[Any]) -> AccountState:
    # every slot set once, without running __init__ first (2x faster to restore)
    st = _new_state(AccountState)
    (
        st.events,
        st.first_ts,
        st.last_ts,
        times,
        marks,
        amounts,
        seen,
        st.seen_counts,
        st.amount_n,
        st.amount_mean,
        st.amount_m2,
        st.amount_max,
        median,
        geo,
        city,
        st.last_method,
        new,
        st.last_change,
        topup,
        st.cooldowns,
    ) = v
    st.times = array("d", times)
    st.marks = bytearray(marks)
    st.amounts = array("f", amounts)
    st.seen = bytearray(seen)
    st.novelty_fp = 0
    st.amount_median = None if median is None else _quantile_in(median)
    st.last_geo = None if geo is None else array("d", geo)
    st.last_city = sys.intern(city)
    st.last_new = None if new is None else array("d", new)
    st.last_topup = None if topup is None else (topup[0], topup[1], topup[2])
    return st


def encode_states(accounts: dict[str, AccountState]) -> bytes:
    """The account table as bytes (msgpack), in its order."""
    body = [FORMAT, list(accounts), [_account_out(st) for st in accounts.values()]]
    return msgspec.msgpack.encode(body)


def decode_states(data: bytes) -> dict[str, AccountState]:
    """The account table written by :func:`encode_states`; ``ValueError`` if it is not."""
    try:
        version, ids, states = msgspec.msgpack.decode(data)
    except (msgspec.DecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"not an account-state table: {exc}") from exc
    if version != FORMAT:
        raise ValueError(f"account-state format {version}, this version reads {FORMAT}")
    if len(ids) != len(states):
        raise ValueError("account-state table: ids and states differ in length")
    return {account: _account_in(v) for account, v in zip(ids, states, strict=True)}
