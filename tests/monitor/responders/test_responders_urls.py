"""The webhook URL policy: https only, no private targets unless allow-listed."""

from __future__ import annotations

import re
import socket
from collections.abc import Collection, Iterable

import pytest

from monitor.responders.exceptions import UnresolvableHostError, WebhookConfigError
from monitor.responders.urls import check_url, parse_url, system_resolver

PUBLIC = "93.184.215.14"


def resolves_to(*addresses: str) -> object:
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> Iterable[str]:
        calls.append((host, port))
        return list(addresses)

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


def check(
    url: str,
    *,
    loopback: bool = False,
    allow: Collection[str] = (),
    addresses: Iterable[str] = (PUBLIC,),
) -> None:
    check_url(
        url,
        allow_http_loopback=loopback,
        allow_private=allow,
        resolver=lambda host, port: list(addresses),
    )


def test_https_to_a_public_host_is_allowed() -> None:
    resolver = resolves_to(PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    check_url(
        "https://Hooks.Wallet.Example./vigil?x=1",
        allow_http_loopback=False,
        allow_private=(),
        resolver=resolver,  # type: ignore[arg-type]
    )
    assert resolver.calls == [("hooks.wallet.example", 443)]  # type: ignore[attr-defined]
    check("https://93.184.215.14:8443/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.wallet.example/vigil",
        "http://93.184.215.14/vigil",
        "ftp://hooks.wallet.example/vigil",
        "hooks.wallet.example/vigil",
        "https:///vigil",
        "https://user:pass@hooks.wallet.example/vigil",
        "https://hooks.wallet.example:99999/vigil",
        "https://[::1/vigil",
    ],
)
def test_only_well_formed_https_urls(url: str) -> None:
    with pytest.raises(WebhookConfigError):
        check(url, loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.9.9.9/hook",
        "http://[::1]:81/",
        "http://localhost/",
    ],
)
def test_http_to_loopback_only_when_enabled(url: str) -> None:
    with pytest.raises(WebhookConfigError, match="https"):
        check(url, loopback=False, addresses=["127.0.0.1"])
    check(url, loopback=True, addresses=["127.0.0.1", "::1"])


def test_http_to_a_name_that_resolves_beyond_loopback_is_refused() -> None:
    with pytest.raises(WebhookConfigError, match="loopback"):
        check("http://localhost/", loopback=True, addresses=["127.0.0.1", "10.0.0.7"])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-global"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "private"),
        ("::ffff:10.0.0.1", "private"),
    ],
)
def test_non_public_addresses_are_refused_unless_allow_listed(address: str, kind: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(WebhookConfigError, match=f"a {kind} address"):
        check(f"https://{host}/hook")
    with pytest.raises(WebhookConfigError, match=f"a {kind} address"):
        check("https://backend.internal/hook", addresses=[address])
    network = address + ("/128" if ":" in address and "ffff" not in address else "")
    if "ffff" in address:
        network = "10.0.0.0/8"  # checked as the IPv4 address it carries
    check(f"https://{host}/hook", allow=[network])
    check("https://backend.internal/hook", addresses=[address], allow=[network])
    check("https://backend.internal/hook", addresses=[address], allow=["Backend.Internal."])


def test_a_host_name_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(
        WebhookConfigError, match=re.escape("backend.example resolves to 192.168.4.4")
    ):
        check("https://backend.example/hook", addresses=["192.168.4.4"])
    # one private address among public ones is enough to refuse
    with pytest.raises(WebhookConfigError, match=re.escape("10.9.9.9")):
        check("https://backend.example/hook", addresses=[PUBLIC, "10.9.9.9"])
    # an allow-listed network covers only itself
    with pytest.raises(WebhookConfigError, match=re.escape("192.168.4.4")):
        check("https://backend.example/hook", addresses=["192.168.4.4"], allow=["10.0.0.0/8"])
    check("https://backend.example/hook", addresses=["192.168.4.4"], allow=["192.168.4.0/24"])
    # the allow-list names the host, not a suffix
    with pytest.raises(WebhookConfigError):
        check(
            "https://evil.backend.example/hook", addresses=["10.0.0.1"], allow=["backend.example"]
        )


def test_allow_listing_does_not_allow_http() -> None:
    with pytest.raises(WebhookConfigError, match="https"):
        check("http://backend.internal/hook", addresses=["10.0.0.1"], allow=["10.0.0.0/8"])


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "10.0.0.300", "fd00::zz", ""])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(WebhookConfigError, match="allow-list"):
        check("https://hooks.wallet.example/", allow=[entry])


def test_unresolvable_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnresolvableHostError, match="no IP address"):
        check("https://nowhere.example/", addresses=[])

    def fail(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(UnresolvableHostError, match=re.escape("cannot resolve nowhere.example")):
        check_url("https://nowhere.example/", allow_http_loopback=False, allow_private=())
    assert issubclass(UnresolvableHostError, WebhookConfigError)


def test_the_system_resolver_resolves_localhost() -> None:
    assert "127.0.0.1" in system_resolver("localhost", 80) or "::1" in system_resolver(
        "localhost", 80
    )
    check_url("http://localhost:8080/", allow_http_loopback=True, allow_private=())


def test_parse_url_needs_no_dns() -> None:
    target = parse_url("https://Hooks.Example:8443/x", allow_http_loopback=False)
    assert (target.scheme, target.host, target.port, target.literal) == (
        "https",
        "hooks.example",
        8443,
        None,
    )
    assert parse_url("http://[::1]/", allow_http_loopback=True).port == 80
    with pytest.raises(WebhookConfigError, match="https"):  # refused before any lookup
        parse_url("http://hooks.example/", allow_http_loopback=True)
