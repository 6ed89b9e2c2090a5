"""Where webhooks may go: https only, and never to a private address unless allow-listed.

A webhook URL is configuration, but the addresses behind it are not: DNS can change
after start-up, so the sender checks again before every attempt. Every address a host
resolves to must pass; one private address among public ones refuses the URL.

>>> check_url("https://hooks.wallet.example/vigil", allow_http_loopback=False,
...           allow_private=(), resolver=lambda host, port: ["10.0.0.5"])
Traceback (most recent call last):
...
monitor.responders.exceptions.WebhookConfigError: hooks.wallet.example resolves to 10.0.0.5, ...
>>> check_url("https://hooks.wallet.example/vigil", allow_http_loopback=False,
...           allow_private=(), resolver=lambda host, port: ["93.184.215.14"])
>>> check_url("http://127.0.0.1:8080/hook", allow_http_loopback=True, allow_private=())
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.responders.exceptions import UnresolvableHostError, WebhookConfigError

__all__ = [
    "Resolver",
    "Target",
    "check_url",
    "parse_allow_list",
    "parse_url",
    "system_resolver",
]

Resolver = Callable[[str, int], Iterable[str]]
"""``(host, port) -> IP address strings``; raises ``UnresolvableHostError`` on failure."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lower case, no brackets, no trailing dot
    port: int
    literal: IPAddress | None  # the host, when it is an IP address


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``socket.getaddrinfo``)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHostError(f"cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


def parse_url(url: str, *, allow_http_loopback: bool) -> Target:
    """The checks that need no DNS: scheme, host, port, no credentials in the URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookConfigError(f"malformed webhook URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http"):
        raise WebhookConfigError(f"webhook URLs must be https, not {scheme or 'relative'}")
    if not host:
        raise WebhookConfigError(f"webhook URL {url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookConfigError("webhook URLs may not carry credentials; use the secret")
    literal = _ip(host)
    if scheme == "http":
        loopback = host in _LOOPBACK_NAMES or (literal is not None and literal.is_loopback)
        if not (allow_http_loopback and loopback):
            raise WebhookConfigError(
                "webhook URLs must be https (http is allowed only for a loopback receiver in tests)"
            )
    return Target(scheme, host, port or (443 if scheme == "https" else 80), literal)


def check_url(
    url: str,
    *,
    allow_http_loopback: bool,
    allow_private: Collection[str],
    resolver: Resolver = system_resolver,
) -> None:
    """Refuse (``WebhookConfigError``) a URL the policy does not allow.

    Only https; http only to loopback and only with ``allow_http_loopback`` (tests).
    The host is resolved and each address must be public, unless it is in an
    ``allow_private`` network (``10.1.0.0/16``, ``fd00::1``) or the host name itself is
    listed (``wallet-backend.internal``). ``allow_http_loopback`` also lets loopback
    addresses through. A failed lookup raises ``UnresolvableHostError``."""
    target = parse_url(url, allow_http_loopback=allow_http_loopback)
    networks, names = parse_allow_list(allow_private)
    if target.literal is not None:
        addresses: list[IPAddress] = [target.literal]
    else:
        resolved = [a for a in (_ip(str(r)) for r in resolver(target.host, target.port)) if a]
        if not resolved:
            raise UnresolvableHostError(f"{target.host} resolves to no IP address")
        addresses = resolved
    if target.scheme == "http" and not all(a.is_loopback for a in addresses):
        raise WebhookConfigError(f"http is allowed only for loopback; {target.host} is not")
    if target.host in names:
        return
    for address in addresses:
        kind = _non_public(address)
        if kind is None or any(address in net for net in networks):
            continue
        if kind == "loopback" and allow_http_loopback:
            continue
        where = (
            "the webhook URL points at"
            if target.literal is not None
            else f"{target.host} resolves to"
        )
        raise WebhookConfigError(
            f"{where} {address}, a {kind} address; allow-list it (allow_private) "
            "only if the receiver really is there"
        )


def _ip(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _non_public(address: IPAddress) -> str | None:
    """What makes an address unfit for a webhook, or None if it is a public unicast one."""
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def parse_allow_list(
    entries: Collection[str],
) -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], set[str]]:
    """Networks (``10.1.0.0/16``, ``fd00::1``) and host names of an allow-list."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    names: set[str] = set()
    for entry in entries:
        text = entry.strip()
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            if not text or "/" in text or ":" in text or text.replace(".", "").isdigit():
                raise WebhookConfigError(f"bad webhook allow-list entry {entry!r}") from None
            names.add(text.lower().rstrip("."))
    return networks, names
