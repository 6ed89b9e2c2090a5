"""The account-state codec: recent event ids round-trip (format 2); format-1 tables,
written before they existed, are still read, with none."""

from __future__ import annotations

import msgspec
import pytest

from monitor.events import DecodeError, decode
from monitor.features import AccountState, extract
from monitor.features.codec import FORMAT, decode_states, encode_states
from monitor.testing import login


def _state(*ids: str) -> AccountState:
    st = AccountState()
    for i, event_id in enumerate(ids):
        event = decode(login("a1", f"2026-01-01T00:0{i}:00Z", event_id=event_id))
        assert not isinstance(event, DecodeError)
        assert st.admit(event_id, event.epoch, event.epoch - 300.0)
        extract(st, event, event.epoch)
    return st


def test_recent_ids_round_trip() -> None:
    st = _state("e1", "e2", "e3")
    back = decode_states(encode_states({"a1": st, "a2": AccountState()}))
    assert back["a1"].recent == st.recent and back["a1"].recent_count() == 3
    assert back["a2"].recent == b""
    last = back["a1"]
    assert not last.admit("e2", st.last_ts - 60.0, st.last_ts - 300.0)  # still a copy
    assert last.admit("e4", st.last_ts + 1.0, st.last_ts - 299.0)


def test_format_2_packs_each_account_in_a_byte_string_of_its_own() -> None:
    version, ids, states = msgspec.msgpack.decode(encode_states({"a1": _state("e1")}))
    assert (version, FORMAT, ids, type(states[0])) == (2, 2, ["a1"], bytes)
    assert len(msgspec.msgpack.decode(states[0])) == 21


def test_a_format_1_table_is_read_with_no_recent_ids() -> None:
    st = _state("e1", "e2")
    _, ids, states = msgspec.msgpack.decode(encode_states({"a1": st}))
    inline = [msgspec.msgpack.decode(v)[:-1] for v in states]
    old = msgspec.msgpack.encode([1, ids, inline])  # as format 1 wrote it
    back = decode_states(old)["a1"]
    assert back.recent == b"" and back.events == st.events and back.marks == st.marks
    # nothing is remembered: a copy of e2 is admitted again (as before format 2)
    assert back.admit("e2", st.last_ts, st.last_ts - 300.0)


@pytest.mark.parametrize("version", [0, 3, 99])
def test_other_formats_are_refused(version: int) -> None:
    with pytest.raises(ValueError, match=f"account-state format {version}, this version reads"):
        decode_states(msgspec.msgpack.encode([version, [], []]))
