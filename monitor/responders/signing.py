"""Webhook signatures as Standard Webhooks specifies (https://www.standardwebhooks.com).

A secret is ``whsec_`` + the base64 of 24 to 64 random key bytes. Each delivery carries
three headers: ``webhook-id`` (the action id: receivers dedupe on it), ``webhook-timestamp``
(Unix seconds of the attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
``f"{id}.{timestamp}.{body}"``, one per active secret, separated by spaces, so a secret can
be rotated without a moment when receivers reject deliveries.

``verify``, ``secret_key`` and ``ReplayGuard`` depend on the standard library only: the
receiver code in ``docs/webhooks.md`` is their source, verbatim (a test keeps it so).

>>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
>>> headers = sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}', [secret])
>>> headers["webhook-signature"]
'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
>>> verify(headers, b'{"test": 2432232314}', [secret], now=1614265330 + 60)
>>> verify(headers, b'{"test": 2432232315}', [secret], now=1614265330)
Traceback (most recent call last):
...
monitor.responders.exceptions.WebhookVerificationError: no signature matches an active secret ...
>>> guard = ReplayGuard(ttl_s=600)
>>> guard.seen_before("msg_1", now=1000.0), guard.seen_before("msg_1", now=1001.0)
(False, True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from monitor.responders.exceptions import WebhookConfigError, WebhookVerificationError

__all__ = ["ReplayGuard", "new_secret", "secret_key", "sign", "verify"]

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


def new_secret(nbytes: int = 32) -> str:
    """A fresh random secret, ``whsec_`` + base64 of ``nbytes`` key bytes.

    >>> s = new_secret()
    >>> s.startswith("whsec_"), len(secret_key(s))
    (True, 32)
    """
    if not 24 <= nbytes <= 64:
        raise ValueError("Standard Webhooks keys have 24 to 64 bytes")
    return SECRET_PREFIX + base64.b64encode(os.urandom(nbytes)).decode("ascii")


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    """The three signature headers of one delivery attempt, one signature per secret.

    ``timestamp`` is the attempt's Unix time in seconds (each retry is signed anew, so a
    retry after minutes is not stale). Raises ``WebhookConfigError`` for a bad secret."""
    if not secrets:
        raise WebhookConfigError("at least one webhook secret is needed")
    if not (msg_id.isascii() and msg_id.isprintable()) or not msg_id or " " in msg_id:
        raise ValueError(f"a webhook id must be printable ASCII without spaces: {msg_id!r}")
    ts = str(int(timestamp))
    content = f"{msg_id}.{ts}.".encode() + body
    try:
        keys = [secret_key(s) for s in secrets]
    except ValueError as exc:
        raise WebhookConfigError(str(exc)) from exc
    signatures = [
        "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")
        for key in keys
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": " ".join(signatures),
    }


# --- receiver side: copied verbatim into docs/webhooks.md --------------------------------


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_...`` secret (the prefix is optional)."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError(f"a webhook secret needs 24 to 64 key bytes, this one has {len(key)}")
    return key


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_s: float = 300,
) -> None:
    """Check one delivery; return None if it is authentic, else raise WebhookVerificationError.

    ``headers``: the request headers (any case); ``body``: the raw body, byte for byte,
    before any JSON parsing; ``secrets``: the active ``whsec_...`` secrets (two during a
    rotation); ``now``: the receiver's clock in Unix seconds. The error's ``reason`` is
    ``missing_headers``, ``bad_timestamp``, ``too_old``, ``too_new`` or ``bad_signature``.
    """
    if not secrets:
        raise ValueError("no webhook secret configured")
    lowered = {name.lower(): value for name, value in headers.items()}
    wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
    missing = [name for name in wanted if not lowered.get(name)]
    if missing:
        raise WebhookVerificationError("missing_headers", "missing " + ", ".join(missing))
    msg_id, timestamp, signatures = (lowered[name] for name in wanted)
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise WebhookVerificationError("bad_timestamp", f"bad webhook-timestamp {timestamp!r}")
    sent = int(timestamp)
    if sent < now - tolerance_s:
        raise WebhookVerificationError(
            "too_old", f"timestamp is {now - sent:.0f} s old (tolerance {tolerance_s} s)"
        )
    if sent > now + tolerance_s:
        raise WebhookVerificationError(
            "too_new", f"timestamp is {sent - now:.0f} s ahead (tolerance {tolerance_s} s)"
        )
    content = f"{msg_id}.{timestamp}.".encode() + body
    expected = [hmac.new(secret_key(s), content, hashlib.sha256).digest() for s in secrets]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        for digest in expected:
            if hmac.compare_digest(digest, given):
                return
    raise WebhookVerificationError(
        "bad_signature",
        "no signature matches an active secret (tampered body or headers, or a wrong secret)",
    )


class ReplayGuard:
    """Remembers verified webhook ids for ``ttl_s`` seconds.

    ``seen_before(msg_id, now)`` is False the first time and True for a repeat within
    ``ttl_s``: a replay or a redelivery. Answer it 2xx without acting again. Call it only
    after ``verify`` succeeded, and keep ``ttl_s`` at least twice the verify tolerance
    (a signed delivery stays valid from ``timestamp - tolerance`` to ``timestamp +
    tolerance``). Memory: one entry per id seen within ``ttl_s``. Not thread-safe.
    """

    def __init__(self, ttl_s: float = 600) -> None:
        self.ttl_s = ttl_s
        self._first_seen: OrderedDict[str, float] = OrderedDict()  # oldest first

    def seen_before(self, msg_id: str, now: float) -> bool:
        while self._first_seen:
            seen_at = next(iter(self._first_seen.values()))
            if now - seen_at < self.ttl_s:
                break
            self._first_seen.popitem(last=False)
        if msg_id in self._first_seen:
            return True
        self._first_seen[msg_id] = now
        return False

    def __len__(self) -> int:
        return len(self._first_seen)
