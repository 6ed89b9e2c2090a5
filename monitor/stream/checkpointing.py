"""Saving and restoring partition checkpoints for the consumer loop.

A checkpoint is taken between batches (the runner holds its batch lock), after the
offsets it reflects were committed: periodically, when a partition is revoked, and at a
clean stop. On assignment the partition's checkpoint is verified, restored, and the
consumer seeks to the offsets it reflects; events between those offsets and the group's
committed offset are decided again, which is safe (decisions dedupe on ``event_id``,
commands on ``action_id``) and rebuilds exactly the state those events made.

Snapshotting and sealing run in a worker thread so the event loop keeps the group
membership alive (heartbeats) while a large partition is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from monitor.checkpoint import CheckpointRefused, Where, seal, unseal
from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.pipeline import PartitionPipeline
from monitor.store import AlertStore, StoreError

log = logging.getLogger("vigil.checkpoint")


@dataclass(frozen=True)
class Restored:
    pipeline: PartitionPipeline
    events_offset: int  # next event offset the state has not seen
    verdicts_offset: int | None  # same for the co-partitioned verdicts, if known


class Checkpointer:
    """Checkpoints of one consumer group's partitions, in the store."""

    def __init__(
        self,
        settings: Settings,
        store: AlertStore,
        metrics: Metrics,
        new_pipeline: Callable[[int], PartitionPipeline],
    ) -> None:
        key = settings.checkpoint_key
        self.key = None if key is None else key.get_secret_value().encode()
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.new_pipeline = new_pipeline
        self.saved: dict[int, tuple[int, int | None]] = {}  # partition -> offsets saved
        # partition -> (offset, restore running or done), read while the group is joined
        self._preloaded: dict[int, tuple[int, asyncio.Future[Restored]]] = {}
        self._preload: asyncio.Future[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def _where(self, partition: int) -> Where:
        s = self.settings
        return Where(s.consumer_group, s.events_topic, partition)

    async def save(
        self,
        partition: int,
        pipe: PartitionPipeline,
        events_offset: int,
        verdicts_offset: int | None,
    ) -> bool:
        """Checkpoint ``pipe`` as of the committed offsets; False if not (no key, nothing
        new since the last one, or the store failed — logged and counted)."""
        if self.key is None or self.saved.get(partition) == (events_offset, verdicts_offset):
            return False
        key, where = self.key, self._where(partition)
        t0 = time.perf_counter()

        def write() -> int:
            body = msgspec.msgpack.encode([verdicts_offset, pipe.snapshot()])
            blob = seal(key, where, events_offset, body)
            self.store.save_checkpoint(where.group, where.topic, partition, events_offset, blob)
            return len(blob)

        try:
            size = await asyncio.to_thread(write)
        except StoreError as exc:
            self.metrics.checkpoints.labels(outcome="failed").inc()
            log.warning("checkpoint of partition %d not saved: %s", partition, exc)
            return False
        seconds = time.perf_counter() - t0
        self.saved[partition] = (events_offset, verdicts_offset)
        self.metrics.checkpoints.labels(outcome="saved").inc()
        self.metrics.checkpoint_seconds.labels(op="save").observe(seconds)
        self.metrics.checkpoint_bytes.labels(partition=str(partition)).set(size)
        log.info(
            "checkpoint of partition %d at offset %d: %d accounts, %.1f MB in %.2f s",
            partition,
            events_offset,
            len(pipe.accounts),
            size / 1e6,
            seconds,
        )
        return True

    def start_preload(self) -> None:
        if self._preload is None:
            self._preload = asyncio.ensure_future(self.preload())

    async def preloading(self) -> None:
        """Wait until the preload has read the checkpoints (restores may still run)."""
        if self._preload is not None:
            await asyncio.shield(self._preload)

    def discard_preloaded(self) -> None:
        if self._preload is not None:
            self._preload.cancel()
        for _, task in self._preloaded.values():
            task.cancel()
        self._preloaded.clear()

    async def preload(self) -> None:
        """Read and restore every checkpoint of the group's topic while the consumer
        joins the group (a join takes seconds; so does restoring a large partition):
        :meth:`load` then takes the preloaded state if no newer checkpoint was saved
        since. Partitions this process is not given are discarded."""
        if self.key is None:
            return
        where = self._where(0)
        try:
            offsets = await asyncio.to_thread(
                self.store.checkpoint_offsets, where.group, where.topic
            )
        except StoreError as exc:
            log.warning("checkpoints not preloaded: %s", exc)
            return
        for partition in sorted(offsets):
            if partition in self._preloaded:
                continue
            try:
                found = await asyncio.to_thread(
                    self.store.load_checkpoint, where.group, where.topic, partition
                )
            except StoreError:
                return  # load() reads it again and reports
            if found is not None:
                self._preloaded[partition] = (found[0], self._restore_task(partition, *found))

    def _restore_task(self, partition: int, offset: int, blob: bytes) -> asyncio.Future[Restored]:
        key, where = self.key, self._where(partition)
        assert key is not None

        def restore() -> Restored:
            body = unseal(key, where, offset, blob)
            try:
                verdicts_offset, snapshot = msgspec.msgpack.decode(body)
                pipe = self.new_pipeline(partition)
                pipe.restore(snapshot)
            except Exception as exc:  # signed by us, yet unreadable: an older format
                raise CheckpointRefused(
                    f"checkpoint of partition {partition} refused: unreadable: {exc!r}"
                ) from exc
            return Restored(pipe, offset, verdicts_offset)

        return asyncio.ensure_future(asyncio.to_thread(restore))

    async def load(self, partition: int, committed: int | None) -> Restored | None:
        """The partition's state from its checkpoint, or None (no key, no checkpoint, or a
        checkpoint refused: logged, counted, and the partition starts empty)."""
        if self.key is None:
            return None
        where = self._where(partition)
        t0 = time.perf_counter()
        preloaded = self._preloaded.pop(partition, None)
        try:
            if preloaded is not None:  # still the latest? (another member may have saved)
                latest = await asyncio.to_thread(
                    self.store.checkpoint_offsets, where.group, where.topic
                )
                if latest.get(partition) != preloaded[0]:
                    preloaded[1].cancel()
                    preloaded = None
            found = None
            if preloaded is None:
                found = await asyncio.to_thread(
                    self.store.load_checkpoint, where.group, where.topic, partition
                )
        except StoreError as exc:
            self.metrics.checkpoints.labels(outcome="failed").inc()
            log.warning("checkpoint of partition %d not loaded: %s", partition, exc)
            return None
        if preloaded is not None:
            offset, task = preloaded
        elif found is not None:
            offset, task = found[0], self._restore_task(partition, *found)
        else:
            return None
        try:
            if committed is not None and offset > committed:
                task.cancel()
                raise CheckpointRefused(
                    f"checkpoint of partition {partition} refused: it reflects offset "
                    f"{offset}, past the group's committed {committed} (offsets reset?)"
                )
            restored = await task
        except CheckpointRefused as exc:
            self.metrics.checkpoints.labels(outcome="refused").inc()
            log.error("%s; starting the partition with empty state", exc)
            return None
        seconds = time.perf_counter() - t0
        self.saved[partition] = (restored.events_offset, restored.verdicts_offset)
        self.metrics.checkpoints.labels(outcome="restored").inc()
        self.metrics.checkpoint_seconds.labels(op="restore").observe(seconds)
        log.info(
            "partition %d restored from its checkpoint at offset %d: %d accounts in %.2f s",
            partition,
            offset,
            len(restored.pipeline.accounts),
            seconds,
        )
        return restored
