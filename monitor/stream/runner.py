"""The consumer loop: poll a batch, decide every event, make it durable, then commit.

Invariant (``shared/ARCHITECTURE.md`` #1): an offset is committed only after every
decision before it is in the store and every bad message is on the dead-letter topic.
Replays are safe because the store dedupes on ``event_id``.

A batch is made durable (side outputs acknowledged, store transaction, offset commit)
in a task while the loop polls and decides the next one: the store and the broker
wait on I/O, the deciding needs the CPU. At most one batch is in flight that way, and
batches become durable in order: the next batch's task starts only once the previous
one has finished. Everything that needs the account state and the committed offsets to
agree (checkpoints, rebalances, stop) first waits for the batch in flight
(:meth:`StreamRunner.wait_durable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError

from monitor.config import Settings
from monitor.decision import Decision
from monitor.events import DecodeError, Verdict, decode, decode_verdict
from monitor.gctune import settle
from monitor.metrics import Metrics
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import RulePack
from monitor.store import AlertStore, StoreError
from monitor.store.responses import Responder
from monitor.stream.checkpointing import Checkpointer
from monitor.stream.dlq import dead_letter_headers, late_headers
from monitor.stream.rebalance import RebalanceListener
from monitor.stream.status import StreamStatus

log = logging.getLogger("vigil.stream")

STORE_RETRY_MAX_S = 5.0


@dataclass
class DecidedBatch:
    """A batch whose events are decided (and folded into account state) but not yet
    durable: what :meth:`StreamRunner.finish_batch` writes and commits."""

    started: float  # perf_counter when the batch was taken up
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    alerts: list[Decision] = field(default_factory=list)
    positions: list[tuple[int, int]] = field(default_factory=list)
    append_times: list[float | None] = field(default_factory=list)  # one per decided event
    side_outputs: list[Any] = field(default_factory=list)  # dead-letter/late sends
    verdicts: list[tuple[int, Verdict]] = field(default_factory=list)


class StreamRunner:
    """Consume ``settings.events_topic`` in group ``settings.consumer_group``."""

    def __init__(
        self,
        settings: Settings,
        store: AlertStore,
        rules: RulePack,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        responder: Responder | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rules = rules
        self.metrics = metrics
        self.clock = clock
        self.responder = responder  # plans commands in the alerts' transaction
        self.on_commit = on_commit  # e.g. wake the outbox dispatcher
        # exact latencies for ``vigil bench latency`` (None in service: the histogram only)
        self.latency_sink: list[float] | None = None
        self.status = StreamStatus()
        self.pipelines: dict[int, PartitionPipeline] = {}
        self.batch_lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.committed: dict[TopicPartition, int] = {}  # next offsets, as committed
        self.checkpoints = Checkpointer(settings, store, metrics, self._new_pipeline)
        self._last_checkpoint = time.monotonic()
        self._seen = 0  # events decided, for sampling the processing-time histogram
        self._consumed: dict[str, Any] = {}
        # rebalances bump the generation; a batch fetched under an older one is filtered
        self._generation = 0
        self._revoked = 0  # generation of the last revocation: older batches are all stale
        self._sought: dict[TopicPartition, int] = {}  # generation of a checkpoint seek
        self._finishing: asyncio.Future[None] | None = None  # the batch in flight

    # -- partition state -------------------------------------------------------------
    def _new_pipeline(self, partition: int) -> PartitionPipeline:
        return PartitionPipeline(
            partition, self.rules, clock=self.clock, **self.settings.pipeline_options()
        )

    def pipeline_for(self, partition: int) -> PartitionPipeline:
        pipe = self.pipelines.get(partition)
        if pipe is None:
            pipe = self.pipelines[partition] = self._new_pipeline(partition)
        return pipe

    def _still_ours(
        self, batch: dict[TopicPartition, list[Any]], generation: int
    ) -> dict[TopicPartition, list[Any]]:
        """The part of a batch returned under an older ``generation`` that may still be
        decided: nothing if partitions were revoked since (every position was reset:
        the records are read again, by this member or the next owner), and nothing of
        partitions restored from a checkpoint since (the consumer was moved to the
        checkpoint's offset and reads them again, into restored state)."""
        assert self.consumer is not None
        if self._revoked > generation:  # positions were reset: every record is read again
            return {}
        owned = self.consumer.assignment()
        return {
            tp: messages
            for tp, messages in batch.items()
            if tp in owned and self._sought.get(tp, 0) <= generation
        }

    # -- checkpoints ------------------------------------------------------------------
    async def checkpoint(self, partitions: list[int]) -> None:
        """Checkpoint these partitions as of their committed offsets (call between
        batches, holding ``batch_lock``, after :meth:`wait_durable`)."""
        s = self.settings
        for partition in partitions:
            pipe = self.pipelines.get(partition)
            offset = self.committed.get(TopicPartition(s.events_topic, partition))
            if pipe is None or offset is None:
                continue
            verdicts = self.committed.get(TopicPartition(s.verdicts_topic, partition))
            await self.checkpoints.save(partition, pipe, offset, verdicts)
        self._last_checkpoint = time.monotonic()
        settle()  # the states are long-lived: out of the collector's full passes

    async def restore_partition(self, tp: TopicPartition) -> None:
        """On assignment: take the partition's state from its checkpoint, if any, and
        read on from the offsets it reflects (the events between it and the committed
        offset are decided again: idempotent, and they rebuild the same state)."""
        if not self.checkpoints.enabled or self.consumer is None:
            return
        consumer, s = self.consumer, self.settings
        await self.checkpoints.preloading()
        try:
            committed = await consumer.committed(tp)
        except KafkaError as exc:
            log.warning("committed offset of %s unknown: %s", tp, exc)
            committed = None
        restored = await self.checkpoints.load(tp.partition, committed)
        if restored is None:
            await self._checkpoint_fresh(tp, committed)
            return
        self.pipelines[tp.partition] = restored.pipeline
        restored.pipeline.rules = self.rules
        self._generation += 1  # records fetched before this seek are stale for tp
        consumer.seek(tp, restored.events_offset)
        self._sought[tp] = self._generation
        self.committed[tp] = restored.events_offset
        if restored.verdicts_offset is not None:
            verdicts = TopicPartition(s.verdicts_topic, tp.partition)
            if verdicts in consumer.assignment():
                consumer.seek(verdicts, restored.verdicts_offset)
                self._sought[verdicts] = self._generation
                self.committed[verdicts] = restored.verdicts_offset

    async def _checkpoint_fresh(self, tp: TopicPartition, committed: int | None) -> None:
        """A partition that starts empty (no usable checkpoint) is checkpointed so at
        once, at the offset it starts from: a crash before its first periodic checkpoint
        then replays from there, instead of the next owner going on from the committed
        offset without the state of everything decided in between."""
        assert self.consumer is not None
        if committed is None:  # a new group starts at the beginning (auto_offset_reset)
            try:
                committed = (await self.consumer.beginning_offsets([tp]))[tp]
            except KafkaError as exc:
                log.warning("start offset of %s unknown, not checkpointed: %s", tp, exc)
                return
        await self.checkpoints.save(tp.partition, self.pipeline_for(tp.partition), committed, None)

    def set_rules(self, pack: RulePack) -> None:
        """Swap the rule pack: every partition decides its next event with ``pack``."""
        self.rules = pack  # partitions assigned from now on start with it
        for pipe in list(self.pipelines.values()):  # may run in a reload thread
            pipe.rules = pack

    def drop_partition(self, partition: int) -> None:
        self.pipelines.pop(partition, None)
        for topic in (self.settings.events_topic, self.settings.verdicts_topic):
            self.committed.pop(TopicPartition(topic, partition), None)
        self.status.assigned.discard(partition)
        self.status.lag.pop(partition, None)
        with contextlib.suppress(KeyError):  # not ours any more: no stale lag exported
            self.metrics.consumer_lag.remove(self.settings.events_topic, str(partition))
        self.metrics.partitions_assigned.set(len(self.status.assigned))

    # -- lifecycle ------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap, client_id=f"{s.client_id}-dlq", acks="all"
        )
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=s.consumer_group,
            client_id=s.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            # co-partitioning: verdicts partition p goes to the owner of events partition p
            # (both keyed by account_id, same partition count)
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        await self.producer.start()
        # checkpoints are read and restored while the consumer joins the group
        self.checkpoints.start_preload()
        try:
            await self.consumer.start()
            try:
                self.consumer.subscribe(
                    [s.events_topic, s.verdicts_topic], listener=RebalanceListener(self)
                )
                self.status.started = True
                await self._loop(stop)
                async with self.batch_lock:  # a clean stop: the next owner starts warm
                    await self.wait_durable()
                    await self.checkpoint(sorted(self.pipelines))
            finally:
                self.status.started = False
                await self.consumer.stop()
        finally:
            self.checkpoints.discard_preloaded()
            await self.producer.stop()

    async def _loop(self, stop: asyncio.Event) -> None:
        s = self.settings
        # getmany waits for a rebalance in progress however long it takes (its timeout
        # does not bound that): a stop must not wait for the group to settle
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if self._finishing is not None and self._finishing.done():
                    await self.wait_durable()  # raises if that batch failed to become durable
                polling = asyncio.ensure_future(self._poll())
                await asyncio.wait((polling, stopping), return_when=asyncio.FIRST_COMPLETED)
                if not polling.done():  # nothing was drained from the consumer yet
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
                    break
                batch, generation = polling.result()
                if batch:
                    async with self.batch_lock:
                        if self._generation != generation:  # a rebalance ran meanwhile
                            batch = self._still_ours(batch, generation)
                        if batch:
                            await self.handle_batch(batch, stop)
                interval = s.checkpoint_interval_s
                if interval and time.monotonic() - self._last_checkpoint >= interval:
                    async with self.batch_lock:
                        await self.wait_durable()
                        await self.checkpoint(sorted(self.pipelines))
                await self._update_lag()
        finally:
            stopping.cancel()
        await self.wait_durable()  # a stop: the last batch durable before the consumer stops

    async def _poll(self) -> tuple[dict[TopicPartition, list[Any]], int]:
        """A batch, with the generation as of its return (records a seek made while
        getmany waited are not stale)."""
        assert self.consumer is not None
        s = self.settings
        batch = await self.consumer.getmany(
            timeout_ms=s.poll_timeout_ms, max_records=s.batch_max_records
        )
        return batch, self._generation

    def note_revocation(self) -> None:
        """Partitions are being revoked: every batch fetched until now is stale."""
        self._generation += 1
        self._revoked = self._generation

    # -- one batch ------------------------------------------------------------------
    async def wait_durable(self) -> None:
        """Wait until the batch in flight is durable (stored and committed); raise its
        error if it failed. Call holding ``batch_lock``."""
        finishing = self._finishing
        if finishing is None:
            return
        # shielded: a rebalance callback cancelled while waiting must not cancel the
        # store transaction and commit under it
        await asyncio.shield(finishing)  # a failed batch stays here: every wait raises
        if self._finishing is finishing:
            self._finishing = None

    async def handle_batch(
        self, batch: dict[TopicPartition, list[Any]], stop: asyncio.Event
    ) -> None:
        """Decide ``batch``, wait for the batch before it to be durable, and start making
        this one durable in a task (awaited by the next call or :meth:`wait_durable`).
        Call holding ``batch_lock``."""
        decided = await self.decide_batch(batch)
        await self.wait_durable()
        self._finishing = asyncio.ensure_future(self.finish_batch(decided, stop))
        if decided.verdicts:  # they teach the models: before the next batch is decided
            await self.wait_durable()

    async def decide_batch(self, batch: dict[TopicPartition, list[Any]]) -> DecidedBatch:
        """Decode and decide every event of ``batch``, folding it into account state;
        bad messages and late events are sent to their topics (acknowledged later)."""
        assert self.producer is not None
        s, m = self.settings, self.metrics
        out = DecidedBatch(started=time.perf_counter())
        alerts, positions, append_times = out.alerts, out.positions, out.append_times
        side_outputs, offsets, verdicts = out.side_outputs, out.offsets, out.verdicts
        consumed = self._consumed  # the labelled counters, looked up once per type
        counts: dict[str, int] = {}  # events decided by type: one counter call per batch
        for tp, messages in batch.items():
            offsets[tp] = messages[-1].offset + 1
            if tp.topic == s.verdicts_topic:
                for msg in messages:
                    verdict = decode_verdict(msg.value, s.max_event_bytes)
                    if isinstance(verdict, DecodeError):
                        m.events_invalid.labels(reason=verdict.reason).inc()
                        side_outputs.append(await self._dead_letter(tp, msg, verdict))
                    else:
                        verdicts.append((tp.partition, verdict))
                continue
            pipe = self.pipeline_for(tp.partition)
            for msg in messages:
                result = decode(msg.value, s.max_event_bytes)
                if isinstance(result, DecodeError):
                    m.events_invalid.labels(reason=result.reason).inc()
                    side_outputs.append(await self._dead_letter(tp, msg, result))
                    continue
                self._seen += 1
                if self._seen & 15:  # the time histogram samples 1 event in 16
                    decision = pipe.process(result)
                else:
                    t0 = time.perf_counter()
                    decision = pipe.process(result)
                    m.processing_seconds.observe(time.perf_counter() - t0)
                if decision.late:
                    m.events_late.labels(type=result.type).inc()
                    behind = decision.reasons[0].values.get("behind_s", 0.0)
                    side_outputs.append(
                        await self.producer.send(
                            s.late_topic,
                            value=msg.value,
                            key=msg.key,
                            headers=late_headers(
                                behind,
                                topic=tp.topic,
                                partition=tp.partition,
                                offset=msg.offset,
                                timestamp=msg.timestamp,
                            ),
                        )
                    )
                    continue
                if decision.duplicate:  # already decided: nothing to store or send
                    m.events_duplicate.labels(type=result.type).inc()
                    continue
                counts[result.type] = counts.get(result.type, 0) + 1
                if decision.is_alert or decision.shadow_hits:  # the store keeps both
                    alerts.append(decision)
                    positions.append((tp.partition, msg.offset))
                if pipe.ops_alerts:  # population spikes this event completed
                    for ops in pipe.drain_ops():
                        alerts.append(ops)
                        positions.append((tp.partition, msg.offset))
                append_times.append(msg.timestamp / 1000.0 if msg.timestamp is not None else None)
        for event_type, n in counts.items():
            counter = consumed.get(event_type)
            if counter is None:
                counter = consumed[event_type] = m.events_consumed.labels(type=event_type)
            counter.inc(n)
        return out

    async def finish_batch(self, batch: DecidedBatch, stop: asyncio.Event) -> None:
        """Make a decided batch durable: side outputs acknowledged, decisions stored,
        verdicts learnt, then its offsets committed."""
        m = self.metrics
        if batch.side_outputs:
            # on the dead-letter/late topics before we commit past them
            await asyncio.gather(*batch.side_outputs)
        if batch.alerts:
            await self._store(batch.alerts, batch.positions, stop)
        if batch.verdicts:
            await self._learn_verdicts(batch.verdicts)
        await self._commit(batch.offsets)
        now = time.time()
        behind = [now - appended for appended in batch.append_times if appended is not None]
        m.decision_latency_seconds.observe_many([max(0.0, b) for b in behind])
        if self.latency_sink is not None:
            self.latency_sink.extend(behind)
        self.status.decided += len(batch.append_times)
        m.batch_seconds.observe(time.perf_counter() - batch.started)

    async def _dead_letter(self, tp: TopicPartition, msg: Any, error: DecodeError) -> Any:
        assert self.producer is not None
        headers = dead_letter_headers(
            error,
            topic=tp.topic,
            partition=tp.partition,
            offset=msg.offset,
            timestamp=msg.timestamp,
        )
        return await self.producer.send(
            self.settings.dlq_topic, value=msg.value, key=msg.key, headers=headers
        )

    async def _learn_verdicts(self, verdicts: list[tuple[int, Verdict]]) -> None:
        """Teach each verdict to its partition's supervised model, from the inputs kept
        with the alert (so a verdict days later still teaches the right thing)."""
        wanted = [v for v in verdicts if v[1].verdict != "inconclusive"]
        self.metrics.verdicts.labels(outcome="inconclusive").inc(len(verdicts) - len(wanted))
        records = await asyncio.to_thread(
            lambda: [self.store.get_alert(v.alert_id) for _, v in wanted]
        )
        for (partition, verdict), record in zip(wanted, records, strict=True):
            if record is None:
                outcome = "unknown_alert"
            elif not record.learn_input:
                outcome = "no_input"
            else:
                self.pipeline_for(partition).learn_verdict(
                    record.event_type, record.learn_input, verdict.verdict == "fraud"
                )
                outcome = "learned"
            self.metrics.verdicts.labels(outcome=outcome).inc()

    async def _store(
        self, alerts: list[Decision], positions: list[tuple[int, int]], stop: asyncio.Event
    ) -> None:
        """Write the batch's alerts, retrying until it works: the events are already
        folded into account state, so the batch must not be dropped or re-decided."""
        delay = 0.1
        while True:
            t0 = time.perf_counter()
            try:
                await asyncio.to_thread(
                    self.store.save_decisions,
                    alerts,
                    positions=positions,
                    responder=self.responder,
                )
            except StoreError as exc:
                self.metrics.store_errors.inc()
                self.status.store_ok = False
                self.status.last_store_error = str(exc)[:300]
                log.warning("store write failed, retrying in %.1fs: %s", delay, exc)
                if stop.is_set():
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
                continue
            self.metrics.store_seconds.observe(time.perf_counter() - t0)
            self.status.store_ok = True
            if self.on_commit is not None:
                self.on_commit()
            for d in alerts:
                for reason in d.shadow_hits:
                    self.metrics.shadow_hits.labels(rule=reason.rule_id or reason.code).inc()
                if d.is_alert:
                    for rule in d.rule_ids or ("model",):
                        self.metrics.alerts.labels(severity=d.severity, rule=rule).inc()
            return

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # CommitFailedError: the group rebalanced under us; the partition's new owner
            # replays from the last commit and the store dedupes the decisions we already
            # wrote. Either way the state now holds events past the committed offsets, so
            # it must not be checkpointed as of them (the next owner would fold those
            # events in twice): no checkpoint of these partitions until a commit succeeds.
            for tp in offsets:
                self.committed.pop(tp, None)
            self.metrics.commits.labels(outcome="failed").inc()
            log.warning("commit failed: %s", exc)
            return
        self.committed.update(offsets)
        self.metrics.commits.labels(outcome="ok").inc()
        self.status.commits += 1

    async def _update_lag(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        topic = self.settings.events_topic
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), 0.5)
            except (KafkaError, TimeoutError, AssertionError):
                continue  # lag is best-effort; a partition mid-rebalance has none
            lag = max(0, high - position)
            self.status.lag[tp.partition] = lag
            self.metrics.consumer_lag.labels(topic=topic, partition=str(tp.partition)).set(lag)
