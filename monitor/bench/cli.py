"""``vigil bench [core] [memory] [latency] [e2e] [scaling] [restart] [--json]``: measured, never
asserted. Progress bars go to stderr (none with ``--json`` or when stderr is not a
terminal); results to stdout."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from monitor.config import Settings

E2E_EVENTS = 200_000
SCALING_EVENTS = 200_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "stages",
        nargs="*",
        choices=("core", "memory", "latency", "e2e", "scaling", "restart"),
        default=["core"],
        help="what to measure (default: core)",
    )
    parser.add_argument(
        "--accounts",
        default="100000,1000000",
        help="memory: comma-separated account counts (default 100000,1000000)",
    )
    parser.add_argument(
        "--restart-accounts",
        type=int,
        default=1_000_000,
        help="restart: accounts of state in the checkpoints (default 1000000)",
    )
    parser.add_argument("--core-accounts", type=int, default=5000)
    parser.add_argument("--core-days", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3, help="core: runs, median reported")
    parser.add_argument(
        "--rates",
        default="1000,3000,10000",
        help="latency: offered loads in events/s (default 1000,3000,10000)",
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="latency: per load")
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"e2e, scaling: simulated events through the broker (default "
        f"{E2E_EVENTS:,} and {SCALING_EVENTS:,})",
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="e2e, scaling: partitions of the topic"
    )
    parser.add_argument(
        "--processes",
        default="1,2",
        help="scaling: comma-separated member counts, the first is the base (default 1,2)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from monitor.bench.core import run_core
    from monitor.bench.memory import run_memory

    results: dict[str, Any] = {}
    quiet = args.json or not sys.stderr.isatty()
    if "core" in args.stages:
        print("core: simulating and timing the pipeline ...", file=sys.stderr)
        results["core"] = run_core(
            settings.rules_dir, accounts=args.core_accounts, days=args.core_days, repeat=args.repeat
        )
    if "memory" in args.stages:
        try:
            counts = [int(x) for x in args.accounts.split(",") if x]
        except ValueError:
            print(f"--accounts: not a list of numbers: {args.accounts!r}", file=sys.stderr)
            return 2
        results["memory"] = []
        for n in counts:
            with tqdm(
                total=n, desc=f"memory {n:,} accounts", disable=quiet, unit="acct", file=sys.stderr
            ) as bar:
                results["memory"].append(run_memory(n, progress=bar.update))
    if "restart" in args.stages:
        from monitor.bench.restart import run_restart

        n = args.restart_accounts
        with tqdm(
            total=n, desc=f"restart: {n:,} accounts", disable=quiet, unit="acct", file=sys.stderr
        ) as bar:
            results["restart"] = run_restart(settings.rules_dir, n, progress=bar.update)
    if "latency" in args.stages:
        import asyncio

        from monitor.bench.latency import run_latency

        results["latency"] = []
        for rate in [int(x) for x in args.rates.split(",") if x]:
            print(f"latency: {rate:,} events/s for {args.seconds:g} s ...", file=sys.stderr)
            results["latency"].append(
                asyncio.run(run_latency(settings.rules_dir, rate, args.seconds))
            )
    if "e2e" in args.stages:
        from monitor.bench.e2e import run_e2e

        print("e2e: raw consume + decode, then the monitor, same messages ...", file=sys.stderr)
        with _Bars(quiet) as bars:
            results["e2e"] = run_e2e(
                settings.rules_dir,
                events=args.events or E2E_EVENTS,
                partitions=args.partitions,
                progress=bars.progress,
            )
    if "scaling" in args.stages:
        from monitor.bench.scaling import run_scaling

        try:
            processes = tuple(int(x) for x in args.processes.split(",") if x)
        except ValueError:
            print(f"--processes: not a list of numbers: {args.processes!r}", file=sys.stderr)
            return 2
        print(f"scaling: {' vs '.join(map(str, processes))} processes ...", file=sys.stderr)
        with _Bars(quiet) as bars:
            results["scaling"] = run_scaling(
                settings.rules_dir,
                events=args.events or SCALING_EVENTS,
                partitions=args.partitions,
                processes=processes,
                progress=bars.progress,
            )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)
    return 0


class _Bars:
    """One tqdm bar on stderr per phase a bench reports (simulate, produce, ...);
    ``progress`` is None when quiet, so the bench does not even call it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.phase: str | None = None
        self.bar: Any = None

    @property
    def progress(self) -> Any:
        return None if self.quiet else self.update

    def update(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=f"{phase:<12}", unit="ev", file=sys.stderr)
        elif self.bar is None:  # this phase is complete
            return
        self.bar.update(done - self.bar.n)
        if done >= total:  # closed now: its elapsed time is the phase's, not the next wait
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load(run: dict[str, Any]) -> str:
    """The broker's CPU and other people's share of the machine during a window."""
    if "others_cpu_share" not in run:
        return "load not sampled"
    return (
        f"broker {run['broker_cpu_seconds']} cpu-s, other processes "
        f"{run['others_cpu_share']:.0%} of the machine"
    )


def _print(results: dict[str, Any]) -> None:
    core = results.get("core")
    if core:
        print(
            f"core: {core['events']:,} events, {core['accounts']:,} accounts, median of "
            f"{core['repeat']} runs"
        )
        print(f"  pipeline   {core['pipeline_events_per_s']:>10,} events/s")
        print(f"  + store and metrics {core['with_store_metrics_events_per_s']:>10,} events/s")
        print(f"  decode     {core['decode_events_per_s']:>10,} events/s")
        for stage, us in core["us_per_event"].items():
            print(f"  {stage:<14} {us:>7.2f} µs/event")
        print(
            f"  rules: {core['rule_us_per_rule_per_event']:.3f} µs per rule per event "
            f"({core['rules']} rules)"
        )
        print(f"  compiled (mypyc): {', '.join(core['compiled']) or 'nothing'}")
    for lat in results.get("latency", []):
        print(
            f"latency at {lat['offered_rate']:,} events/s offered "
            f"({lat['decided_per_s']:,} decided/s), ms:"
        )
        for label, key in (
            ("broker floor", "broker_floor"),
            ("decision", "decision"),
            ("action published", "action_published"),
        ):
            x = lat[key]
            print(
                f"  {label:<17} p50 {x['p50_ms']:>8} p99 {x['p99_ms']:>8} "
                f"max {x['max_ms']:>8} ({x['count']:,}); by third p50/p99: "
                + " · ".join(f"{a}/{b}" for a, b in x["thirds_p50_p99_ms"])
            )
    e2e = results.get("e2e")
    if e2e:
        raw, mon = e2e["raw"], e2e["monitor"]
        print(
            f"e2e: {e2e['events']:,} events, {e2e['partitions']} partitions, through the "
            f"embedded broker"
        )
        print(
            f"  raw consume + decode {raw['events_per_s']:>9,} events/s "
            f"({raw['seconds']} s, {raw['events_per_cpu_s']:,} per CPU-second)"
        )
        print(
            f"  monitor              {mon['events_per_s']:>9,} events/s "
            f"({mon['seconds']} s, {mon['events_per_cpu_s']:,} per CPU-second, "
            f"{mon['cpu_share']:.0%} of a core)"
        )
        print(
            f"  decided {mon['decided']:,}, alerts {mon['alerts']:,}, commits "
            f"{mon['commits']:,}, committed to the end: {mon['committed_to_end']}"
        )
        print(f"  machine during the monitor's window: {_load(mon)}")
        print(
            f"  ratio {e2e['ratio']:.3f} (target ≥ {e2e['target_ratio']}); monitor target "
            f"≥ {e2e['target_events_per_s']:,} events/s: "
            f"{'met' if mon['events_per_s'] >= e2e['target_events_per_s'] else 'not met'}"
        )
    scaling = results.get("scaling")
    if scaling:
        print(
            f"scaling: {scaling['events']:,} events, {scaling['partitions']} partitions, "
            f"{scaling['cpu_count']} cores shared with the broker"
        )
        for run in scaling["runs"]:
            members = ", ".join(
                f"{m['partitions']} {m['decided']:,} ev {m['cpu_seconds']} cpu-s"
                for m in run["members"]
            )
            print(
                f"  {run['processes']} process(es) {run['events_per_s']:>9,} events/s "
                f"({run['seconds']} s, ×{run['speedup']:.2f}; decided {run['decided']:,}, "
                f"committed to the end: {run['committed_to_end']}) [{members}]; {_load(run)}"
            )
        print(f"  speed-up {scaling['speedup']:.2f} (target ≥ {scaling['target_speedup']})")
    restart = results.get("restart")
    if restart:
        print(
            f"restart: {restart['accounts_restored']:,} accounts restored from checkpoints "
            f"({restart['checkpoint_bytes'] / 1e6:,.1f} MB, written in "
            f"{restart['checkpoint_seconds']} s): first decision {restart['first_decision_s']} s "
            f"after start (target ≤ 10 s)"
        )
    for m in results.get("memory", []):
        print(
            f"memory: {m['accounts']:,} accounts ({m['events']:,} events): "
            f"{m['bytes_per_account']:,} bytes per account (RSS growth "
            f"{m['rss_growth_bytes'] / 2**20:,.0f} MiB, {m['seconds']} s)"
        )
