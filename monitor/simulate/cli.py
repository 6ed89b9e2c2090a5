"""Arguments for ``vigil simulate`` (the CLI module owns the parser and calls these)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from .model import SimConfig
from .output import produce, write_jsonl

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--accounts", type=int, default=1000, help="wallet accounts to simulate (default 1000)")
    add("--days", type=float, default=1.0, help="simulated days (default 1)")
    add("--seed", type=int, default=7, help="same seed, same stream (default 7)")
    add(
        "--attack-share",
        type=float,
        default=0.02,
        help="fraction of accounts hit by an attack campaign (default 0.02)",
    )
    add("--out", type=Path, metavar="EVENTS.jsonl", help="write events here instead of Kafka")
    add(
        "--labels",
        type=Path,
        metavar="LABELS.jsonl",
        help="with --out: where labels go (default: EVENTS.labels.jsonl beside it)",
    )
    add("--bootstrap", help="Kafka bootstrap servers (default: from settings)")
    add("--topic", default="wallet.events", help="events topic (default wallet.events)")
    add(
        "--labels-topic",
        default="wallet.labels",
        help="ground-truth topic (default wallet.labels; '' to not publish labels)",
    )
    add(
        "--speed",
        type=float,
        default=None,
        help="pace so event time runs SPEED x the wall clock (default: as fast as possible)",
    )
    add("--compression", choices=("gzip", "snappy", "lz4", "zstd"), default=None)


def run_from_args(args: argparse.Namespace, bootstrap_default: str) -> int:
    """Simulate to files (``--out``) or to Kafka; one-line summary on stderr."""
    try:
        cfg = SimConfig(
            accounts=args.accounts, days=args.days, seed=args.seed, attack_share=args.attack_share
        )
    except ValueError as exc:
        print(f"vigil simulate: {exc}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    if args.out is not None:
        labels = args.labels or args.out.with_name(f"{args.out.stem}.labels.jsonl")
        stats = write_jsonl(cfg, args.out, labels)
        where = f"{args.out} (labels {labels})"
    else:
        bootstrap = args.bootstrap or bootstrap_default
        labels_topic = args.labels_topic or None
        stats = asyncio.run(
            produce(
                cfg,
                bootstrap,
                args.topic,
                labels_topic,
                speed=args.speed,
                compression=args.compression,
            )
        )
        where = f"{bootstrap} topic {args.topic}" + (
            f" (labels {labels_topic})" if labels_topic else ""
        )
    campaigns = ", ".join(f"{k} {v}" for k, v in sorted(stats.campaigns.items())) or "none"
    print(
        f"simulated {stats.events} events ({stats.malicious} malicious; campaigns: {campaigns}) "
        f"for {stats.accounts} accounts over {cfg.days:g} days to {where} "
        f"in {time.perf_counter() - began:.1f}s",
        file=sys.stderr,
    )
    return 0
