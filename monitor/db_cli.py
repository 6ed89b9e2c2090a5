"""``vigil db``: the schema of the database ``VIGIL_DATABASE_URL`` names (Alembic
migrations, :mod:`monitor.store.migrate`). ``upgrade`` brings it to the newest revision
(or ``--revision``), adopting a database made before migrations; ``current`` prints its
revision; ``history`` lists the revisions this version of Vigil knows. Results go to
stdout, the database and progress to stderr."""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from monitor.config import Settings
from monitor.store import StoreError, migrate
from monitor.store.engine import make_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        title="database commands", dest="db_command", metavar="COMMAND", required=True
    )
    upgrade = sub.add_parser(
        "upgrade", help="migrate the schema to the newest revision (or --revision)"
    )
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    sub.add_parser("current", help="the database's schema revision")
    history = sub.add_parser("history", help="the revisions this version knows, newest first")
    history.add_argument("-v", "--verbose", action="store_true", help="with dates and docs")


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    if args.db_command == "history":
        _history(verbose=args.verbose)
        return 0
    try:
        engine = make_engine(settings.sqlalchemy_url)
    except StoreError as exc:
        print(f"vigil db {args.db_command}: {exc}", file=sys.stderr)
        return 1
    print(f"database: {engine.url.render_as_string(hide_password=True)}", file=sys.stderr)
    try:
        if args.db_command == "upgrade":
            before = migrate.current(engine)
            now = migrate.upgrade(engine, args.revision)
            was = ",".join(before) or "none"
            print(f"{_label(now)} (was {was})" if was != now else f"{_label(now)}, up to date")
        else:  # current
            print(_current(engine))
        return 0
    except StoreError as exc:
        print(f"vigil db {args.db_command}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _label(revision: str) -> str:
    if revision == migrate.head():
        return f"{revision} (head)"
    if revision != "base" and not migrate.is_known(revision):
        return f"{revision} (newer than this version of Vigil knows)"
    return revision


def _current(engine: sa.Engine) -> str:
    revisions = migrate.current(engine)
    if revisions:
        return ", ".join(_label(r) for r in revisions)
    if migrate.needs_adoption(engine):
        return (
            "none: tables made before schema migrations; `vigil db upgrade` adopts them "
            f"as {migrate.BASELINE} and upgrades"
        )
    return "none: empty database; `vigil db upgrade` creates the schema"


def _history(*, verbose: bool) -> None:
    for script in migrate.history():
        print(script.cmd_format(verbose, include_doc=True, include_parents=True))
