"""Event contract v1 for topic ``wallet.events`` (see ``docs/events.md``).

Decoding never raises: :func:`decode` returns either an :class:`Event` or a
:class:`DecodeError` that names the reason, so the stream can route bad input to
the dead-letter topic and keep going.

>>> ev = decode(b'{"event_id":"e1","type":"login","account_id":"a1",'
...             b'"ts":"2026-03-01T10:00:00+08:00","success":false,'
...             b'"failure_reason":"bad_password","method":"password"}')
>>> ev.type, ev.account_id, ev.success, ev.epoch
('login', 'a1', False, 1772330400.0)
>>> decode(b'{"event_id":"e1","type":"login"}').reason
'schema'
>>> decode(b'\\xff').reason
'invalid_utf8'
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, TypeVar

import msgspec

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DecodeError",
    "Event",
    "Geo",
    "Login",
    "Payment",
    "Security",
    "Topup",
    "Verdict",
    "decode",
    "decode_verdict",
    "encode",
]

DEFAULT_MAX_BYTES = 64 * 1024
T = TypeVar("T")

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Text = Annotated[str, msgspec.Meta(max_length=256)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]  # RFC 3339 with an offset
Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
Amount = Annotated[float, msgspec.Meta(gt=0)]
Channel = Literal["app", "web", "api"]
EventType = Literal["login", "payment", "topup", "security"]


class Geo(msgspec.Struct, frozen=True):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    country: Country
    city: Text | None = None


class _Base(msgspec.Struct, frozen=True, tag_field="type", kw_only=True):
    """Fields common to every event type. ``ts`` is event time."""

    event_id: Id
    account_id: Id
    ts: Timestamp
    device_id: Id | None = None
    ip: Text | None = None
    geo: Geo | None = None
    channel: Channel | None = None

    @property
    def epoch(self) -> float:
        """Event time in seconds since the Unix epoch (what windows are built on)."""
        return self.ts.timestamp()


class Login(_Base, frozen=True, tag="login"):
    type: ClassVar[EventType] = "login"
    success: bool
    method: Literal["password", "otp", "biometric", "sms"]
    failure_reason: Text | None = None


class Payment(_Base, frozen=True, tag="payment"):
    type: ClassVar[EventType] = "payment"
    amount: Amount
    currency: Currency
    kind: Literal["purchase", "transfer", "withdrawal"]
    payee_id: Id
    status: Literal["succeeded", "failed", "pending"]
    failure_reason: Text | None = None


class Topup(_Base, frozen=True, tag="topup"):
    type: ClassVar[EventType] = "topup"
    amount: Amount
    currency: Currency
    source_id: Id
    status: Literal["pending", "credited", "failed"]
    failure_reason: Text | None = None


class Security(_Base, frozen=True, tag="security"):
    type: ClassVar[EventType] = "security"
    action: Literal[
        "password_reset_requested",
        "password_changed",
        "phone_changed",
        "email_changed",
        "device_bound",
        "mfa_disabled",
        "payee_added",
    ]
    success: bool


Event = Login | Payment | Topup | Security


class DecodeError(msgspec.Struct, frozen=True):
    """Why a message could not be decoded. ``reason`` is a bounded label
    (``too_large`` | ``invalid_utf8`` | ``invalid_json`` | ``schema``), ``detail``
    the decoder's own words (for the dead-letter headers and logs)."""

    reason: str
    detail: str


_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()


def decode(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> Event | DecodeError:
    """Decode one Kafka message value into an event, or say why not."""
    return decode_with(_decoder, raw, max_bytes)


def decode_with(
    decoder: msgspec.json.Decoder[T], raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES
) -> T | DecodeError:
    """Decode a JSON message with ``decoder``, or say why not: the checks every Vigil
    message gets (events, verdicts, commands)."""
    if raw is None:
        return DecodeError("invalid_json", "message has no value (tombstone)")
    if len(raw) > max_bytes:
        return DecodeError("too_large", f"message is {len(raw)} bytes, limit is {max_bytes}")
    # msgspec does not validate UTF-8 inside strings it skips; ASCII is the common
    # case and ``isascii`` is a C scan, so only non-ASCII payloads pay for the check.
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return DecodeError("invalid_utf8", str(exc))
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return DecodeError("schema", str(exc))
    except msgspec.DecodeError as exc:
        return DecodeError("invalid_json", str(exc))


class Verdict(msgspec.Struct, frozen=True):
    """A support verdict on an alert, on topic ``wallet.verdicts`` (key = account_id)."""

    alert_id: Id
    account_id: Id
    verdict: Literal["fraud", "legitimate", "inconclusive"]
    ts: Timestamp
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


_verdict_decoder = msgspec.json.Decoder(Verdict)


def decode_verdict(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> Verdict | DecodeError:
    """Decode a verdict message, or say why not (same reasons as :func:`decode`).

    >>> decode_verdict(b'{"alert_id":"al_1","account_id":"a","verdict":"fraud",'
    ...                b'"ts":"2026-01-02T00:00:00Z"}').verdict
    'fraud'
    >>> decode_verdict(b'{"alert_id":"al_1","verdict":"maybe"}').reason
    'schema'
    """
    return decode_with(_verdict_decoder, raw, max_bytes)


def encode(event: Event) -> bytes:
    """Encode an event in the contract's JSON form (used by the simulator and tests).

    >>> raw = encode(decode(b'{"event_id":"e","type":"security","account_id":"a",'
    ...                     b'"ts":"2026-01-01T00:00:00Z","action":"mfa_disabled","success":true}'))
    >>> decode(raw).action
    'mfa_disabled'
    """
    return _encoder.encode(event)
