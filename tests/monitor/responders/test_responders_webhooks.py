"""Webhook delivery against a real HTTP receiver (uvicorn on a loopback port).

The receiver does what docs/webhooks.md tells the wallet backend to do: verify with
``verify``, dedupe with ``ReplayGuard`` on ``webhook-id``, and apply each action once. A
script of responses (status, Retry-After, a delay longer than the sender's timeout) makes
it fail on purpose. Waits between attempts go through an injected ``sleep`` that records
them, so the test checks the backoff without waiting for it.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from monitor.responders.exceptions import (
    UnresolvableHostError,
    WebhookConfigError,
    WebhookVerificationError,
)
from monitor.responders.signing import ReplayGuard, verify
from monitor.responders.webhooks import (
    USER_AGENT,
    Attempt,
    RetryPolicy,
    WebhookSender,
    retry_after_s,
)

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"action_id":"act_1","type":"require_step_up","account_id":"a1"}'


@dataclass
class Plan:
    """One scripted answer; a 2xx plan means "verify, dedupe and apply"."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0


class Receiver:
    """The wallet backend's webhook endpoint, as docs/webhooks.md describes it."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.guard = ReplayGuard(ttl_s=600)
        self.plans: deque[Plan] = deque()
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.applied: list[str] = []
        self.duplicates: list[str] = []
        self.rejected: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append((scope["path"], headers, body))
        plan = self.plans.popleft() if self.plans else Plan()
        if plan.delay_s:
            await asyncio.sleep(plan.delay_s)
        if not 200 <= plan.status < 300:
            return await self._answer(send, plan.status, b"scripted failure", plan.headers)
        try:
            verify(headers, body, self.secrets, now=time.time())
        except WebhookVerificationError as exc:
            self.rejected.append(exc.reason)
            return await self._answer(send, 401, exc.reason.encode())
        if self.guard.seen_before(headers["webhook-id"], now=time.time()):
            self.duplicates.append(headers["webhook-id"])
            return await self._answer(send, 200, b"duplicate")
        self.applied.append(headers["webhook-id"])
        return await self._answer(send, plan.status, b"applied")

    @staticmethod
    async def _answer(
        send: Any, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers or []]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


class Host:
    """The ASGI app the server runs; each test installs its own receiver."""

    receiver: Receiver

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.receiver(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Host, str]]:
    host = Host()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(host, lifespan="off", log_level="critical", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "the test receiver did not start"
        time.sleep(0.01)
    yield host, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def receiver(server: tuple[Host, str]) -> tuple[Receiver, str]:
    host, base = server
    host.receiver = Receiver([SECRET])
    return host.receiver, base + "/hook"


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.attempts: list[Attempt] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def sender(url: str, rec: Recorder, policy: RetryPolicy | None = None, **kw: Any) -> WebhookSender:
    kw.setdefault("secrets", [SECRET])
    return WebhookSender(
        url,
        policy=policy or RetryPolicy(timeout_s=2),
        allow_http_loopback=True,
        rng=random.Random(7),
        sleep=rec.sleep,
        on_attempt=rec.attempts.append,
        **kw,
    )


# --- delivery, verification and dedupe --------------------------------------------------


async def test_a_delivery_is_verified_and_applied_once(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    rec = Recorder()
    async with sender(url, rec) as s:
        before = time.time()
        first = await s.deliver("act_1", BODY)
        again = await s.deliver("act_1", BODY)  # e.g. an outbox row replayed after a restart
    assert first.ok and first.attempts == 1 and first.statuses == (200,)
    assert first.outcome == "delivered" and first.last_error is None
    assert first.delivered_at is not None and before <= first.delivered_at <= time.time()
    assert again.ok and again.statuses == (200,)
    assert r.applied == ["act_1"] and r.duplicates == ["act_1"]
    path, headers, body = r.requests[0]
    assert path == "/hook" and body == BODY
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    assert headers["webhook-id"] == "act_1"
    assert abs(int(headers["webhook-timestamp"]) - before) <= 2
    assert rec.sleeps == []


async def test_a_replayed_request_is_deduped(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    async with sender(url, Recorder()) as s:
        assert (await s.deliver("act_9", BODY)).ok
    _, headers, body = r.requests[0]
    async with httpx.AsyncClient() as client:  # an attacker resending the captured request
        replay = await client.post(url, content=body, headers=headers)
    assert replay.status_code == 200 and replay.content == b"duplicate"
    assert r.applied == ["act_9"] and r.duplicates == ["act_9"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": BODY.replace(b"a1", b"a2")}, "bad_signature"),
        ({"headers": {"webhook-id": "act_2"}}, "bad_signature"),
        ({"headers": {"webhook-timestamp": "stale"}}, "bad_timestamp"),
        ({"drop": "webhook-signature"}, "missing_headers"),
    ],
    ids=["tampered-body", "swapped-id", "bad-timestamp", "no-signature"],
)
async def test_the_receiver_rejects_tampered_deliveries(
    receiver: tuple[Receiver, str], change: dict[str, Any], reason: str
) -> None:
    r, url = receiver
    async with sender(url, Recorder()) as s:
        assert (await s.deliver("act_1", BODY)).ok
    _, headers, body = r.requests[0]
    headers = {**headers, **change.get("headers", {})}
    headers.pop(change.get("drop", ""), None)
    async with httpx.AsyncClient() as client:
        answer = await client.post(url, content=change.get("body", body), headers=headers)
    assert answer.status_code == 401 and answer.text == reason
    assert r.rejected == [reason] and r.applied == ["act_1"]


@pytest.mark.parametrize(
    ("secrets", "clock_offset", "reason"),
    [([OTHER], 0, "bad_signature"), ([SECRET], -400, "too_old"), ([SECRET], 400, "too_new")],
    ids=["wrong-secret", "stale", "future"],
)
async def test_a_rejected_delivery_is_not_retried(
    receiver: tuple[Receiver, str], secrets: list[str], clock_offset: float, reason: str
) -> None:
    r, url = receiver
    rec = Recorder()
    s = sender(url, rec, secrets=secrets, clock=lambda: time.time() + clock_offset)
    async with s:
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "rejected"
    assert result.statuses == (401,) and result.last_error == "HTTP 401 (not retried)"
    assert r.rejected == [reason] and r.applied == [] and rec.sleeps == []


async def test_rotation_a_receiver_with_only_the_new_secret_accepts(
    receiver: tuple[Receiver, str],
) -> None:
    r, url = receiver
    r.secrets = [NEW]
    async with sender(url, Recorder(), secrets=[SECRET, NEW]) as s:
        assert (await s.deliver("act_1", BODY)).ok
    r.secrets = [SECRET]  # a receiver not switched yet
    async with sender(url, Recorder(), secrets=[SECRET, NEW]) as s:
        assert (await s.deliver("act_2", BODY)).ok
    assert r.applied == ["act_1", "act_2"]
    assert len(r.requests[0][1]["webhook-signature"].split(" ")) == 2


# --- retries ------------------------------------------------------------------------------


async def test_5xx_then_success_with_jittered_backoff(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    r.plans.extend([Plan(500), Plan(500), Plan(200)])
    rec = Recorder()
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, timeout_s=2)
    async with sender(url, rec, policy) as s:
        result = await s.deliver("act_1", BODY)
    assert result.ok and result.attempts == 3 and result.statuses == (500, 500, 200)
    assert r.applied == ["act_1"]
    assert len(rec.sleeps) == 2
    for retry, slept in enumerate(rec.sleeps):
        assert 0 <= slept <= min(policy.max_delay_s, policy.base_delay_s * 2**retry)
    same_rng = random.Random(7)  # full jitter: uniform over [0, bound]
    assert rec.sleeps == [same_rng.uniform(0, 1.0), same_rng.uniform(0, 2.0)]
    assert [a.outcome for a in rec.attempts] == ["retry", "retry", "delivered"]
    assert [a.status for a in rec.attempts] == [500, 500, 200]
    assert [a.delay_s for a in rec.attempts] == [*rec.sleeps, 0.0]
    # every attempt is signed anew: same id, each verified on its own
    assert {h["webhook-id"] for _, h, _ in r.requests} == {"act_1"}


async def test_exhausting_the_attempts_reports_every_status(
    receiver: tuple[Receiver, str],
) -> None:
    r, url = receiver
    r.plans.extend([Plan(500), Plan(502), Plan(503), Plan(504), Plan(500), Plan(500)])
    rec = Recorder()
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=3.0, timeout_s=2)
    async with sender(url, rec, policy) as s:
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "exhausted"
    assert result.attempts == 6 and result.statuses == (500, 502, 503, 504, 500, 500)
    assert result.last_error == "HTTP 500" and result.delivered_at is None
    assert len(rec.sleeps) == 5 and len(r.requests) == 6 and r.applied == []
    bounds = [1.0, 2.0, 3.0, 3.0, 3.0]  # min(max_delay, base * 2**retry)
    assert all(0 <= s <= b for s, b in zip(rec.sleeps, bounds, strict=True))
    assert [a.outcome for a in rec.attempts] == ["retry"] * 5 + ["failed"]


@pytest.mark.parametrize(("retry_after", "expected"), [("2", 2.0), ("120", 10.0)])
async def test_429_honours_retry_after_capped(
    receiver: tuple[Receiver, str], retry_after: str, expected: float
) -> None:
    r, url = receiver
    r.plans.extend([Plan(429, [("retry-after", retry_after)]), Plan(200)])
    rec = Recorder()
    async with sender(url, rec, RetryPolicy(max_delay_s=10.0, timeout_s=2)) as s:
        result = await s.deliver("act_1", BODY)
    assert result.ok and result.statuses == (429, 200)
    assert rec.sleeps == [expected]


async def test_retry_after_as_an_http_date(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    now = float(int(time.time()))
    r.plans.extend([Plan(503, [("retry-after", email.utils.formatdate(now + 20, usegmt=True))])])
    rec = Recorder()
    async with sender(url, rec, RetryPolicy(max_delay_s=30, timeout_s=2), clock=lambda: now) as s:
        assert (await s.deliver("act_1", BODY)).ok
    assert rec.sleeps == [20.0]


async def test_408_and_429_without_retry_after_use_backoff(
    receiver: tuple[Receiver, str],
) -> None:
    r, url = receiver
    r.plans.extend([Plan(408), Plan(429), Plan(200)])
    rec = Recorder()
    async with sender(url, rec, RetryPolicy(base_delay_s=0.5, timeout_s=2)) as s:
        result = await s.deliver("act_1", BODY)
    assert result.ok and result.statuses == (408, 429, 200)
    assert rec.sleeps[0] <= 0.5 and rec.sleeps[1] <= 1.0


async def test_timeouts_are_retried(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    r.plans.extend([Plan(200, delay_s=0.8), Plan(200)])
    rec = Recorder()
    started = time.monotonic()
    async with sender(url, rec, RetryPolicy(timeout_s=0.2, base_delay_s=0.1)) as s:
        result = await s.deliver("act_1", BODY)
    assert time.monotonic() - started < 0.75  # the slow answer was not waited for
    assert result.ok and result.attempts == 2 and result.statuses == (None, 200)
    assert rec.attempts[0].error == "timeout after 0.2 s" and rec.attempts[0].status is None
    assert 0.19 <= rec.attempts[0].duration_s < 0.75
    assert len(rec.sleeps) == 1 and rec.sleeps[0] <= 0.1


async def test_only_timeouts_end_exhausted(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    r.plans.extend([Plan(200, delay_s=0.5), Plan(200, delay_s=0.5)])
    async with sender(url, Recorder(), RetryPolicy(max_attempts=2, timeout_s=0.2)) as s:
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "exhausted"
    assert result.statuses == (None, None) and result.last_error == "timeout after 0.2 s"


async def test_400_is_not_retried(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    r.plans.append(Plan(400))
    rec = Recorder()
    async with sender(url, rec) as s:
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "rejected"
    assert result.attempts == 1 and result.statuses == (400,)
    assert len(r.requests) == 1 and rec.sleeps == []
    assert [a.outcome for a in rec.attempts] == ["failed"]


@pytest.mark.parametrize("follow", [False, True], ids=["own-client", "client-that-follows"])
async def test_a_redirect_is_not_followed(receiver: tuple[Receiver, str], follow: bool) -> None:
    r, url = receiver
    r.plans.append(Plan(301, [("location", url + "/elsewhere")]))
    rec = Recorder()
    client = httpx.AsyncClient(follow_redirects=True) if follow else None
    async with sender(url, rec, client=client) as s:
        result = await s.deliver("act_1", BODY)
    if client is not None:
        await client.aclose()
    assert not result.ok and result.outcome == "rejected" and result.statuses == (301,)
    assert "not followed" in (result.last_error or "")
    assert [path for path, _, _ in r.requests] == ["/hook"]


async def test_the_time_budget_stops_retries(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    r.plans.extend([Plan(500)] * 6)

    class Highest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    rec = Recorder()
    policy = RetryPolicy(base_delay_s=10, max_delay_s=10, total_budget_s=15, timeout_s=2)
    s = sender(url, rec, policy)
    s._rng = Highest()
    async with s:
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "exhausted"
    assert result.statuses == (500, 500) and rec.sleeps == [10]
    assert "retry budget of 15 s spent" in (result.last_error or "")


async def test_connection_refused_is_retried() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    rec = Recorder()
    async with sender(f"http://127.0.0.1:{port}/hook", rec, RetryPolicy(max_attempts=2)) as s:
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "exhausted" and result.statuses == (None, None)
    assert "ConnectError" in (result.last_error or "") and len(rec.sleeps) == 1


# --- the URL policy at delivery time (no network: httpx.MockTransport) ---------------------


def mock_client(statuses: list[int], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses.pop(0))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_the_policy_is_checked_again_before_every_attempt() -> None:
    answers = iter([["93.184.215.14"], ["10.0.0.5"]])  # DNS changed between attempts
    seen: list[httpx.Request] = []
    rec = Recorder()
    async with (
        mock_client([503, 200], seen) as client,
        sender(
            "https://hooks.wallet.example/hook",
            rec,
            client=client,
            resolver=lambda host, port: next(answers),
        ) as s,
    ):
        result = await s.deliver("act_1", BODY)
    assert not result.ok and result.outcome == "refused"
    assert result.attempts == 1 and result.statuses == (503,) and len(seen) == 1
    assert "10.0.0.5, a private address" in (result.last_error or "")


async def test_a_private_target_is_refused_before_any_request_unless_allow_listed() -> None:
    seen: list[httpx.Request] = []
    async with (
        mock_client([200], seen) as client,
        sender(
            "https://backend.internal/hook",
            Recorder(),
            client=client,
            resolver=lambda host, port: ["192.168.1.20"],
        ) as s,
    ):
        refused = await s.deliver("act_1", BODY)
    assert refused.outcome == "refused" and refused.attempts == 0 and seen == []
    async with (
        mock_client([200], seen) as client,
        sender(
            "https://backend.internal/hook",
            Recorder(),
            client=client,
            resolver=lambda host, port: ["192.168.1.20"],
            allow_private=["192.168.1.0/24"],
        ) as s,
    ):
        assert (await s.deliver("act_1", BODY)).ok
    assert [str(req.url) for req in seen] == ["https://backend.internal/hook"]
    assert seen[0].headers["webhook-id"] == "act_1"


async def test_a_dns_failure_is_retried() -> None:
    def flaky(host: str, port: int) -> list[str]:
        if not calls:
            calls.append(host)
            raise UnresolvableHostError(f"cannot resolve {host}")
        return ["93.184.215.14"]

    calls: list[str] = []
    seen: list[httpx.Request] = []
    rec = Recorder()
    async with (
        mock_client([200], seen) as client,
        sender("https://hooks.wallet.example/", rec, client=client, resolver=flaky) as s,
    ):
        result = await s.deliver("act_1", BODY)
    assert result.ok and result.statuses == (None, 200) and len(seen) == 1
    assert rec.attempts[0].error == "cannot resolve hooks.wallet.example"


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secrets", "extra"),
    [
        ("http://hooks.wallet.example/", [SECRET], {}),
        ("ftp://hooks.wallet.example/", [SECRET], {}),
        ("https://hooks.wallet.example/", [], {}),
        ("https://hooks.wallet.example/", ["whsec_short"], {}),
        ("https://hooks.wallet.example/", [SECRET], {"allow_private": ["10.0.0.0/33"]}),
        ("https://hooks.wallet.example/", [SECRET], {"policy": RetryPolicy}),
    ],
    ids=["http", "ftp", "no-secret", "bad-secret", "bad-allow-list", "bad-policy"],
)
def test_bad_configuration_fails_at_construction(
    url: str, secrets: list[str], extra: dict[str, Any]
) -> None:
    with pytest.raises(WebhookConfigError):
        if extra.get("policy") is RetryPolicy:
            extra = {"policy": RetryPolicy(max_attempts=0)}
        WebhookSender(url, secrets, **extra)


async def test_a_bad_action_id_fails_before_any_request(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    async with sender(url, Recorder()) as s:
        with pytest.raises(ValueError, match="webhook id"):
            await s.deliver("act 1", BODY)
    assert r.requests == []


def test_retry_after_parsing() -> None:
    assert retry_after_s(" 7 ", now=0) == 7.0
    assert retry_after_s("Thu, 01 Jan 1970 00:00:10 GMT", now=100.0) == 0.0  # in the past
    assert retry_after_s("-3", now=0) is None
    assert retry_after_s("", now=0) is None
