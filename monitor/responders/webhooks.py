"""Signed webhook deliveries to the wallet's backend, with retries.

One ``deliver(action_id, body)`` POSTs the body with the Standard Webhooks headers
(:mod:`monitor.responders.signing`; ``webhook-id`` is the action id, so receivers dedupe
redeliveries on it), re-signed at every attempt. Success is a 2xx. Network errors,
timeouts, 408, 429 and 5xx are retried after ``min(max_delay, base * 2**retry)`` with
full jitter, or after ``Retry-After`` (429/503, capped by ``max_delay_s``), within
``max_attempts`` and a total time budget. Redirects are not followed: a 3xx, like any
other 4xx, fails at once. The URL policy (:mod:`monitor.responders.urls`) is checked
again before every attempt, since DNS can change.

The sender writes nothing: it returns a :class:`DeliveryResult`, and the outbox
dispatcher records the outcome (dead-letter table, metric, support case).
``on_attempt`` sees every attempt, for metrics with bounded labels.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC

import httpx

from monitor.responders import urls
from monitor.responders.exceptions import UnresolvableHostError, WebhookConfigError
from monitor.responders.signing import secret_key, sign

__all__ = [
    "USER_AGENT",
    "Attempt",
    "DeliveryResult",
    "RetryPolicy",
    "WebhookSender",
    "retry_after_s",
]

log = logging.getLogger("vigil.webhooks")

USER_AGENT = "vigil-webhooks/1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often one delivery is tried.

    >>> RetryPolicy(base_delay_s=1, max_delay_s=5).backoff_bound(3)
    5
    """

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    total_budget_s: float = 120.0  # request time + waits, over all attempts
    timeout_s: float = 5.0  # per attempt, connect to response headers

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise WebhookConfigError("webhook max_attempts must be at least 1")
        if min(self.base_delay_s, self.max_delay_s, self.total_budget_s, self.timeout_s) <= 0:
            raise WebhookConfigError("webhook delays, budget and timeout must be positive")

    def backoff_bound(self, retry: int) -> float:
        """The most the jittered wait before retry ``retry`` (0 = the first retry) can be."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** min(retry, 64))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt, as ``on_attempt`` sees it. ``outcome``: delivered, retry or failed."""

    action_id: str
    number: int  # 1-based
    status: int | None  # None when no response came (timeout, network, DNS)
    error: str | None
    outcome: str
    delay_s: float  # wait before the next attempt; 0 unless outcome is retry
    duration_s: float


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """``outcome``: delivered; rejected (a 3xx/4xx the receiver will answer again, not
    retried); exhausted (attempts or time budget spent); refused (the URL policy refused
    the target before a request was sent). ``statuses`` has one entry per attempt."""

    ok: bool
    attempts: int
    statuses: tuple[int | None, ...]
    last_error: str | None
    delivered_at: float | None  # Unix seconds
    outcome: str


@dataclass(frozen=True, slots=True)
class _Try:
    status: int | None
    error: str | None
    retryable: bool
    retry_after: float | None = None


def _failed(statuses: list[int | None], error: str | None, outcome: str) -> DeliveryResult:
    return DeliveryResult(False, len(statuses), tuple(statuses), error, None, outcome)


def retry_after_s(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date).

    >>> retry_after_s("2", now=0), retry_after_s("soon", now=0), retry_after_s(None, now=0)
    (2.0, None, None)
    >>> retry_after_s("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class WebhookSender:
    """Delivers to one URL. Use as ``async with`` (or call ``aclose``) to close the client
    it creates; an injected ``client`` is the caller's to close.

    Injectable for tests: ``resolver`` (DNS), ``rng`` (jitter), ``sleep`` (waits between
    attempts), ``clock`` (Unix seconds for signatures and Retry-After dates)."""

    def __init__(
        self,
        url: str,
        secrets: Sequence[str],
        *,
        policy: RetryPolicy | None = None,
        allow_http_loopback: bool = False,
        allow_private: Collection[str] = (),
        resolver: urls.Resolver = urls.system_resolver,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        self._target = urls.parse_url(url, allow_http_loopback=allow_http_loopback)
        urls.parse_allow_list(allow_private)
        if not secrets:
            raise WebhookConfigError("at least one webhook secret is needed")
        for secret in secrets:
            try:
                secret_key(secret)
            except ValueError as exc:
                raise WebhookConfigError(str(exc)) from exc
        self.url = url
        self.policy = policy or RetryPolicy()
        self._secrets = list(secrets)
        self._allow_http_loopback = allow_http_loopback
        self._allow_private = list(allow_private)
        self._resolver = resolver
        self._owns_client = client is None
        # no proxies or .netrc from the environment: the policy checks the real target
        self._client = client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._on_attempt = on_attempt

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def deliver(self, action_id: str, body: bytes) -> DeliveryResult:
        """POST ``body`` until a 2xx, a permanent failure, or the attempts/budget run out."""
        sign(action_id, 0, b"", self._secrets)  # a bad id is a bug: fail before any request
        p = self.policy
        statuses: list[int | None] = []
        spent = 0.0
        last_error: str | None = None
        for number in range(1, p.max_attempts + 1):
            started = time.monotonic()
            try:
                await self._check_target()
            except UnresolvableHostError as exc:
                result = _Try(None, str(exc), retryable=True)
            except WebhookConfigError as exc:
                log.warning("webhook %s refused by the URL policy: %s", action_id, exc)
                return _failed(statuses, str(exc), "refused")
            else:
                result = await self._post(action_id, body)
            duration = time.monotonic() - started
            spent += duration
            statuses.append(result.status)
            attempt = Attempt(action_id, number, result.status, result.error, "", 0.0, duration)
            if result.status is not None and 200 <= result.status < 300:
                self._report(attempt, "delivered")
                return DeliveryResult(
                    True, number, tuple(statuses), None, self._clock(), "delivered"
                )
            last_error = result.error
            if not result.retryable:
                self._report(attempt, "failed")
                log.warning("webhook %s rejected: %s", action_id, last_error)
                return _failed(statuses, last_error, "rejected")
            if number == p.max_attempts:
                self._report(attempt, "failed")
                break
            delay = self._delay(number - 1, result.retry_after)
            if spent + delay > p.total_budget_s:
                self._report(attempt, "failed")
                last_error = f"{last_error}; retry budget of {p.total_budget_s:g} s spent"
                break
            self._report(attempt, "retry", delay)
            log.info(
                "webhook %s attempt %d: %s; retrying in %.2fs", action_id, number, last_error, delay
            )
            await self._sleep(delay)
            spent += delay
        log.warning("webhook %s failed after %d attempts: %s", action_id, len(statuses), last_error)
        return _failed(statuses, last_error, "exhausted")

    def _delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.policy.max_delay_s, retry_after)
        return self._rng.uniform(0, self.policy.backoff_bound(retry))

    async def _check_target(self) -> None:
        def check() -> None:
            urls.check_url(
                self.url,
                allow_http_loopback=self._allow_http_loopback,
                allow_private=self._allow_private,
                resolver=self._resolver,
            )

        if self._target.literal is not None:
            check()  # no DNS involved
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(check), self.policy.timeout_s)
        except TimeoutError:
            raise UnresolvableHostError(f"resolving {self._target.host} timed out") from None

    async def _post(self, action_id: str, body: bytes) -> _Try:
        timeout = self.policy.timeout_s
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **sign(action_id, int(self._clock()), body, self._secrets),
        }
        try:
            async with (
                asyncio.timeout(timeout),
                self._client.stream(
                    "POST",
                    self.url,
                    content=body,
                    headers=headers,
                    timeout=timeout,
                    follow_redirects=False,
                ) as response,
            ):  # the body is never read: only the status matters
                status = response.status_code
                retry_after = response.headers.get("retry-after")
                location = response.headers.get("location", "")
        except (TimeoutError, httpx.TimeoutException):
            return _Try(None, f"timeout after {timeout:g} s", retryable=True)
        except httpx.HTTPError as exc:
            return _Try(None, f"{type(exc).__name__}: {exc}", retryable=True)
        if 200 <= status < 300:
            return _Try(status, None, retryable=False)
        if status in (408, 429) or status >= 500:
            wait = retry_after_s(retry_after, now=self._clock()) if status in (429, 503) else None
            return _Try(status, f"HTTP {status}", retryable=True, retry_after=wait)
        if 300 <= status < 400:
            return _Try(status, f"HTTP {status} redirect to {location[:200]!r} not followed", False)
        return _Try(status, f"HTTP {status} (not retried)", retryable=False)

    def _report(self, attempt: Attempt, outcome: str, delay: float = 0.0) -> None:
        if self._on_attempt is not None:
            self._on_attempt(replace(attempt, outcome=outcome, delay_s=delay))
