"""Scale-out: the same pre-produced topic consumed by 1, then 2 monitor processes in
one consumer group.

Each member is a spawned process running what ``vigil run --no-api`` runs
(:func:`monitor.service.serve`, GC tuned as the entry point tunes it) with a SQLite
file of its own. Members hold back (each fetched batch is put back with a seek) until
every member has its share of the partitions, so no rebalance falls inside the
measured window and no event is decided twice. The window runs from the first batch
any member decides to the last commit of any member (wall clock: the members share
the machine's clock). The broker is a process on the same cores: on a 2-core machine
two members and the broker compete for two cores, which bounds the ratio.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from monitor.bench.feed import Progress, committed_offsets, produce_all, simulated_messages
from monitor.bench.machine import load_report, sample

TARGET_SPEEDUP = 1.8  # issue 8: 2 processes vs 1
_POLL_S = 0.02


def _mask(partitions: set[int]) -> int:
    return sum(1 << p for p in partitions)


def _unmask(mask: int) -> list[int]:
    return [p for p in range(mask.bit_length()) if mask >> p & 1]


def _member(
    index: int, config: dict[str, Any], decided: Any, assigned: Any, go: Any, stop: Any, out: Any
) -> None:
    """One monitor process (the target of a spawned process): reports its partitions
    and decided count through shared arrays, its times through ``out``."""
    from monitor.bench.e2e import bench_settings
    from monitor.gctune import tune_gc

    settings = bench_settings(**config)
    tune_gc(settings.gc_threshold)  # what `vigil run` does before serving
    try:
        result = asyncio.run(_serve_member(index, settings, decided, assigned, go, stop))
    except BaseException as exc:
        out.put({"index": index, "error": repr(exc)})
        raise
    out.put(result)


async def _serve_member(
    index: int, settings: Any, decided: Any, assigned: Any, go: Any, stop: Any
) -> dict[str, Any]:
    from monitor.service import serve
    from monitor.store import AlertStore

    marks: dict[str, float] = {}
    runners: list[Any] = []

    def attach(runner: Any, _dispatcher: Any) -> None:
        runners.append(runner)
        handle, finish = runner.handle_batch, runner.finish_batch

        async def gated(batch: Any, stop_: asyncio.Event) -> None:
            if not go.is_set():  # not every member has its partitions yet: put it back
                for tp, messages in batch.items():
                    runner.consumer.seek(tp, messages[0].offset)
                await asyncio.sleep(_POLL_S)
                return
            if "first" not in marks:
                marks["first"], marks["cpu0"] = time.time(), time.process_time()
            await handle(batch, stop_)

        async def finished(batch: Any, stop_: asyncio.Event) -> None:
            await finish(batch, stop_)  # returns after the batch's commit
            marks["last"], marks["cpu1"] = time.time(), time.process_time()
            decided[index] = runner.status.decided

        runner.handle_batch = gated
        runner.finish_batch = finished

    store = AlertStore(settings.sqlalchemy_url)
    service_stop = asyncio.Event()
    service = asyncio.create_task(
        serve(settings, service_stop, with_api=False, store=store, on_ready=attach)
    )
    try:
        while not stop.is_set() and not service.done():
            if runners:
                assigned[index] = _mask(runners[0].status.assigned)
            await asyncio.sleep(_POLL_S)
    finally:
        service_stop.set()
        await service
    try:
        alerts = store.count_alerts()
    finally:
        store.close()
    runner = runners[0]
    return {
        "index": index,
        "decided": runner.status.decided,
        "commits": runner.status.commits,
        "alerts": alerts,
        "first": marks.get("first"),
        "last": marks.get("last"),
        "cpu_seconds": round(marks.get("cpu1", 0.0) - marks.get("cpu0", 0.0), 3),
    }


def _assignment_complete(masks: list[int], partitions: int) -> bool:
    """Every member owns partitions, none twice, all of them owned."""
    union = 0
    for m in masks:
        if not m or union & m:
            return False
        union |= m
    return union == (1 << partitions) - 1


def _run_group(
    processes: int,
    *,
    bootstrap: str,
    topic: str,
    rules_dir: Path,
    tmp: Path,
    events: int,
    partitions: int,
    broker_pid: int | None,
    progress: Progress | None,
) -> dict[str, Any]:
    """Start ``processes`` members in a fresh group, open the gate once every member
    has its partitions, stop them when all ``events`` are decided."""
    ctx = multiprocessing.get_context("spawn")
    group = f"vigil-scale{processes}-{uuid.uuid4().hex[:8]}"
    decided, assigned = ctx.Array("q", processes), ctx.Array("q", processes)
    go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_member,
            args=(
                i,
                {
                    "bootstrap": bootstrap,
                    "rules_dir": rules_dir,
                    "db": tmp / f"{group}-{i}.db",
                    "group": group,
                },
                decided,
                assigned,
                go,
                stop,
                out,
            ),
            name=f"vigil-bench-member-{i}",
        )
        for i in range(processes)
    ]
    phase = f"{processes} process" + ("es" if processes > 1 else "")
    results: list[dict[str, Any]] = []
    try:
        for p in procs:
            p.start()
        give_up = time.monotonic() + 90.0
        stable, owned = 0, [0] * processes
        while stable < 3:  # the same complete assignment three polls running
            _check_alive(procs, out, "waiting for partition assignment")
            if time.monotonic() > give_up:
                raise RuntimeError(f"{phase}: partitions not assigned to every member in time")
            masks = assigned[:]
            complete = _assignment_complete(masks, partitions) and masks == owned
            stable, owned = (stable + 1 if complete else 0), masks
            time.sleep(0.1)
        pids = [broker_pid] if broker_pid else []
        load0, cpu0, t0 = sample(pids), time.process_time(), time.perf_counter()
        go.set()
        give_up = time.monotonic() + 60.0 + events / 1000
        while (total := sum(decided[:])) < events:
            _check_alive(procs, out, "deciding")
            if time.monotonic() > give_up:
                raise RuntimeError(f"{phase}: {total:,} of {events:,} events decided in time")
            if progress is not None:
                progress(phase, total, events)
            time.sleep(_POLL_S)
        load1, cpu1, t1 = sample(pids), time.process_time(), time.perf_counter()
        if progress is not None:
            progress(phase, total, events)
        stop.set()
        results = sorted((out.get(timeout=60) for _ in procs), key=lambda r: r["index"])
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():  # only our own children, by handle
                p.terminate()
                p.join(timeout=5)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"{phase}: a member failed: {errors[0]}")
    first = min(r["first"] for r in results if r["first"] is not None)
    last = max(r["last"] for r in results if r["last"] is not None)
    wall = last - first
    committed = asyncio.run(committed_offsets(bootstrap, group, topic, partitions))
    own_cpu = sum(r["cpu_seconds"] for r in results) + cpu1 - cpu0
    return {
        "processes": processes,
        "seconds": round(wall, 3),
        "events_per_s": round(events / wall) if wall > 0 else 0,
        "decided": sum(r["decided"] for r in results),
        "alerts": sum(r["alerts"] for r in results),
        "committed": committed,
        # sampled from the gate opening to the last decision seen (polled)
        **load_report(load0, load1, wall=t1 - t0, own_cpu=own_cpu),
        "members": [
            {
                "partitions": _unmask(mask),
                "decided": r["decided"],
                "commits": r["commits"],
                "alerts": r["alerts"],
                "seconds": round(r["last"] - r["first"], 3) if r["first"] else 0.0,
                "cpu_seconds": r["cpu_seconds"],
            }
            for r, mask in zip(results, owned, strict=True)
        ],
    }


def _check_alive(procs: list[Any], out: Any, doing: str) -> None:
    for p in procs:
        if not p.is_alive():
            detail = ""
            if not out.empty():
                detail = f": {out.get_nowait()}"
            raise RuntimeError(f"member {p.name} exited ({p.exitcode}) while {doing}{detail}")


def run_scaling(
    rules_dir: Path,
    *,
    events: int = 200_000,
    partitions: int = 4,
    processes: tuple[int, ...] = (1, 2),
    seed: int = 3,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Events/s of 1, then 2 (``processes``) members over the same ``events`` messages,
    and each run's speed-up over the first."""
    from monitor.bench.e2e import bench_settings, side_topics
    from monitor.stream.embedded import EmbeddedBroker

    if partitions < max(processes):
        raise ValueError(f"{partitions} partitions cannot feed {max(processes)} processes")
    messages, accounts = simulated_messages(events, seed=seed, progress=progress)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        settings = bench_settings(broker.bootstrap, rules_dir, Path(tmp) / "unused.db", "setup")
        asyncio.run(side_topics(settings, partitions))
        per_partition = asyncio.run(
            produce_all(broker.bootstrap, settings.events_topic, messages, progress)
        )
        del messages
        runs = [
            _run_group(
                k,
                bootstrap=broker.bootstrap,
                topic=settings.events_topic,
                rules_dir=rules_dir,
                tmp=Path(tmp),
                events=events,
                partitions=partitions,
                broker_pid=broker.process.pid if broker.process else None,
                progress=progress,
            )
            for k in processes
        ]
    base = runs[0]["events_per_s"]
    for run in runs:
        run["committed_to_end"] = run.pop("committed") == per_partition
        run["speedup"] = round(run["events_per_s"] / base, 3) if base else 0.0
    return {
        "events": events,
        "accounts": accounts,
        "partitions": partitions,
        "per_partition": per_partition,
        "cpu_count": multiprocessing.cpu_count(),
        "runs": runs,
        "speedup": runs[-1]["speedup"],
        "target_speedup": TARGET_SPEEDUP,
    }
