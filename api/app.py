"""The HTTP API: ``create_app`` builds it from explicit settings, an open store and
the caller's metrics registry and readiness checks. Nothing is built at import time,
and the store's lifecycle stays with the caller (the entry point opens and closes it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from api.deps import RuleControl
from api.readiness import DEFAULT_TIMEOUT_S, Check, Readiness, describe
from api.routes import accounts, alerts, health, metrics
from api.routes import rules as rules_routes
from monitor.config import Settings
from monitor.store import AlertStore, StoreError, StoreUnavailable

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
    empty one if omitted).
    """
    extra = dict(checks or {})
    if DATABASE_CHECK in extra:
        raise ValueError(f"readiness check name {DATABASE_CHECK!r} is reserved for the store")

    app = FastAPI(
        title="Vigil",
        summary="Real-time anti-fraud monitor for a digital wallet",
        version="0.1.0",
        lifespan=_lifespan,
        openapi_tags=[
            {"name": "alerts", "description": "Alerts raised by the pipeline, with reasons"},
            {"name": "health", "description": "Liveness and readiness probes"},
            {"name": "ops", "description": "Operational endpoints"},
            {"name": "rules", "description": "The rule pack in force and its reload"},
            {"name": "accounts", "description": "Support actions on an account"},
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.registry = registry if registry is not None else CollectorRegistry()
    app.state.rules = rules
    app.state.responder = responder  # plans support's restores (monitor.responders)
    app.state.readiness = Readiness(
        {DATABASE_CHECK: database_check(store), **extra}, timeout_s=check_timeout_s
    )

    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(StoreError, _store_error)

    app.include_router(alerts.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(rules_routes.router)
    app.include_router(accounts.router)
    return app
