"""``vigil users``: people who may use the API, and their tokens, in the database that
``VIGIL_DATABASE_URL`` names. A token is printed once, on stdout (everything else goes
to stderr), so ``TOKEN=$(vigil users create ana --role analyst --queues payments)`` works.
Every change is audited with the actor ``cli:<login name>``."""

from __future__ import annotations

import argparse
import getpass
import sys

from monitor.config import Settings
from monitor.store import AlertStore, AuditContext, StoreError, UnknownUser
from monitor.store.users import ALL_QUEUES, QUEUES, ROLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        title="user commands", dest="users_command", metavar="COMMAND", required=True
    )
    create = sub.add_parser("create", help="create a user and print their first token (once)")
    create.add_argument("name", help="a-z 0-9 . _ - (at most 64)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--queues",
        default=None,
        help=f"analysts: comma-separated, of {', '.join(QUEUES)}; or {ALL_QUEUES} for all",
    )
    sub.add_parser("list", help="users, roles, queues and token use (never a token)")
    token = sub.add_parser("token", help="issue another token for a user (printed once)")
    token.add_argument("name")
    revoke = sub.add_parser("revoke", help="revoke every token of a user")
    revoke.add_argument("name")
    disable = sub.add_parser("disable", help="disable a user for good (and revoke their tokens)")
    disable.add_argument("name")


def _actor() -> AuditContext:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no USER/LOGNAME (containers)
        login = "unknown"
    return AuditContext(f"cli:{login}", "cli")


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    store = AlertStore(settings.sqlalchemy_url)
    try:
        store.create_schema()
        return _run(args, store)
    except (ValueError, UnknownUser, StoreError) as exc:
        print(f"vigil users {args.users_command}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _run(args: argparse.Namespace, store: AlertStore) -> int:
    by = _actor()
    command = args.users_command
    if command == "create":
        queues = args.queues.split(",") if args.queues else None
        user, token = store.create_user(args.name, args.role, queues, by=by)
        where = f" (queues: {', '.join(user.queues)})" if user.role == "analyst" else ""
        print(f"created {user.role} {user.name!r}{where}; token, shown once:", file=sys.stderr)
        print(token)
    elif command == "token":
        token = store.issue_token(args.name, by=by)
        print(f"new token for {args.name!r}, shown once:", file=sys.stderr)
        print(token)
    elif command == "revoke":
        n = store.revoke_tokens(args.name, by=by)
        print(f"revoked {n} token(s) of {args.name!r}", file=sys.stderr)
    elif command == "disable":
        store.disable_user(args.name, by=by)
        print(f"disabled {args.name!r}; their tokens are revoked", file=sys.stderr)
    else:  # list
        print(f"{'name':<20} {'role':<8} {'queues':<30} {'tokens':>8}  last used")
        for u in store.list_users():
            state = "disabled" if u.disabled else str(u.active_tokens)
            used = u.last_used_at.isoformat(timespec="seconds") if u.last_used_at else "never"
            queues = ",".join(u.queues) or "-"
            print(f"{u.name:<20} {u.role:<8} {queues:<30} {state:>8}  {used}")
    return 0
