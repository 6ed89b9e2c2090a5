"""The HTTP API: ``create_app`` builds it from explicit settings, an open store and
the caller's metrics registry and readiness checks. Nothing is built at import time,
and the store's lifecycle stays with the caller (the entry point opens and closes it).

Every route but ``/healthz`` needs a bearer token (:mod:`api.security`); answers carry
security headers, bodies are size-limited and tokens rate-limited (docs/security.md). The
support console (:mod:`api.console`, ``/console``) logs in with the same tokens and then
uses a signed session cookie. Store refusals map to HTTP: an unknown case is 404, a step
the case does not allow 409, a bad cursor 422, each with the store's message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from api import console
from api.deps import RuleControl
from api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from api.ratelimit import RateLimitMiddleware, TokenBuckets
from api.readiness import DEFAULT_TIMEOUT_S, Check, Readiness, describe
from api.routes import accounts, alerts, audit, cases, docs, health, metrics, users
from api.routes import rules as rules_routes
from monitor.config import Settings
from monitor.responders.cases import DEFAULT_POLICY
from monitor.store import AlertStore, Casework, StoreError, StoreUnavailable
from monitor.store.exceptions import CaseNotFound, InvalidCursor, InvalidTransition

log = logging.getLogger(__name__)

DATABASE_CHECK = "database"
_UNAVAILABLE = "database unavailable: "


def database_check(store: AlertStore) -> Check:
    """``store.ping`` in a worker thread. The thread is abandoned on timeout so a hung
    connection attempt cannot hold ``/readyz`` past its deadline."""

    async def check() -> str | None:
        try:
            await anyio.to_thread.run_sync(store.ping, abandon_on_cancel=True)
        except StoreUnavailable as exc:
            return describe(exc).replace(_UNAVAILABLE, "", 1)
        return None

    return check


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    # The store's messages already say "database unavailable" mid-sentence; say it once.
    message = describe(exc).replace(_UNAVAILABLE, "", 1)
    return JSONResponse({"detail": _UNAVAILABLE + message}, status_code=503)


def _refusal(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering a store refusal as ``status`` with its message."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s: store error", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal store error"}, status_code=500)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    log.info("api up: %d readiness checks", len(app.state.readiness.checks))
    yield
    log.info("api down")


def create_app(
    settings: Settings,
    store: AlertStore,
    *,
    registry: CollectorRegistry | None = None,
    checks: Mapping[str, Check] | None = None,
    check_timeout_s: float = DEFAULT_TIMEOUT_S,
    rules: RuleControl | None = None,
    responder: Any = None,
) -> FastAPI:
    """Build the API around an open ``store``.

    ``checks`` are extra readiness checks (broker connected, partitions assigned, lag…):
    async callables returning ``None`` when fine or a string saying what is wrong. The
    ``database`` check is built in. ``registry`` is what ``/metrics`` exposes (a fresh,
    empty one if omitted); with ``settings.metrics_port`` set there is no ``/metrics``
    route here (the service serves the registry on that port).
    """
    extra = dict(checks or {})
    if DATABASE_CHECK in extra:
        raise ValueError(f"readiness check name {DATABASE_CHECK!r} is reserved for the store")

    app = FastAPI(
        title="Vigil",
        summary="Real-time anti-fraud monitor for a digital wallet",
        version="0.1.0",
        lifespan=_lifespan,
        # served by api.routes.docs, behind a token unless VIGIL_PUBLIC_DOCS
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        openapi_tags=[
            {"name": "alerts", "description": "Alerts raised by the pipeline, with reasons"},
            {"name": "health", "description": "Liveness and readiness probes"},
            {"name": "ops", "description": "Operational endpoints"},
            {"name": "rules", "description": "The rule pack in force and its reload"},
            {"name": "cases", "description": "Support cases: list, read, work them"},
            {"name": "accounts", "description": "An account's risk view; support actions"},
            {"name": "users", "description": "People, roles and tokens (admin)"},
            {"name": "audit", "description": "Who changed or revealed what (admin)"},
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.registry = registry if registry is not None else CollectorRegistry()
    app.state.rules = rules
    app.state.responder = responder  # plans support's restores (monitor.responders)
    policy = responder.playbooks.cases if responder is not None else DEFAULT_POLICY
    app.state.casework = Casework(store, responder=responder, policy=policy)
    app.state.readiness = Readiness(
        {DATABASE_CHECK: database_check(store), **extra}, timeout_s=check_timeout_s
    )

    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(CaseNotFound, _refusal(404))
    app.add_exception_handler(InvalidTransition, _refusal(409))
    app.add_exception_handler(InvalidCursor, _refusal(422))
    app.add_exception_handler(StoreError, _store_error)

    app.include_router(alerts.router)
    app.include_router(health.router)
    if settings.metrics_port is None:
        app.include_router(metrics.router)
    app.include_router(rules_routes.router)
    app.include_router(cases.router)
    app.include_router(accounts.router)
    app.include_router(users.router)
    app.include_router(audit.router)
    app.include_router(docs.router)
    console.install(app, settings)  # /console: pages, static files, sessions

    # Added innermost first: headers wrap everything, so 413 and 429 carry them too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_s > 0:
        buckets = TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
        app.add_middleware(RateLimitMiddleware, buckets=buckets)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
