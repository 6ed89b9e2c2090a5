"""Wire the service together from one :class:`Settings`: store, rules, metrics, the
stream runner and the API, run until a stop event is set.

This is the only place that knows every part; the parts only know what they are given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import uvicorn
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server

from api.app import create_app
from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.reload import RuleSource
from monitor.responders.dispatcher import Dispatcher
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.responders.webhook_dispatch import WebhookDispatcher
from monitor.store import AlertStore, StoreError
from monitor.store.lease import PublisherLease
from monitor.stream.runner import StreamRunner
from monitor.stream.topics import ensure_topics, partition_count

log = logging.getLogger("vigil")

Check = Callable[[], Awaitable[str | None]]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the entry point owns SIGINT/SIGTERM."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def stream_checks(runner: StreamRunner, client: AIOKafkaClient, max_lag: int) -> dict[str, Check]:
    """Readiness checks for ``/readyz`` that ask the real broker and the runner."""

    async def broker() -> str | None:
        await client.fetch_all_metadata()  # a real metadata round trip to the cluster
        return None

    async def partitions() -> str | None:
        if not runner.status.started:
            return "consumer not started"
        if not runner.status.assigned:
            return "no partitions assigned"
        return None

    async def store_writes() -> str | None:
        return (
            None
            if runner.status.store_ok
            else f"store writes failing: {runner.status.last_store_error}"
        )

    async def lag() -> str | None:
        total = runner.status.total_lag
        return None if total <= max_lag else f"consumer lag {total} > {max_lag}"

    return {"broker": broker, "partitions": partitions, "store_writes": store_writes, "lag": lag}


async def _expire_restrictions(
    store: AlertStore,
    responder: PlaybookResponder,
    dispatcher: Dispatcher,
    every_s: float,
    stop: asyncio.Event,
) -> None:
    """Restrictions lift themselves when they expire (wall clock: they are real-world
    timers, not event time): restore commands go through the outbox like any other."""
    while not stop.is_set():
        try:
            if await asyncio.to_thread(store.expire_restrictions, responder):
                dispatcher.wake()
        except StoreError as exc:
            log.warning("expiring restrictions failed, will retry: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    rules: RuleSource | None = None,
    store: AlertStore | None = None,
    with_api: bool = True,
    on_ready: Callable[[StreamRunner, Dispatcher], None] | None = None,
) -> None:
    """Run the monitor (and the API unless ``with_api`` is false) until ``stop`` is set.

    ``store`` and ``rules`` default to the ones ``settings`` name; a given store stays
    open (its owner closes it). The rule directory is watched and reloaded live."""
    owns_store = store is None
    store = store or AlertStore(settings.sqlalchemy_url)
    store.create_schema()
    metrics = Metrics()
    rules = rules or RuleSource(settings.rules_dir, metrics=metrics)
    pack = rules.pack
    log.info("rule pack %s: %d rules from %s", pack.version, len(pack.rules), pack.source)
    if settings.checkpoint_key is None:
        log.warning(
            "no VIGIL_CHECKPOINT_KEY: account state is not checkpointed and starts empty "
            "after every restart (docs/checkpoints.md)"
        )
    try:  # side topics; a cluster that forbids creating them must have them already
        partitions = await partition_count(settings.kafka_bootstrap, settings.events_topic)
        await ensure_topics(
            settings.kafka_bootstrap,
            {
                settings.dlq_topic: 1,
                settings.late_topic: 1,
                # keyed by account: one account's commands stay in order
                settings.actions_topic: partitions or settings.topic_partitions,
                # co-partitioned with the events: a verdict reaches its account's owner
                settings.verdicts_topic: partitions or settings.topic_partitions,
            },
        )
    except KafkaError as exc:
        log.warning(
            "could not check/create %s and %s: %s", settings.dlq_topic, settings.late_topic, exc
        )
    responder = PlaybookResponder(load_playbooks(settings.rules_dir))
    # one publisher per deployment (PostgreSQL advisory lock); the others stand by
    lease = PublisherLease(store.engine)
    dispatcher = Dispatcher(settings, store, metrics, lease)
    runner = StreamRunner(
        settings, store, pack, metrics, responder=responder, on_commit=dispatcher.wake
    )
    rules.subscribe(runner.set_rules)
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap, client_id="vigil-health")
    await client.bootstrap()
    if on_ready is not None:  # e.g. vigil bench attaching latency sinks
        on_ready(runner, dispatcher)
    tasks = [
        asyncio.create_task(runner.run(stop), name="stream"),
        asyncio.create_task(rules.watch(stop, settings.rules_watch_s), name="rules"),
    ]
    tasks.append(
        asyncio.create_task(
            _expire_restrictions(store, responder, dispatcher, settings.expiry_check_s, stop),
            name="expiry",
        )
    )
    if settings.dispatch_actions:
        tasks.append(asyncio.create_task(dispatcher.run(stop), name="dispatcher"))
        if settings.webhook_url:
            webhooks = WebhookDispatcher(settings, store, metrics)
            tasks.append(asyncio.create_task(webhooks.run(stop, lease), name="webhooks"))
    server = None
    if with_api:
        app = create_app(
            settings,
            store,
            registry=metrics.registry,
            checks=stream_checks(runner, client, settings.readyz_max_lag),
            rules=rules,
            responder=responder,
        )
        server = _Server(
            uvicorn.Config(
                app,
                host=settings.api_host,
                port=settings.api_port,
                log_level="warning",
                lifespan="on",
            )
        )
        tasks.append(asyncio.create_task(server.serve(), name="api"))
    metrics_server = None
    try:
        if settings.metrics_port is not None:  # unauthenticated, so not on the API port
            metrics_server, _ = start_http_server(
                settings.metrics_port, addr=settings.api_host, registry=metrics.registry
            )
            log.info("metrics on http://%s:%d/metrics", settings.api_host, settings.metrics_port)
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
        if metrics_server is not None:
            await asyncio.to_thread(metrics_server.shutdown)
            metrics_server.server_close()
        if owns_store:
            store.close()


async def serve_api(
    settings: Settings, stop: asyncio.Event, store: AlertStore | None = None
) -> None:
    """The API alone (``vigil api``): cases, alerts, accounts, the console, audit, users,
    for the support staff, in a process of its own beside the monitors. It reads and
    writes the shared store only; commands it plans (restores, password resets,
    verdicts) go into the outbox, which a monitor's dispatcher publishes. Readiness is
    the database's; there is no rule pack here (``/v1/rules`` answers 503: ask a
    monitor)."""
    owns_store = store is None
    store = store or AlertStore(settings.sqlalchemy_url)
    store.create_schema()
    metrics = Metrics()
    responder = PlaybookResponder(load_playbooks(settings.rules_dir))
    app = create_app(settings, store, registry=metrics.registry, responder=responder)
    server = _Server(
        uvicorn.Config(
            app, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve(), name="api")
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
        if task in done and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    finally:
        server.should_exit = True
        stopper.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if owns_store:
            store.close()
