"""Arguments for ``vigil replay`` (the CLI module owns the parser and calls these).

Only argparse is imported at module level; the pipeline loads when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.evaluate.source import LabelledSource
    from monitor.ruleset import RulePack

__all__ = ["add_arguments", "run_from_args"]

_SIM_OPTIONS = ("accounts", "days", "seed", "attack_share")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _definitions() -> str:
    import monitor.replay

    doc = monitor.replay.__doc__ or ""
    start = doc.find("Definitions\n")
    return doc[start:].rstrip() if start >= 0 else "Definitions: see monitor/replay/__init__.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from monitor.evaluate.cli import (
        DEFAULT_ACCOUNTS,
        DEFAULT_ATTACK_SHARE,
        DEFAULT_DAYS,
        DEFAULT_SEED,
    )

    parser.description = (
        "Backtest a rule pack: run recorded events (or a fresh simulator stream) through\n"
        "the real feature pipeline without taking any action, and report hits per rule,\n"
        "accounts affected and, with labels, precision and recall. Shadow rules are counted\n"
        "as if active and marked. --compare DIR runs a candidate pack side by side and shows\n"
        "what would change. Exit status 0 on success, 2 on bad input."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _definitions()
    add = parser.add_argument
    add("events", nargs="?", type=Path, metavar="EVENTS.jsonl", help="events, one per line")
    add("--labels", type=Path, metavar="LABELS.jsonl", help="labels by event id (optional)")
    add("--rules", type=Path, metavar="DIR", help="rule pack A (default: VIGIL_RULES_DIR)")
    add("--compare", type=Path, metavar="DIR", help="candidate rule pack B, run side by side")
    add(
        "--partitions",
        type=_positive_int,
        default=4,
        help="pipelines per pack, by crc32(account_id) %% N (default 4)",
    )
    add("--json", action="store_true", help="print the full report as JSON on stdout")
    add(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal and not --json)",
    )
    sim = parser.add_argument_group("simulator input (instead of EVENTS.jsonl)")
    sim.add_argument("--simulate", action="store_true", help="replay a fresh simulator stream")
    sim.add_argument("--accounts", type=int, help=f"(default {DEFAULT_ACCOUNTS:,})")
    sim.add_argument("--days", type=float, help=f"(default {DEFAULT_DAYS:g})")
    sim.add_argument("--seed", type=int, help=f"(default {DEFAULT_SEED})")
    sim.add_argument("--attack-share", type=float, help=f"(default {DEFAULT_ATTACK_SHARE:g})")


def _source(args: argparse.Namespace) -> tuple[LabelledSource, bool]:
    """The stream, and whether it is labelled."""
    from monitor.evaluate import cli as evaluate_cli
    from monitor.evaluate import source
    from monitor.evaluate.exceptions import InputError as SourceInputError
    from monitor.simulate import SimConfig

    from .exceptions import InputError

    given = [f"--{o.replace('_', '-')}" for o in _SIM_OPTIONS if getattr(args, o) is not None]
    if args.simulate:
        if args.events is not None or args.labels is not None:
            raise InputError("--simulate replays the simulator: no EVENTS.jsonl or --labels")
        try:
            cfg = SimConfig(
                accounts=evaluate_cli.DEFAULT_ACCOUNTS if args.accounts is None else args.accounts,
                days=evaluate_cli.DEFAULT_DAYS if args.days is None else args.days,
                seed=evaluate_cli.DEFAULT_SEED if args.seed is None else args.seed,
                attack_share=evaluate_cli.DEFAULT_ATTACK_SHARE
                if args.attack_share is None
                else args.attack_share,
            )
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        return source.from_simulator(cfg), True
    if given:
        raise InputError(f"{', '.join(given)} apply to --simulate")
    if args.events is None:
        raise InputError("give EVENTS.jsonl, or --simulate")
    try:
        return source.from_jsonl(args.events, args.labels), args.labels is not None
    except SourceInputError as exc:
        raise InputError(str(exc)) from exc


def _packs(args: argparse.Namespace, settings: Settings) -> list[RulePack]:
    from monitor.ruleset import load_rules

    packs = [load_rules(args.rules or settings.rules_dir)]
    if args.compare is not None:
        packs.append(load_rules(args.compare))
    return packs


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    """Replay, print the report (text or ``--json``). 0 on success, 2 on bad input."""
    from monitor.evaluate.cli import fail, finish, progress_bar
    from monitor.ruleset import RuleLoadError

    from .exceptions import InputError
    from .report import build_report
    from .run import replay
    from .text import format_report

    try:
        packs = _packs(args, settings)
        stream, labelled = _source(args)
    except (InputError, RuleLoadError) as exc:
        return fail("replay", exc)
    with progress_bar(args, stream.total, "replay") as bar:
        replayed = replay(
            stream,
            packs,
            labelled=labelled,
            partitions=args.partitions,
            pipeline_options=settings.pipeline_options(),
            progress=bar.update,
        )
    report = build_report(replayed)
    return finish("replay", report, format_report(report), as_json=args.json)
