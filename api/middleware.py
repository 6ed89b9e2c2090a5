"""Pure ASGI middleware of the API: security headers and request ids on every answer,
and a request body size limit (413) that also holds for chunked bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.security import clean_request_id

# For JSON answers: nothing may be loaded or framed. A route (the docs, the console)
# that sets its own Content-Security-Policy keeps it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", API_CSP),
)
NO_STORE_PREFIXES = ("/v1",)  # personal data: never in a cache


async def send_json(
    send: Send, status: int, detail: str, headers: Iterable[tuple[str, str]] = ()
) -> None:
    """Answer with ``{"detail": ...}`` without going through the app."""
    body = json.dumps({"detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """Adds the security headers, ``Cache-Control: no-store`` under ``/v1`` and
    ``X-Request-ID`` (the caller's when sane, else a new one, also kept in
    ``request.state.request_id``) to every HTTP answer; outermost, so 413 and 429 get
    them too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = clean_request_id(Headers(scope=scope).get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if no_store:
                    headers["cache-control"] = "no-store"
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                headers["x-request-id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised by the limited ``receive`` while the app reads the body: FastAPI lets an
    ``HTTPException`` through its body parsing, so the answer is a JSON 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (VIGIL_MAX_BODY_BYTES)")


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``: at once when ``Content-Length`` says so, else
    as soon as the chunks read add up to more (``Transfer-Encoding: chunked``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_json(send, 400, "invalid Content-Length")
                return
            if int(declared) > self.max_bytes:
                await send_json(send, 413, str(too_large.detail), [("connection", "close")])
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await send_json(send, 413, str(too_large.detail), [("connection", "close")])
