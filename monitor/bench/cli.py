"""``vigil bench [core] [memory] [--json]``: measured, never asserted."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from monitor.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "stages",
        nargs="*",
        choices=("core", "memory", "latency"),
        default=["core"],
        help="what to measure (default: core)",
    )
    parser.add_argument(
        "--accounts",
        default="100000,1000000",
        help="memory: comma-separated account counts (default 100000,1000000)",
    )
    parser.add_argument("--core-accounts", type=int, default=5000)
    parser.add_argument("--core-days", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3, help="core: runs, median reported")
    parser.add_argument(
        "--rates",
        default="1000,3000,10000",
        help="latency: offered loads in events/s (default 1000,3000)",
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="latency: per load")
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
    if "latency" in args.stages:
        import asyncio

        from monitor.bench.latency import run_latency

        results["latency"] = []
        for rate in [int(x) for x in args.rates.split(",") if x]:
            print(f"latency: {rate:,} events/s for {args.seconds:g} s ...", file=sys.stderr)
            results["latency"].append(
                asyncio.run(run_latency(settings.rules_dir, rate, args.seconds))
            )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)
    return 0


def _print(results: dict[str, Any]) -> None:
    core = results.get("core")
    if core:
        print(
            f"core: {core['events']:,} events, {core['accounts']:,} accounts, median of "
            f"{core['repeat']} runs"
        )
        print(f"  pipeline   {core['pipeline_events_per_s']:>10,} events/s")
        print(f"  decode     {core['decode_events_per_s']:>10,} events/s")
        for stage, us in core["us_per_event"].items():
            print(f"  {stage:<14} {us:>7.2f} µs/event")
        print(
            f"  rules: {core['rule_us_per_rule_per_event']:.3f} µs per rule per event "
            f"({core['rules']} rules)"
        )
    for lat in results.get("latency", []):
        d, a = lat["decision"], lat["action_published"]
        print(
            f"latency at {lat['offered_rate']:,} events/s offered ({lat['decided_per_s']:,} "
            f"decided/s): decision p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms, max "
            f"{d['max_ms']} ms ({d['count']:,}); action published p50 {a['p50_ms']} ms, "
            f"p99 {a['p99_ms']} ms, max {a['max_ms']} ms ({a['count']:,})"
        )
    for m in results.get("memory", []):
        print(
            f"memory: {m['accounts']:,} accounts ({m['events']:,} events): "
            f"{m['bytes_per_account']:,} bytes per account (RSS growth "
            f"{m['rss_growth_bytes'] / 2**20:,.0f} MiB, {m['seconds']} s)"
        )
