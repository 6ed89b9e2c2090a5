"""Event contract v1: ``decode`` returns an event or a labelled ``DecodeError``, never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import testing as t
from monitor.events import (
    DEFAULT_MAX_BYTES,
    DecodeError,
    Geo,
    Login,
    Payment,
    Security,
    Topup,
    decode,
    encode,
)

TS = "2026-03-01T10:00:00+08:00"
COMMON: dict[str, Any] = {
    "event_id": "evt-1",
    "account_id": "acc-1",
    "ts": TS,
    "device_id": "dev-1",
    "ip": "10.0.0.1",
    "geo": {"lat": 31.23, "lon": 121.47, "country": "CN", "city": "Shanghai"},
    "channel": "app",
}
VALID: dict[str, dict[str, Any]] = {
    "login": {
        **COMMON,
        "type": "login",
        "success": False,
        "method": "password",
        "failure_reason": "bad_password",
    },
    "payment": {
        **COMMON,
        "type": "payment",
        "amount": 12.5,
        "currency": "CNY",
        "kind": "transfer",
        "payee_id": "payee-9",
        "status": "succeeded",
    },
    "topup": {
        **COMMON,
        "type": "topup",
        "amount": 500,
        "currency": "CNY",
        "source_id": "card-1",
        "status": "credited",
    },
    "security": {**COMMON, "type": "security", "action": "password_changed", "success": True},
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "login": ("event_id", "account_id", "ts", "type", "success", "method"),
    "payment": (
        "event_id",
        "account_id",
        "ts",
        "type",
        "amount",
        "currency",
        "kind",
        "payee_id",
        "status",
    ),
    "topup": ("event_id", "account_id", "ts", "type", "amount", "currency", "source_id", "status"),
    "security": ("event_id", "account_id", "ts", "type", "action", "success"),
}
CLASSES = {"login": Login, "payment": Payment, "topup": Topup, "security": Security}


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def with_(event_type: str, **changes: Any) -> bytes:
    return raw({**VALID[event_type], **changes})


def reason_of(result: object) -> str:
    assert isinstance(result, DecodeError), f"expected a DecodeError, got {result!r}"
    return result.reason


# --- valid input ------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_every_event_type_decodes_from_a_valid_example(event_type):
    ev = decode(raw(VALID[event_type]))
    assert isinstance(ev, CLASSES[event_type])
    assert ev.type == event_type
    assert (ev.event_id, ev.account_id, ev.device_id, ev.ip, ev.channel) == (
        "evt-1",
        "acc-1",
        "dev-1",
        "10.0.0.1",
        "app",
    )
    assert ev.geo == Geo(lat=31.23, lon=121.47, country="CN", city="Shanghai")
    assert ev.ts == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert ev.epoch == 1772330400.0


def test_decoded_fields_carry_their_values():
    pay = decode(raw(VALID["payment"]))
    assert isinstance(pay, Payment)
    assert (pay.amount, pay.currency, pay.kind, pay.payee_id, pay.status) == (
        12.5,
        "CNY",
        "transfer",
        "payee-9",
        "succeeded",
    )
    assert pay.failure_reason is None
    top = decode(raw(VALID["topup"]))
    assert isinstance(top, Topup)
    assert top.amount == 500.0 and isinstance(top.amount, float)
    sec = decode(raw(VALID["security"]))
    assert isinstance(sec, Security)
    assert (sec.action, sec.success) == ("password_changed", True)


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_minimal_event_with_only_required_fields_decodes(event_type):
    body = {k: v for k, v in VALID[event_type].items() if k in REQUIRED[event_type]}
    ev = decode(raw(body))
    assert isinstance(ev, CLASSES[event_type])
    assert ev.device_id is None and ev.geo is None and ev.channel is None and ev.ip is None


def test_offsets_are_kept_and_epoch_is_the_instant():
    a = decode(with_("login", ts="2026-03-01T10:00:00+08:00"))
    b = decode(with_("login", ts="2026-03-01T02:00:00Z"))
    assert isinstance(a, Login) and isinstance(b, Login)
    assert a.ts.utcoffset() == timedelta(hours=8)
    assert a.epoch == b.epoch == 1772330400.0


def test_unknown_fields_are_ignored():
    body = {**VALID["payment"], "schema_version": 2, "extra": {"nested": [1, 2, {"x": None}]}}
    assert decode(raw(body)) == decode(raw(VALID["payment"]))


def test_geo_city_is_optional():
    geo = {"lat": -33.9, "lon": 151.2, "country": "AU"}
    ev = decode(with_("login", geo=geo))
    assert isinstance(ev, Login)
    assert ev.geo == Geo(lat=-33.9, lon=151.2, country="AU", city=None)


# --- schema errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "field"),
    [(et, f) for et, fields in sorted(REQUIRED.items()) for f in fields],
)
def test_each_missing_required_field_is_a_schema_error(event_type, field):
    body = {k: v for k, v in VALID[event_type].items() if k != field}
    result = decode(raw(body))
    assert reason_of(result) == "schema"
    assert f"`{field}`" in result.detail


@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        ("login", {"success": "yes"}),
        ("login", {"success": 1}),
        ("login", {"event_id": 5}),
        ("login", {"account_id": None}),
        ("login", {"ts": 1772330400}),
        ("login", {"ts": "yesterday"}),
        ("login", {"geo": "Shanghai"}),
        ("login", {"geo": {"lat": "31", "lon": 121.47, "country": "CN"}}),
        ("login", {"device_id": ["dev-1"]}),
        ("payment", {"amount": "12.5"}),
        ("payment", {"amount": True}),
        ("payment", {"payee_id": 42}),
        ("topup", {"amount": None}),
        ("security", {"success": "true"}),
        ("security", {"action": 3}),
    ],
)
def test_wrong_types_are_schema_errors(event_type, changes):
    assert reason_of(decode(with_(event_type, **changes))) == "schema"


@pytest.mark.parametrize(
    "ts",
    ["2026-03-01T10:00:00", "2026-03-01 10:00:00", "2026-03-01T10:00:00.123456"],
)
def test_naive_timestamp_without_offset_is_a_schema_error(ts):
    result = decode(with_("login", ts=ts))
    assert reason_of(result) == "schema"
    assert "$.ts" in result.detail


@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        ("login", {"type": "logout"}),
        ("login", {"method": "fingerprint"}),
        ("login", {"channel": "sms"}),
        ("payment", {"kind": "refund"}),
        ("payment", {"status": "done"}),
        ("topup", {"status": "succeeded"}),
        ("security", {"action": "hack"}),
        ("security", {"action": "PASSWORD_CHANGED"}),
    ],
)
def test_bad_enum_values_are_schema_errors(event_type, changes):
    assert reason_of(decode(with_(event_type, **changes))) == "schema"


@pytest.mark.parametrize("event_type", ["payment", "topup"])
@pytest.mark.parametrize("amount", [0, 0.0, -0.01, -100])
def test_amount_must_be_positive(event_type, amount):
    result = decode(with_(event_type, amount=amount))
    assert reason_of(result) == "schema"
    assert "$.amount" in result.detail


def test_smallest_positive_amount_is_accepted():
    ev = decode(with_("payment", amount=0.01))
    assert isinstance(ev, Payment) and ev.amount == 0.01


def test_out_of_range_amount_is_rejected():
    body = with_("payment").replace(b'"amount": 12.5', b'"amount": 1e999')
    assert reason_of(decode(body)) == "schema"


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYY", "C1Y", "", "€€€"])
def test_currency_must_be_three_capital_letters(currency):
    assert reason_of(decode(with_("payment", currency=currency))) == "schema"


@pytest.mark.parametrize("country", ["cn", "CHN", "C", "1N", ""])
def test_country_must_be_two_capital_letters(country):
    geo = {**COMMON["geo"], "country": country}
    assert reason_of(decode(with_("login", geo=geo))) == "schema"


@pytest.mark.parametrize(("lat", "lon"), [(90.01, 0.0), (-90.01, 0.0), (0.0, 180.5), (0.0, -181)])
def test_coordinates_must_be_on_earth(lat, lon):
    geo = {**COMMON["geo"], "lat": lat, "lon": lon}
    assert reason_of(decode(with_("login", geo=geo))) == "schema"


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("login", "event_id"),
        ("login", "account_id"),
        ("login", "device_id"),
        ("payment", "payee_id"),
        ("topup", "source_id"),
    ],
)
def test_ids_longer_than_128_chars_are_rejected(event_type, field):
    ok = decode(with_(event_type, **{field: "x" * 128}))
    assert isinstance(ok, CLASSES[event_type])
    result = decode(with_(event_type, **{field: "x" * 129}))
    assert reason_of(result) == "schema"
    assert f"$.{field}" in result.detail


def test_empty_ids_are_rejected():
    assert reason_of(decode(with_("login", event_id=""))) == "schema"


def test_free_text_over_256_chars_is_rejected():
    assert reason_of(decode(with_("login", failure_reason="r" * 257))) == "schema"


def test_top_level_must_be_an_object():
    assert reason_of(decode(b"[1, 2, 3]")) == "schema"
    assert reason_of(decode(b'"login"')) == "schema"


# --- malformed bytes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_id": "\xff", "type": "login"}',
        with_("login").replace(b'"acc-1"', b'"acc-\xc3\x28"'),
        # inside a field the decoder would skip
        with_("login").replace(b'"type"', b'"ignored": "\xfe\xff", "type"'),
        with_("login")[:-1] + b', "x": {"y": ["\xed\xa0\x80"]}}',  # encoded surrogate
        b"\x80",
    ],
)
def test_invalid_utf8_anywhere_is_reported(body):
    assert reason_of(decode(body)) == "invalid_utf8"


def test_valid_non_ascii_text_decodes():
    ev = decode(with_("login", failure_reason="mot de passe erroné — 密码错误"))
    assert isinstance(ev, Login)
    assert ev.failure_reason == "mot de passe erroné — 密码错误"


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"{", b'{"event_id": "e1",}', b"{'a': 1}", b"\x00", b"nul"]
)
def test_non_json_is_invalid_json(body):
    assert reason_of(decode(body)) == "invalid_json"


def test_over_max_bytes_is_too_large_and_the_limit_is_inclusive():
    body = with_("login")
    assert isinstance(decode(body, max_bytes=len(body)), Login)
    result = decode(body, max_bytes=len(body) - 1)
    assert reason_of(result) == "too_large"
    assert str(len(body)) in result.detail


def test_default_limit_is_64_kib():
    assert DEFAULT_MAX_BYTES == 65536
    padding = "p" * DEFAULT_MAX_BYTES
    assert reason_of(decode(with_("login", padding=padding))) == "too_large"


def test_none_value_is_an_error_not_an_exception():
    result = decode(None)
    assert reason_of(result) == "invalid_json"
    assert "tombstone" in result.detail


# --- properties --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_decode_of_arbitrary_bytes_never_raises(data):
    result = decode(data)
    assert isinstance(result, Login | Payment | Topup | Security | DecodeError)
    if isinstance(result, DecodeError):
        assert result.reason in {"too_large", "invalid_utf8", "invalid_json", "schema"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(sorted(VALID)),
    field=st.sampled_from(sorted({f for body in VALID.values() for f in body} | {"extra"})),
    value=json_values,
    max_bytes=st.integers(min_value=0, max_value=1024),
)
def test_decode_of_mutated_events_never_raises(event_type, field, value, max_bytes):
    body = json.dumps({**VALID[event_type], field: value}).encode()
    result = decode(body, max_bytes=max_bytes)
    assert isinstance(result, Login | Payment | Topup | Security | DecodeError)
    if len(body) > max_bytes:
        assert reason_of(result) == "too_large"


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=128)
amounts = st.floats(min_value=0.01, max_value=1e9, allow_nan=False, allow_infinity=False)


def _iso(ts: datetime, offset_h: int) -> str:
    return ts.astimezone(timezone(timedelta(hours=offset_h))).isoformat()


@st.composite
def helper_events(draw) -> bytes:
    kind = draw(st.sampled_from(["login", "payment", "security", "topup"]))
    account = draw(ids)
    ts = _iso(draw(instants), draw(st.integers(min_value=-12, max_value=14)))
    event_id = draw(ids)
    if kind == "login":
        return t.login(
            account,
            ts,
            success=draw(st.booleans()),
            event_id=event_id,
            device_id=draw(st.none() | ids),
            geo=draw(st.sampled_from([t.SHANGHAI, t.LAGOS])),
            method=draw(st.sampled_from(["password", "otp", "biometric", "sms"])),
        )
    if kind == "payment":
        return t.payment(
            account,
            ts,
            draw(amounts),
            kind=draw(st.sampled_from(["purchase", "transfer", "withdrawal"])),
            payee_id=draw(ids),
            status=draw(st.sampled_from(["succeeded", "failed", "pending"])),
            event_id=event_id,
            currency=draw(st.sampled_from(["CNY", "USD", "NGN"])),
        )
    if kind == "topup":
        return t.topup(
            account,
            ts,
            draw(amounts),
            status=draw(st.sampled_from(["pending", "credited", "failed"])),
            source_id=draw(ids),
            event_id=event_id,
        )
    return t.security(
        account,
        ts,
        draw(st.sampled_from(["password_reset_requested", "password_changed", "mfa_disabled"])),
        success=draw(st.booleans()),
        event_id=event_id,
    )


@settings(max_examples=200, deadline=None)
@given(helper_events())
def test_round_trip_decode_encode_is_identity(body):
    event = decode(body)
    assert not isinstance(event, DecodeError), event
    again = decode(encode(event))
    assert again == event
    assert type(again) is type(event)
    assert again.ts.utcoffset() == event.ts.utcoffset()
    assert encode(again) == encode(event)
