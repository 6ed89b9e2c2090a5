"""Arguments for ``vigil evaluate`` (the CLI module owns the parser and calls these).

Only argparse is imported here; the pipeline, numpy and matplotlib load when the command
runs, so building the ``vigil`` parser stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.config import Settings

    from .source import LabelledSource

__all__ = ["DEFAULT_ACCOUNTS", "DEFAULT_DAYS", "add_arguments", "run_from_args"]

DEFAULT_ACCOUNTS = 10_000
DEFAULT_DAYS = 7.0
DEFAULT_SEED = 7
DEFAULT_ATTACK_SHARE = 0.02
DEFAULT_PLOTS = Path("out/evaluate")
_SIM_OPTIONS = ("accounts", "days", "seed", "attack_share")


def _definitions() -> str:
    import monitor.evaluate

    doc = monitor.evaluate.__doc__ or ""
    start = doc.find("Definitions\n")
    return doc[start:].rstrip() if start >= 0 else "Definitions: see monitor/evaluate/__init__.py"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run a labelled stream (the simulator's, or an events file plus a labels file)\n"
        "through the pipeline offline and report detection per attack scenario, precision,\n"
        "false restrictions of honest accounts and money stopped. Exit status 0 when the\n"
        "evaluation finishes (missed targets are information, not errors), 2 on bad input."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _definitions()
    add = parser.add_argument
    sim = parser.add_argument_group("simulator input (the default)")
    sim.add_argument(
        "--accounts", type=int, help=f"accounts to simulate (default {DEFAULT_ACCOUNTS:,})"
    )
    sim.add_argument("--days", type=float, help=f"simulated days (default {DEFAULT_DAYS:g})")
    sim.add_argument("--seed", type=int, help=f"simulator seed (default {DEFAULT_SEED})")
    sim.add_argument(
        "--attack-share",
        type=float,
        help=f"fraction of accounts hit by a campaign (default {DEFAULT_ATTACK_SHARE:g})",
    )
    files = parser.add_argument_group("file input")
    files.add_argument(
        "--events", type=Path, metavar="EVENTS.jsonl", help="events, one JSON object per line"
    )
    files.add_argument(
        "--labels",
        type=Path,
        metavar="LABELS.jsonl",
        help="labels by event id (default: EVENTS.labels.jsonl beside --events)",
    )
    add("--rules", type=Path, metavar="DIR", help="rule pack (default: VIGIL_RULES_DIR)")
    add(
        "--partitions",
        type=_positive_int,
        default=4,
        help="pipelines, by crc32(account_id) %% N (default 4)",
    )
    add("--json", action="store_true", help="print the full report as JSON on stdout")
    add(
        "--plots",
        type=Path,
        metavar="DIR",
        default=DEFAULT_PLOTS,
        help=f"where the PNG plots go (default {DEFAULT_PLOTS})",
    )
    add("--no-plots", action="store_true", help="do not write plots")
    add(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal and not --json)",
    )


def _source(args: argparse.Namespace) -> LabelledSource:
    from monitor.simulate import SimConfig

    from .exceptions import InputError
    from .source import from_jsonl, from_simulator

    if args.events is not None:
        given = [f"--{o.replace('_', '-')}" for o in _SIM_OPTIONS if getattr(args, o) is not None]
        if given:
            raise InputError(f"{', '.join(given)} apply to the simulator, not to --events")
        labels = args.labels or args.events.with_name(f"{args.events.stem}.labels.jsonl")
        return from_jsonl(args.events, labels)
    if args.labels is not None:
        raise InputError("--labels needs --events")
    try:
        cfg = SimConfig(
            accounts=DEFAULT_ACCOUNTS if args.accounts is None else args.accounts,
            days=DEFAULT_DAYS if args.days is None else args.days,
            seed=DEFAULT_SEED if args.seed is None else args.seed,
            attack_share=DEFAULT_ATTACK_SHARE if args.attack_share is None else args.attack_share,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return from_simulator(cfg)


def fail(command: str, exc: Exception) -> int:
    """Bad input: say why on stderr (every file:line of a rule pack), exit code 2."""
    problems = getattr(exc, "problems", None) or [str(exc)]
    for problem in problems:
        print(f"vigil {command}: {problem}", file=sys.stderr)
    return 2


def progress_bar(args: argparse.Namespace, total: int | None, desc: str) -> Any:
    """A tqdm bar on stderr, shown on a terminal unless ``--json`` (``--progress`` wins)."""
    from tqdm import tqdm

    show = args.progress if args.progress is not None else sys.stderr.isatty() and not args.json
    return tqdm(
        total=total,
        desc=desc,
        unit=" events",
        unit_scale=True,
        file=sys.stderr,
        disable=not show,
        mininterval=0.5,
    )


def finish(command: str, report: Any, text: str, *, as_json: bool) -> int:
    """Report skipped input lines on stderr, then the report (text or JSON) on stdout."""
    import msgspec

    run = report.run
    if run.bad_lines or run.bad_label_lines:
        print(
            f"vigil {command}: skipped {run.bad_lines:,} bad event lines and "
            f"{run.bad_label_lines:,} bad label lines",
            file=sys.stderr,
        )
        for example in run.bad_line_examples:
            print(f"  {example}", file=sys.stderr)
    if as_json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report)).decode() + "\n")
    else:
        print(text)
    return 0


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate, print the report (text or ``--json``), write the plots. 0 when the
    evaluation finished (targets are information, not errors), 2 on bad input."""
    import msgspec

    from monitor.ruleset import RuleLoadError, load_rules

    from .exceptions import InputError
    from .metrics import build_report
    from .report import format_report
    from .run import replay

    try:
        source = _source(args)
        rules = load_rules(args.rules or settings.rules_dir)
    except (InputError, RuleLoadError) as exc:
        return fail("evaluate", exc)
    with progress_bar(args, source.total, "evaluate") as bar:
        collected = replay(
            source,
            rules,
            partitions=args.partitions,
            pipeline_options=settings.pipeline_options(),
            progress=bar.update,
        )
    report = build_report(collected)
    if not args.no_plots:
        from .plots import write_plots

        paths = write_plots(collected, report, args.plots)
        report = msgspec.structs.replace(report, plots=[str(p) for p in paths])
    return finish("evaluate", report, format_report(report), as_json=args.json)
