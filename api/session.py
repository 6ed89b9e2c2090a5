"""Console sessions: a signed, expiring cookie naming the user and the token they logged
in with, CSRF tokens bound to the session, and the Origin check for forms.

Signing is HMAC-SHA256 by hand, in this module: ``itsdangerous`` is not a dependency of
Vigil, and what is needed — sign a small JSON payload, check the tag in constant time,
check the expiry — is a few lines of the standard library (``hmac``, ``hashlib``), so a
new dependency would add more to review than it saves. The cookie is signed, not
encrypted: it holds a user name, a token *id* (never a token), a random session id and
two times, none of them secret.

>>> signer = SessionSigner(b"k" * 32, max_age_s=3600, clock=lambda: 1000.0)
>>> cookie = signer.issue("ana", "tok_1")
>>> s = signer.load(cookie)
>>> s.user, s.token_id, s.expires_at
('ana', 'tok_1', 4600.0)
>>> signer.check_csrf(s, signer.csrf_token(s)), signer.check_csrf(s, "forged")
(True, False)
>>> signer.load(cookie[:-2] + "xx") is None  # tampered
True
>>> SessionSigner(b"k" * 32, max_age_s=3600, clock=lambda: 5000.0).load(cookie) is None
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from monitor.config import Settings

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "Session",
    "SessionSigner",
    "clear_cookie",
    "cookie_name",
    "read_cookie",
    "same_origin",
    "secure_cookies",
    "session_signer",
    "set_cookie",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "vigil_session"
LOGIN_COOKIE = "vigil_login"  # the login form's CSRF value (double submit)
_SECURE_PREFIX = "__Host-"  # Secure, Path=/, no Domain: the browser enforces all three
_LOOPBACK_NAMES = {"localhost"}
_MAX_COOKIE = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A logged-in console user. ``token_id`` is None for the break-glass admin token,
    whose session instead carries ``break_glass``: a keyed digest of that token, so the
    session ends when ``VIGIL_ADMIN_TOKEN`` changes."""

    user: str
    token_id: str | None
    sid: str
    issued_at: float
    expires_at: float
    break_glass: str | None = None


class SessionSigner:
    """Issues and checks session cookies and CSRF tokens with keys derived from one
    server secret (separate keys per purpose, so a CSRF token is never a valid cookie)."""

    def __init__(
        self, secret: bytes, *, max_age_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("a session secret needs at least 16 bytes")
        self._cookie_key = hmac.new(secret, b"vigil console session v1", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"vigil console csrf v1", hashlib.sha256).digest()
        self._bg_key = hmac.new(secret, b"vigil console break-glass v1", hashlib.sha256).digest()
        self.max_age_s = max_age_s
        self._clock = clock

    def issue(self, user: str, token_id: str | None, *, break_glass: str | None = None) -> str:
        """A cookie value for a new session of ``user``."""
        now = self._clock()
        payload = {
            "u": user,
            "t": token_id,
            "s": secrets.token_urlsafe(16),
            "i": now,
            "e": now + self.max_age_s,
            "b": break_glass,
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._tag(body))}"

    def load(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if it is missing, malformed, forged or
        expired."""
        if not value or len(value) > _MAX_COOKIE or value.count(".") != 1:
            return None
        body, tag = value.split(".")
        try:
            if not hmac.compare_digest(_unb64(tag), self._tag(body)):
                return None
            data = json.loads(_unb64(body))
            session = Session(
                user=str(data["u"]),
                token_id=None if data["t"] is None else str(data["t"]),
                sid=str(data["s"]),
                issued_at=float(data["i"]),
                expires_at=float(data["e"]),
                break_glass=None if data.get("b") is None else str(data["b"]),
            )
        except (ValueError, TypeError, KeyError, binascii.Error):
            return None
        if not session.issued_at <= self._clock() < session.expires_at:
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of every form of this session."""
        return _b64(hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).digest())

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(
            token.encode(), self.csrf_token(session).encode()
        )

    def break_glass_digest(self, admin_token: str) -> str:
        """What a break-glass session keeps of ``VIGIL_ADMIN_TOKEN`` (keyed, not the token)."""
        return _b64(hmac.new(self._bg_key, admin_token.encode(), hashlib.sha256).digest()[:16])

    def _tag(self, body: str) -> bytes:
        return hmac.new(self._cookie_key, body.encode(), hashlib.sha256).digest()


def session_signer(settings: Settings) -> SessionSigner:
    """The signer for ``settings``: ``VIGIL_SESSION_SECRET`` (checked like every secret
    when the settings load), else a random key for this process, which is logged: its
    sessions end at restart and do not work across several API processes."""
    if settings.session_secret is not None:
        secret = settings.session_secret.get_secret_value().encode()
    else:
        secret = secrets.token_bytes(32)
        log.warning(
            "VIGIL_SESSION_SECRET is unset: console sessions are signed with a random key "
            "of this process and end when it restarts (set it, the same on every API process)"
        )
    return SessionSigner(secret, max_age_s=settings.session_hours * 3600.0)


def _is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_of(request: Request) -> str:
    return (request.headers.get("host") or "").lower()


def secure_cookies(request: Request) -> bool:
    """Whether cookies for ``request`` get the ``Secure`` flag (and the ``__Host-``
    prefix): always, except over plain http to a loopback host (development, tests, the
    demo). Forms are only accepted from the origin whose ``Host`` they name
    (:func:`same_origin`), so a loopback ``Host`` means the browser is on loopback too."""
    if request.url.scheme == "https":
        return True
    hostname = urlsplit("//" + _host_of(request)).hostname or ""
    return not _is_loopback(hostname)


def cookie_name(base: str, request: Request) -> str:
    return _SECURE_PREFIX + base if secure_cookies(request) else base


def read_cookie(base: str, request: Request) -> str | None:
    """The cookie's value under its secure name, else its plain one."""
    return request.cookies.get(_SECURE_PREFIX + base) or request.cookies.get(base)


def set_cookie(response: Response, request: Request, base: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, Path=/ and Secure (see :func:`secure_cookies`)."""
    response.set_cookie(
        cookie_name(base, request),
        value,
        max_age=max_age,
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, base: str) -> None:
    secure = secure_cookies(request)
    response.delete_cookie(
        cookie_name(base, request), path="/", secure=secure, httponly=True, samesite="strict"
    )


def same_origin(request: Request) -> bool:
    """A form post comes from this site: its ``Origin`` (else its ``Referer``) names the
    host the request was sent to. Neither header: refused (every browser that runs the
    console sends ``Origin`` with a POST).

    The scheme is not compared: behind a TLS proxy the app sees http while the browser's
    origin is https; the session cookie is SameSite=Strict and Secure anyway."""
    host = _host_of(request)
    if not host:
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc.lower() == host
    referer = request.headers.get("referer")
    if referer:
        return urlsplit(referer).netloc.lower() == host
    return False
