"""Webhook delivery of published commands (optional: ``VIGIL_WEBHOOK_URL``).

Runs beside the Kafka dispatcher: every command published to ``wallet.account-actions``
is also delivered, signed (Standard Webhooks), to the wallet's backend, with retries
(``monitor.responders.webhooks``). A delivery that fails for good goes to the
``webhook_dead_letters`` table, raises ``vigil_webhook_failures_total`` and opens a
priority-1 support case in the ``ops`` queue, so no command is silently lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.responders.cases import Case, case_id_for
from monitor.responders.webhooks import DeliveryResult, RetryPolicy, WebhookSender
from monitor.store import AlertStore, StoreError
from monitor.store.lease import PublisherLease
from monitor.store.outbox import PendingAction

log = logging.getLogger("vigil.webhooks")


class WebhookDispatcher:
    def __init__(
        self,
        settings: Settings,
        store: AlertStore,
        metrics: Metrics,
        sender: WebhookSender | None = None,
    ) -> None:
        if settings.webhook_url is None and sender is None:
            raise ValueError("no webhook configured")
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.sender = sender or WebhookSender(
            settings.webhook_url or "",
            [s.get_secret_value() for s in settings.webhook_secrets],
            policy=RetryPolicy(max_attempts=settings.webhook_max_attempts),
            allow_http_loopback=settings.webhook_allow_http_loopback,
            allow_private=settings.webhook_allow_private,
        )
        self._slots = asyncio.Semaphore(settings.webhook_concurrency)

    async def run(self, stop: asyncio.Event, lease: PublisherLease | None = None) -> None:
        """Deliver pending webhooks until ``stop``; with a ``lease``, only while this
        process is the deployment's publisher."""
        try:
            while not stop.is_set():
                if lease is not None and not await asyncio.to_thread(lease.hold):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.dispatch_standby_s)
                    continue
                try:
                    pending = await asyncio.to_thread(self.store.pending_webhooks, 100)
                except StoreError as exc:
                    log.warning("webhooks: store unavailable: %s", exc)
                    pending = []
                if pending:
                    await asyncio.gather(*(self._one(p) for p in pending))
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.dispatch_poll_s)
        finally:
            await self.sender.aclose()

    async def _one(self, p: PendingAction) -> None:
        async with self._slots:
            result = await self.sender.deliver(p.action_id, p.body)
        self.metrics.webhooks.labels(outcome=result.outcome).inc()
        if result.ok:
            await asyncio.to_thread(self.store.webhook_done, p.seq, True)
            return
        log.error(
            "webhook for %s failed for good (%s after %d attempts): %s",
            p.action_id,
            result.outcome,
            result.attempts,
            result.last_error,
        )
        await asyncio.to_thread(
            self.store.webhook_done,
            p.seq,
            False,
            dead_letter=_dead_letter(p, result),
            case=_case_row(p, result),
        )


def _dead_letter(p: PendingAction, r: DeliveryResult) -> dict[str, Any]:
    return {
        "action_id": p.action_id,
        "account_id": p.account_id,
        "type": p.type,
        "outcome": r.outcome,
        "attempts": r.attempts,
        "statuses": list(r.statuses),
        "last_error": (r.last_error or "")[:500],
        "failed_at": datetime.now(UTC),
    }


def _case_row(p: PendingAction, r: DeliveryResult) -> dict[str, Any]:
    """A P1 ops case: a command the wallet's backend never received must be applied by
    hand (or the backend fixed) within the SLA."""
    now = time.time()
    case = Case(
        case_id=case_id_for(p.account_id, "ops", p.action_id),
        account_id=p.account_id,
        category="ops",
        priority="P1",
        severity="critical",
        opened_at=now,
        updated_at=now,
        due_at=now + 900,
        first_alert_id=p.action_id,
        last_alert_id=p.action_id,
    )
    when = datetime.fromtimestamp(now, UTC)
    return {
        "case_id": case.case_id,
        "account_id": p.account_id,
        "category": "ops",
        "status": "open",
        "priority": "P1",
        "due_at": when + timedelta(minutes=15),
        "opened_at": when,
        "updated_at": when,
        "data": {
            **msgspec.to_builtins(case),
            "note": f"webhook delivery of {p.type} {p.action_id} failed: "
            f"{r.outcome} after {r.attempts} attempts",
        },
    }
