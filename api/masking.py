"""Personal data masked in every JSON answer of ``/v1`` unless a reveal was audited.

Two passes over any JSON-able value: a key known to hold personal data (``ip``,
``email``, ``phone``, ``source_id`` — a card or bank token — …) has its string values
masked by kind, and every other string is scanned for IPv4/IPv6 addresses, e-mail
addresses, phone numbers and card/bank tokens (reason texts, ``ops:ip:…`` ids).
Numbers and booleans are never personal here (``new_ip: true``, ``ip_failed_accounts_10m: 5``).

>>> masked = mask({"ip": "203.0.113.7", "new_ip": True, "email": "jane.doe@example.com",
...                  "phone": "+8613812341234", "source_id": "card-1a2b3c4d"})
>>> for key, value in masked.items(): print(key, value)
ip 203.0.113.x
new_ip True
email j***@example.com
phone +86******1234
source_id card-****3c4d
>>> mask(["failed logins from one IP (2001:db8:85a3::8a2e:370:7334)", "call 13812341234"])
['failed logins from one IP (2001:db8:85a3::x)', 'call ******1234']
>>> mask({"account_id": "ops:ip:203.0.113.7", "event_time": "2024-05-01T12:10:00+00:00"})
{'account_id': 'ops:ip:203.0.113.x', 'event_time': '2024-05-01T12:10:00+00:00'}
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["MaskedRoute", "mark_revealed", "mask", "mask_text"]

_STARS = "******"

# Keys whose string values are personal data, by kind (compared lower-case; a key's last
# "_" part counts too: client_ip, contact_email, payee_phone).
_KEY_KINDS = {
    "ip": "ip",
    "ips": "ip",
    "ip_address": "ip",
    "remote_addr": "ip",
    "subnet": "ip",
    "email": "email",
    "email_address": "email",
    "phone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "msisdn": "phone",
    "source_id": "token",  # the top-up's bank card or account token
    "payee_id": "token",
    "card": "token",
    "card_token": "token",
    "card_number": "token",
    "pan": "token",
    "bank_token": "token",
    "bank_account": "token",
    "iban": "token",
}

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# international (+86 138 1234 1234) or a mainland mobile (13812341234)
_PHONE = re.compile(r"(?<![\w+])(?:\+\d[\d ()-]{6,18}\d|1[3-9]\d{9})(?![\w])")
# card-1a2b3c4d, bank_9f8e7d6c, tok_…: a prefix and a body with at least one digit
_TOKEN = re.compile(
    r"(?<![\w-])(?:card|bank|tok|src|pm)[-_](?=[A-Za-z]*\d)[A-Za-z0-9]{6,}(?![\w-])"
)


def _ip(value: str) -> str:
    """203.0.113.7 → 203.0.113.x; an IPv6 address keeps its /48; a network keeps its
    prefix length."""
    address, slash, bits = value.partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _STARS if value else value
    if ip.version == 4:
        masked = address.rsplit(".", 1)[0] + ".x"
    else:
        masked = ":".join(f"{int(h, 16):x}" for h in ip.exploded.split(":")[:3]) + "::x"
    return masked + slash + bits


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else _STARS


def _phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    head = "+" + digits[:2] if value.startswith("+") else ""
    return f"{head}{_STARS}{digits[-4:]}" if len(digits) > 6 else _STARS


def _token(value: str) -> str:
    match = re.match(r"([A-Za-z]{1,6}[-_])?(.*)", value)
    prefix, rest = (match.group(1) or "", match.group(2)) if match else ("", value)
    return f"{prefix}****{rest[-4:]}" if len(rest) > 6 else "****"


_BY_KIND: dict[str, Callable[[str], str]] = {
    "ip": _ip,
    "email": _email,
    "phone": _phone,
    "token": _token,
}


def _ipv6_or_keep(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return text  # 12:10:00 and friends
    return _ip(text)


def _ipv4_or_keep(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return text
    return _ip(text)


def mask_text(text: str) -> str:
    """Every address, phone number and card/bank token in free text, masked.

    >>> mask_text("login from 198.51.100.23 by jo@example.org at 12:10:00, version 1.2.3")
    'login from 198.51.100.x by j***@example.org at 12:10:00, version 1.2.3'
    """
    text = _EMAIL.sub(lambda m: _email(m.group(0)), text)
    text = _IPV4.sub(_ipv4_or_keep, text)
    text = _IPV6.sub(_ipv6_or_keep, text)
    text = _TOKEN.sub(lambda m: _token(m.group(0)), text)
    return _PHONE.sub(lambda m: _phone(m.group(0)), text)


def _kind(key: str) -> str | None:
    k = key.lower()
    return _KEY_KINDS.get(k) or _KEY_KINDS.get(k.rsplit("_", 1)[-1])


def mask(value: Any, kind: str | None = None) -> Any:
    """``value`` (JSON-able) with personal data masked; the input is not modified."""
    if isinstance(value, str):
        if kind is not None and value:
            return _BY_KIND[kind](value)
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_text(str(k)): mask(v, _kind(str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, kind) for v in value]
    return value


def mark_revealed(request: Request) -> None:
    """This request's answer goes out unmasked: call only after its reveal was audited."""
    request.state.reveal = True


class MaskedRoute(APIRoute):
    """A route whose JSON answers are masked unless the handler called
    :func:`mark_revealed`. Every ``/v1`` router uses it, so a new route is masked by
    default and unmasking takes an explicit, audited step."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def masked(request: Request) -> Response:
            response: Response = await handler(request)
            if getattr(request.state, "reveal", False) or response.media_type != "application/json":
                return response
            body = bytes(response.body)
            if not body:
                return response
            masked_body = json.dumps(
                mask(json.loads(body)), ensure_ascii=False, separators=(",", ":")
            ).encode()
            response.body = masked_body
            response.headers["content-length"] = str(len(masked_body))
            return response

        return masked
