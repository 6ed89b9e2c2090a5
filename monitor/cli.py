"""The ``vigil`` command: run | demo | simulate | evaluate | replay | bench | rules | users | db."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from monitor.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    from monitor.gctune import tune_gc

    tune_gc(settings.gc_threshold)
    result: int = args.handler(args, settings)
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vigil",
        description="Real-time anti-fraud monitor for "
        "wallet accounts. Settings come from VIGIL_* variables.",
    )
    sub = p.add_subparsers(title="commands")

    run = sub.add_parser("run", help="the service: consume VIGIL_KAFKA_BOOTSTRAP, serve the API")
    run.add_argument("--no-api", action="store_true", help="monitor only, no HTTP API")
    run.set_defaults(handler=_run)

    api = sub.add_parser(
        "api", help="the API and support console alone, beside monitors sharing the database"
    )
    api.set_defaults(handler=_api)

    demo = sub.add_parser("demo", help="embedded broker + simulator + monitor + API")
    demo.add_argument("--accounts", type=int, default=2000)
    demo.add_argument("--days", type=float, default=2.0, help="simulated days of history")
    demo.add_argument(
        "--speed",
        type=float,
        default=1200.0,
        help="event time runs this many times faster than the wall clock",
    )
    demo.add_argument("--attack-share", type=float, default=0.03)
    demo.add_argument("--data-dir", type=Path, default=Path("data"))
    demo.set_defaults(handler=_demo)

    from monitor.simulate import add_arguments

    sim = sub.add_parser(
        "simulate", help="a wallet population with labelled attacks, to Kafka or JSONL files"
    )
    add_arguments(sim)
    sim.set_defaults(handler=_simulate)

    from monitor.evaluate.cli import add_arguments as add_evaluate_arguments
    from monitor.evaluate.cli import run_from_args as run_evaluate

    evaluate = sub.add_parser(
        "evaluate", help="replay a labelled stream offline; detection, precision, plots"
    )
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(handler=run_evaluate)

    from monitor.replay.cli import add_arguments as add_replay_arguments

    replay = sub.add_parser(
        "replay", help="backtest rule packs on recorded events (hits, accounts, --compare)"
    )
    add_replay_arguments(replay)
    replay.set_defaults(handler=_replay)

    from monitor.bench.cli import add_arguments as add_bench_arguments

    bench = sub.add_parser(
        "bench",
        help="measure pipeline speed per stage and memory per "
        "account (results: docs/benchmarks.md)",
    )
    add_bench_arguments(bench)
    bench.set_defaults(handler=_bench)

    rules = sub.add_parser("rules", help="rule pack tools")
    rsub = rules.add_subparsers(title="rule commands")
    check = rsub.add_parser("check", help="validate a rule pack; errors as file:line")
    check.add_argument("dir", nargs="?", type=Path, default=None)
    check.set_defaults(handler=_rules_check)
    test = rsub.add_parser(
        "test", help="run every rule's own test cases through the pipeline; exit 1 on a failure"
    )
    test.add_argument("dir", nargs="?", type=Path, default=None)
    test.add_argument("-q", "--quiet", action="store_true", help="only failures and the summary")
    test.set_defaults(handler=_rules_test)

    from monitor.users_cli import add_arguments as add_users_arguments

    users = sub.add_parser(
        "users", help="people who may use the API: create (prints a token once), list, revoke"
    )
    add_users_arguments(users)
    users.set_defaults(handler=_users)

    from monitor.db_cli import add_arguments as add_db_arguments

    db = sub.add_parser(
        "db", help="database schema migrations: upgrade [--revision R], current, history"
    )
    add_db_arguments(db)
    db.set_defaults(handler=_db)
    return p


def _until_signal(coro: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run ``coro(stop)`` until it ends or SIGINT/SIGTERM sets ``stop``."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await coro(stop)

    asyncio.run(runner())
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.service import serve

    return _until_signal(lambda stop: serve(settings, stop, with_api=not args.no_api))


def _api(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.service import serve_api

    return _until_signal(lambda stop: serve_api(settings, stop))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.demo import run_demo

    return _until_signal(
        lambda stop: run_demo(
            settings,
            stop,
            accounts=args.accounts,
            days=args.days,
            speed=args.speed,
            attack_share=args.attack_share,
            data_dir=args.data_dir,
        )
    )


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.simulate import run_from_args

    return run_from_args(args, settings.kafka_bootstrap)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.replay.cli import run_from_args

    return run_from_args(args, settings)


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.bench.cli import run_from_args

    return run_from_args(args, settings)


def _users(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.users_cli import run_from_args

    return run_from_args(args, settings)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.db_cli import run_from_args

    return run_from_args(args, settings)


def _rules_check(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.ruleset import RuleLoadError, load_rules

    directory = args.dir or settings.rules_dir
    try:
        pack = load_rules(directory)
    except RuleLoadError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{len(pack.rules)} rules OK in {directory} (version {pack.version})")
    return 0


def _rules_test(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.ruleset import RuleLoadError, load_rules
    from monitor.ruletests import format_report, run_rule_tests

    directory = args.dir or settings.rules_dir
    try:
        pack = load_rules(directory)
    except RuleLoadError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    results = run_rule_tests(pack)
    lines, ok = format_report(pack, results, quiet=args.quiet)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
