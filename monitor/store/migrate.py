"""Schema migrations of the alert store (Alembic): upgrade, adopt, report.

The revisions live in ``monitor/store/migrations/`` and are configured here, in code;
no ``alembic.ini`` is needed at run time. :func:`upgrade` is what
``AlertStore.create_schema()`` and ``vigil db upgrade`` run:

- **One migrator at a time.** Within a process, a lock (Alembic's ``op`` and ``context``
  are process-wide). On PostgreSQL the upgrade holds a session advisory lock
  (``pg_advisory_lock``), so of several replicas starting at once one migrates and the
  others wait, then find the schema at head. The revisions run in one transaction
  (PostgreSQL's DDL is transactional): a failed upgrade leaves the previous revision.
  On SQLite the upgrade runs in one ``BEGIN IMMEDIATE`` transaction (the file's write
  lock), with foreign keys off so that a ``batch_alter_table`` rebuilding a table does
  not cascade deletes; they are checked before the commit.
- **Databases made before migrations** (tables, no ``alembic_version``) are adopted:
  what the old ``create_schema`` did to an existing database is done once more (missing
  tables created, ``outbox.topic`` and its index added), the result is compared with
  revision 0001 and, if it matches, stamped 0001; then the upgrade goes on to head. A
  database that does not match is refused and left as it was, with the differences.

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://")
>>> upgrade(engine) == head()
True
>>> current(engine) == (head(),)
True
>>> engine.dispose()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from monitor.store.errors import translate
from monitor.store.exceptions import StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# The revision a database made before migrations is adopted as.
BASELINE = "0001"
# pg_advisory_lock key of schema migrations: "VIGIL" in ASCII, then 1.
ADVISORY_LOCK_KEY = 0x5649_4749_4C00_0001
# What the old create_schema added to tables that existed already (its upgrade_in_place).
_LEGACY_ADDED_COLUMNS = (("outbox", "topic"),)
_LEGACY_ADDED_INDEXES = ("ix_outbox_account_id_seq",)
# Alembic's ``context`` and ``op`` are process-wide proxies: two threads must not run
# migrations at once, whatever the database (nor share an in-memory SQLite connection).
_IN_PROCESS = threading.Lock()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for Vigil's migrations; with ``connection``, ``env.py``
    runs the revisions on it (inside the caller's transaction)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The revisions, as Alembic reads them from ``monitor/store/migrations/versions``."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision (the history is linear: one head)."""
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise StoreError(f"schema migrations must have one head, found {sorted(heads)}")
    return heads[0]


def history() -> list[Script]:
    """Every revision, newest first."""
    return list(script_directory().walk_revisions())


def current(engine: sa.Engine) -> tuple[str, ...]:
    """The revisions the database is stamped with: ``()`` when it has none (empty, or
    made before migrations: see :func:`needs_adoption`)."""
    with translate("read schema revision"), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_heads()


def needs_adoption(engine: sa.Engine) -> bool:
    """Whether the database has Vigil's tables but no revision (made before migrations)."""
    with translate("read schema revision"), engine.connect() as conn:
        return _is_legacy(conn)


def upgrade(engine: sa.Engine, revision: str = "head") -> str:
    """Bring the database to ``revision`` (default: the newest), adopting a database made
    before migrations first; returns the revision it is at. Idempotent, and safe to run
    from several processes at once (see the module docstring).

    A database already at a revision newer than this version knows (a newer release
    migrated it, and this one is a rollback) is left as it is, with a warning, when the
    target is ``"head"``: releases only add to the schema, so the older code still works
    on it. Any other target raises :class:`StoreError`.
    """
    script = script_directory()
    with translate("migrate schema"), engine.connect() as conn, _exclusive(conn):
        context = MigrationContext.configure(conn)
        adopted = _adopt(conn, context, script)
        before = context.get_current_heads()
        unknown = _unknown(before, script)
        if unknown and revision == "head":
            log.warning(
                "the database is at schema revision %s, newer than this version of Vigil "
                "knows (its newest: %s); leaving the schema as it is",
                ",".join(unknown),
                ",".join(script.get_heads()),
            )
            return ",".join(before)
        if unknown:
            raise _newer_error(unknown)
        target = script.get_heads() if revision == "head" else [revision]
        if adopted or sorted(before) != sorted(target):
            _alembic(command.upgrade, conn, revision)
        after = context.get_current_heads()
    was, now = ",".join(before) or "base", ",".join(after) or "base"
    if was != now:
        log.info("database schema upgraded from %s to %s", was, now)
    return now


def downgrade(engine: sa.Engine, revision: str) -> str:
    """Take the database back to ``revision`` (``"base"``: drop every table, and the data
    with them); returns the revision it is at."""
    script = script_directory()
    with translate("migrate schema"), engine.connect() as conn, _exclusive(conn):
        context = MigrationContext.configure(conn)
        unknown = _unknown(context.get_current_heads(), script)
        if unknown:
            raise _newer_error(unknown)
        _alembic(command.downgrade, conn, revision)
        return ",".join(context.get_current_heads()) or "base"


def is_known(revision: str) -> bool:
    """Whether this version of Vigil has ``revision`` among its migrations."""
    return not _unknown((revision,), script_directory())


def _unknown(revisions: tuple[str, ...], script: ScriptDirectory) -> list[str]:
    unknown = []
    for rev in revisions:
        try:
            script.get_revision(rev)
        except (CommandError, RevisionError):
            unknown.append(rev)
    return unknown


def _newer_error(unknown: list[str]) -> StoreError:
    return StoreError(
        f"the database is at schema revision {','.join(unknown)}, which this version of "
        "Vigil does not know: a newer one migrated it. Migrate it with that version"
    )


def _alembic(run: Any, conn: sa.Connection, revision: str) -> None:
    try:
        run(alembic_config(conn), revision)
    except (CommandError, RevisionError) as exc:  # e.g. an unknown target revision
        raise StoreError(
            f"schema migration to {revision!r}: {exc} (`vigil db history` lists the revisions)"
        ) from exc
    if conn.dialect.name == "sqlite":  # foreign keys were off: see _database_lock
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise StoreError(f"schema migration to {revision!r} broke foreign keys: {broken[:5]}")


@contextmanager
def _exclusive(conn: sa.Connection) -> Iterator[None]:
    """Hold the migration locks and one transaction on ``conn``; commit at the end."""
    with _IN_PROCESS, _database_lock(conn):
        yield


@contextmanager
def _database_lock(conn: sa.Connection) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(ADVISORY_LOCK_KEY))).scalar():
            log.info("another process is migrating the schema: waiting for it to finish")
            conn.execute(sa.select(sa.func.pg_advisory_lock(ADVISORY_LOCK_KEY)))
        conn.commit()
        try:
            with conn.begin():
                yield
        finally:
            try:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
                conn.commit()
            except sa.exc.SQLAlchemyError:
                conn.invalidate()  # closing the session releases its lock
                raise
        return
    # SQLite: PRAGMA foreign_keys is ignored inside a transaction, so before it.
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        with conn.begin():
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


def _is_legacy(conn: sa.Connection, context: MigrationContext | None = None) -> bool:
    if (context or MigrationContext.configure(conn)).get_current_heads():
        return False
    present = set(sa.inspect(conn).get_table_names()) - {VERSION_TABLE}
    return bool(present & set(_baseline_tables().tables))


def _baseline_tables(script: ScriptDirectory | None = None) -> sa.MetaData:
    module = (script or script_directory()).get_revision(BASELINE).module
    tables: sa.MetaData = module.tables()
    return tables


def _adopt(conn: sa.Connection, context: MigrationContext, script: ScriptDirectory) -> bool:
    """Stamp a database made before migrations with :data:`BASELINE`, after the old
    ``create_schema``'s additions; returns whether it did. Raises :class:`StoreError`
    when the tables do not match the baseline (the caller's transaction rolls back)."""
    if not _is_legacy(conn, context):
        return False
    baseline = _baseline_tables(script)
    added = _legacy_additions(conn, baseline)
    problems = [_describe(d) for d in _differences(conn, baseline)]
    if problems:
        raise StoreError(
            f"the database has Vigil's tables but no schema revision, and they differ from "
            f"revision {BASELINE}, so it cannot be adopted: {'; '.join(problems)}. Fix the "
            f"tables (or migrate the data into a new database), then `vigil db upgrade`"
        )
    context.stamp(script, BASELINE)
    log.warning(
        "adopted a database made before schema migrations as revision %s%s",
        BASELINE,
        f" (added {', '.join(added)})" if added else "",
    )
    return True


def _legacy_additions(conn: sa.Connection, baseline: sa.MetaData) -> list[str]:
    """What the old ``create_schema`` did to an existing database: ``create_all`` (the
    missing tables) and its ``upgrade_in_place`` (a column and an index)."""
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    added = [t.name for t in baseline.sorted_tables if t.name not in existing]
    baseline.create_all(conn, checkfirst=True)
    for table_name, column_name in _LEGACY_ADDED_COLUMNS:
        if table_name not in existing:
            continue
        if column_name not in {c["name"] for c in inspector.get_columns(table_name)}:
            column = baseline.tables[table_name].c[column_name]
            ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table_name} ADD COLUMN {ddl}"))
            added.append(f"{table_name}.{column_name}")
    indexes = {str(ix.name): ix for t in baseline.tables.values() for ix in t.indexes}
    for name in _LEGACY_ADDED_INDEXES:
        index = indexes[name]
        table_name = index.table.name if index.table is not None else ""
        if table_name in existing and name not in {
            ix["name"] for ix in inspector.get_indexes(table_name)
        }:
            index.create(conn)
            added.append(name)
    return added


def _differences(conn: sa.Connection, target: sa.MetaData) -> list[Any]:
    """How the database differs from ``target`` (Alembic's autogenerate comparison),
    less the extra tables and non-unique indexes it may have (they break nothing)."""
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return [d for d in compare_metadata(context, target) if not _harmless(d)]


def _harmless(diff: Any) -> bool:
    if not isinstance(diff, tuple):
        return False
    return diff[0] == "remove_table" or (diff[0] == "remove_index" and not diff[1].unique)


def _describe(diff: Any) -> str:
    """One autogenerate difference, as an operator reads it."""
    if isinstance(diff, list):  # modify_* entries come grouped per column
        return ", ".join(_describe(d) for d in diff)
    kind, *rest = diff
    if kind.startswith("modify_"):
        _schema, table, column, _info, old, new = rest
        return f"{table}.{column} {kind.removeprefix('modify_')} is {old!r}, expected {new!r}"
    obj = rest[-1] if kind.endswith("_column") else rest[0]
    table = getattr(obj, "table", None)
    where = f" on {table.name}" if table is not None and hasattr(table, "name") else ""
    name = getattr(obj, "name", None) or obj
    verb, noun = kind.split("_", 1)
    return f"{'missing' if verb == 'add' else 'unexpected'} {noun} {name}{where}"
