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

A restore is lazy (:func:`load_states`): each account is written as a msgpack byte
string of its own, so reading the table only cuts it into one ``bytes`` per account;
the pipeline decodes an account (:func:`decode_account`) at its first event, and
expiry reads only its newest event time (:func:`packed_last_ts`). An account never
touched again is written back as it was read, without being decoded.

Format 2 packs each account so, and adds the records of recent event ids
(``AccountState.recent``, bytes as they are). A format-1 table (accounts inline) is
still read, decoded at once, with no recent ids: a copy of an event decided before the
restart is then folded in again, once, as before format 2.

>>> from monitor.events import decode
>>> from monitor.features import extract
>>> from monitor.testing import login
>>> st = AccountState()
>>> _ = extract(st, decode(login("a1", "2026-01-01T00:00:00Z", success=False)), 1767225600.0)
>>> back = decode_states(encode_states({"a1": st}))
>>> list(back), back["a1"].events, bytes(back["a1"].marks) == bytes(st.marks)
(['a1'], 1, True)
>>> st.admit("e1", 1767225600.0, 0.0), decode_states(encode_states({"a1": st}))["a1"].recent_count()
(True, 1)
>>> lazy = load_states(encode_states({"a1": st}))
>>> type(lazy["a1"]), packed_last_ts(lazy["a1"]) == st.last_ts
(<class 'bytes'>, True)
>>> encode_states(lazy) == encode_states({"a1": st})   # written back as read
True
>>> decode_account(lazy["a1"]).recent == st.recent
True
"""

from __future__ import annotations

import pickle
import sys
from array import array
from collections.abc import Mapping
from typing import Any

import msgspec
from river import stats

from monitor.features.state import AccountState

__all__ = [
    "Entry",
    "Packed",
    "decode_account",
    "decode_states",
    "encode_account",
    "encode_states",
    "load_states",
    "packed_last_ts",
]

FORMAT = 2  # bump on any change of the layout below
_READS = (1, 2)  # formats decode_states reads (1: no recent ids)


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
        st.recent,
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
        st.recent,
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


Packed = bytes  # one account as :func:`encode_account` wrote it, not decoded yet
Entry = AccountState | Packed  # a value of a lazily restored account table

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


class _Head(msgspec.Struct, array_like=True):
    """The first fields of a packed account (msgspec skips the rest)."""

    events: int
    first_ts: float
    last_ts: float


_head = msgspec.msgpack.Decoder(_Head).decode
_table = msgspec.msgpack.Decoder(tuple[int, list[str], list[Any]]).decode
_packed_table = msgspec.msgpack.Decoder(tuple[int, list[str], list[bytes]]).decode


def encode_account(st: AccountState) -> Packed:
    return _encode(_account_out(st))


def decode_account(packed: Packed) -> AccountState:
    """An account of a table read by :func:`load_states`."""
    return _account_in(_decode(packed))


def packed_last_ts(packed: Packed) -> float:
    """The account's newest event time, without decoding the rest (for expiry)."""
    return _head(packed).last_ts


def encode_states(accounts: Mapping[str, Entry]) -> bytes:
    """The account table as bytes (msgpack), in its order; accounts still packed (a
    lazily restored table) are written as they were read."""
    body = [
        FORMAT,
        list(accounts),
        [st if isinstance(st, bytes) else _encode(_account_out(st)) for st in accounts.values()],
    ]
    return _encode(body)


def load_states(data: bytes) -> dict[str, Entry]:
    """The account table written by :func:`encode_states`, each account still packed
    (bytes of its own; :func:`decode_account` when it is needed): a restore costs a
    fraction of a microsecond per account instead of ~10. ``ValueError`` if it is not
    such a table. A format-1 table is decoded at once."""
    states: list[Any]
    try:
        try:
            version, ids, states = _packed_table(data)
        except msgspec.ValidationError:  # not packed: format 1 (or not a table at all)
            version, ids, states = _table(data)
            if version != 1:
                raise
    except (msgspec.DecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"not an account-state table: {exc}") from exc
    if version not in _READS:
        raise ValueError(f"account-state format {version}, this version reads {_READS}")
    if len(ids) != len(states):
        raise ValueError("account-state table: ids and states differ in length")
    if version == 1:  # each account inline, no recent event ids: decoded at once
        for v in states:
            if type(v) is not list:
                raise ValueError("account-state table (format 1): an account is not an array")
            v.append(b"")
        return {account: _account_in(v) for account, v in zip(ids, states, strict=True)}
    return dict(zip(ids, states, strict=True))


def decode_states(data: bytes) -> dict[str, AccountState]:
    """The account table written by :func:`encode_states`, every account decoded;
    ``ValueError`` if it is not such a table."""
    return {
        account: decode_account(st) if isinstance(st, bytes) else st
        for account, st in load_states(data).items()
    }
