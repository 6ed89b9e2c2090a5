"""A token-bucket rate limit per bearer token (per client address without one), in
memory: each API process limits on its own (docs/security.md).

>>> clock = [0.0]
>>> buckets = TokenBuckets(rate_per_s=1.0, burst=2, clock=lambda: clock[0])
>>> [buckets.take("t") for _ in range(3)]  # a burst of 2, then wait ~1 s
[0.0, 0.0, 1.0]
>>> clock[0] = 1.0
>>> buckets.take("t"), buckets.take("other")
(0.0, 0.0)
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import send_json

EXEMPT_PATHS = frozenset({"/healthz"})  # probes: public, cheap, no store round trip
MAX_KEYS = 10_000  # least recently seen keys are forgotten: memory stays bounded


class TokenBuckets:
    """One bucket per key, refilled at ``rate_per_s`` up to ``burst``."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"need rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0.0 when allowed, else the seconds
        until one will be."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate_per_s
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


def client_key(scope: Scope) -> str:
    """The bucket of a request: its bearer token (hashed: no secret kept in memory
    longer than the request), else the client address."""
    authorization = Headers(scope=scope).get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "t:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    client = scope.get("client")
    return "a:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """429 with ``Retry-After`` (whole seconds, at least 1) once a bucket is empty."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_key(scope))
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            b = self.buckets
            await send_json(
                send,
                429,
                f"rate limit: {b.rate_per_s:g} requests/s per token, bursts of {b.burst} "
                f"(VIGIL_RATE_LIMIT_PER_S, VIGIL_RATE_LIMIT_BURST); retry in {retry_after} s",
                [("retry-after", retry_after)],
            )
            return
        await self.app(scope, receive, send)
