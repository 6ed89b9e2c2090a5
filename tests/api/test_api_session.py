"""Console session cookies (api/session.py): signed, expiring, bound CSRF tokens; the
session secret refused when weak and random per process when unset."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from api.session import SessionSigner, session_signer
from monitor.config import Settings

KEY = b"0123456789abcdef-session-key"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_round_trips_until_it_expires() -> None:
    clock = Clock(1_000.0)
    signer = SessionSigner(KEY, max_age_s=8 * 3600, clock=clock)
    cookie = signer.issue("ana", "tok_1")
    session = signer.load(cookie)
    assert session is not None
    assert (session.user, session.token_id, session.break_glass) == ("ana", "tok_1", None)
    clock.now += 8 * 3600 - 1
    assert signer.load(cookie) is not None
    clock.now += 1
    assert signer.load(cookie) is None  # expired
    clock.now = 999.0
    assert signer.load(cookie) is None  # issued in the future: not trusted either


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c + "x",
        lambda c: c.replace(".", ""),
        lambda c: "e30." + c.split(".")[1],  # another payload ({}) under the same tag
        lambda c: c.split(".")[0] + ".",
        lambda c: "",
        lambda c: "a.b.c",
        lambda c: "%%%.%%%",
        lambda c: "x" * 5000,
    ],
)
def test_tampered_cookies_are_no_session(mangle) -> None:  # type: ignore[no-untyped-def]
    signer = SessionSigner(KEY, max_age_s=60, clock=lambda: 10.0)
    assert signer.load(mangle(signer.issue("ana", "tok_1"))) is None


def test_another_key_does_not_verify_and_csrf_is_per_session() -> None:
    a = SessionSigner(KEY, max_age_s=60, clock=lambda: 10.0)
    b = SessionSigner(KEY[::-1], max_age_s=60, clock=lambda: 10.0)
    cookie = a.issue("ana", "tok_1")
    assert b.load(cookie) is None
    one, two = a.load(cookie), a.load(a.issue("ana", "tok_1"))
    assert one is not None and two is not None
    assert a.check_csrf(one, a.csrf_token(one))
    assert not a.check_csrf(one, a.csrf_token(two))  # another session's token
    assert not a.check_csrf(one, None)
    assert a.csrf_token(one) not in cookie  # the CSRF key is not the cookie key


@pytest.mark.parametrize("secret", ["short", "changeme-changeme-changeme-1", "a" * 40])
def test_weak_session_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(session_secret=secret)
    assert "VIGIL_SESSION_SECRET" in str(err.value)
    assert secret not in str(err.value)  # never echoed


def test_without_a_secret_each_process_gets_its_own(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.session"):
        first, second = session_signer(Settings()), session_signer(Settings())
    assert "end when it restarts" in caplog.text
    assert "VIGIL_SESSION_SECRET is unset" in caplog.text
    assert first.load(second.issue("ana", "tok_1")) is None
    configured = Settings(session_secret="Zq4Wx8Lp2Vn6Rt9Ks3Hd7Jm1")
    assert session_signer(configured).load(session_signer(configured).issue("a", "t"))
