"""The outbox dispatcher: publishes committed commands to ``wallet.account-actions`` (and
support verdicts to ``wallet.verdicts``: each outbox row names its topic) and marks them
published.

A command is in the outbox only if its alert is committed (one transaction), and marked
published only after the broker acknowledged it (``acks=all``). A crash in between sends
it again after restart: receivers dedupe on ``action_id`` (docs/actions.md), so each
command has exactly one effect. Commands of one account keep their order: one key
(the account id), one partition, published in outbox order.

Marking is bookkeeping for a restart, so it runs beside publishing, not before the next
publish: acknowledged rows are remembered in memory (and skipped when the outbox is
read again) until a background task has marked them, all that have gathered meanwhile
in one transaction. A command committed while the previous ones are being marked is
published at once instead of waiting for that write (and, on SQLite, for its fsync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.store import AlertStore, StoreError
from monitor.store.lease import PublisherLease

log = logging.getLogger("vigil.actions")


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: AlertStore,
        metrics: Metrics,
        lease: PublisherLease | None = None,
    ) -> None:
        self.settings = settings
        self.lease = lease  # None: this process always publishes
        self.store = store
        self.metrics = metrics
        self._wake = asyncio.Event()
        self.published = 0
        self._unmarked: set[int] = set()  # outbox seqs acknowledged, not yet marked
        self._marking: asyncio.Task[None] | None = None
        self.latency_sink: list[float] | None = None  # exact latencies for vigil bench

    def wake(self) -> None:
        """Called after a store commit that may have added commands."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap, client_id=f"{s.client_id}-actions", acks="all"
        )
        await producer.start()
        delay = 0.1
        lease = self.lease
        try:
            while not stop.is_set():
                if lease is not None and not await asyncio.to_thread(lease.hold):
                    # another replica publishes; take over if it goes away
                    await _sleep_or_stop(stop, s.dispatch_standby_s)
                    continue
                self._wake.clear()  # a commit from here on cuts the wait below short
                try:
                    sent, drained = await self._once(producer)
                except (KafkaError, StoreError) as exc:
                    log.warning("dispatch failed, retrying in %.1fs: %s", delay, exc)
                    self.metrics.actions.labels(type="any", outcome="retry").inc()
                    await _sleep_or_stop(stop, delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.1
                if drained or not sent:
                    # read to the end of the outbox (or only rows waiting for their
                    # marking): wait for a commit, or poll now and then. Not another
                    # read at once: it would find only what this one published.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), s.dispatch_poll_s)
        finally:
            await self._marked()
            await producer.stop()
            if lease is not None:
                await asyncio.to_thread(lease.release)

    async def _once(self, producer: AIOKafkaProducer, limit: int = 500) -> tuple[int, bool]:
        """Publish the pending outbox rows (up to ``limit``); return how many, and whether
        the read reached the end of the outbox."""
        # the set as of before the read: a row marked while it runs is either still in
        # it, or was marked before the read began (and the read does not return it)
        skip = set(self._unmarked)
        rows = await asyncio.to_thread(self.store.pending_actions, limit + len(skip))
        pending = [p for p in rows if p.seq not in skip][:limit]
        drained = len(rows) < limit + len(skip)
        if not pending:
            if drained:
                self.metrics.outbox_depth.set(0)
            return 0, drained
        topics = {"actions": self.settings.actions_topic, "verdicts": self.settings.verdicts_topic}
        futures = [
            await producer.send(topics[p.topic], value=p.body, key=p.account_id.encode())
            for p in pending
        ]
        await asyncio.gather(*futures)  # acknowledged by the broker before we mark them
        now = time.time()  # published: the broker has them (marking them is bookkeeping)
        self._unmarked.update(p.seq for p in pending)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark(), name="outbox-marking")
        for p in pending:
            self.metrics.actions.labels(type=p.type, outcome="published").inc()
            if p.event_time is not None:
                lag = now - p.event_time.astimezone(UTC).timestamp()
                self.metrics.action_latency_seconds.observe(max(0.0, lag))
                if self.latency_sink is not None:
                    self.latency_sink.append(lag)
        self.published += len(pending)
        if drained:  # read to the end: published it all
            self.metrics.outbox_depth.set(0)
        else:
            depth = await asyncio.to_thread(self.store.outbox_depth)
            self.metrics.outbox_depth.set(max(0, depth - len(self._unmarked)))
        return len(pending), drained

    async def _mark(self) -> None:
        """Mark acknowledged rows published, all that gathered in one transaction, until
        none are left; a failed write is retried (the rows stay skipped meanwhile)."""
        delay = 0.1
        while self._unmarked:
            seqs = sorted(self._unmarked)
            try:
                await asyncio.to_thread(self.store.mark_published, seqs)
            except StoreError as exc:
                log.warning("marking %d published commands failed, retrying: %s", len(seqs), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._unmarked.difference_update(seqs)
            delay = 0.1

    async def _marked(self, timeout_s: float = 5.0) -> None:
        """On stop: wait (a while) for the marking; what is left unmarked is sent again
        after a restart, and receivers dedupe it."""
        if self._marking is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._marking), timeout_s)
        if not self._marking.done():
            self._marking.cancel()
            log.warning("stopping with %d published commands not marked", len(self._unmarked))


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
