"""Schema migrations (Alembic), on SQLite and PostgreSQL (a fresh schema per test):
they arrive at exactly ``schema.metadata``, go down and up again, adopt a database made
by the old ``create_all`` path, let one of several starting replicas migrate, and are
driven by ``vigil db``."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor.cli import main
from monitor.store import AlertStore, StoreError, migrate
from monitor.store.engine import make_engine
from monitor.store.schema import metadata

T = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
HEAD = migrate.head()
# Tables an older Vigil did not have yet (its create_all never made them).
NEWER_TABLES = {"case_work", "case_events", "users", "api_tokens", "checkpoints"}


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    e = make_engine(store_url)
    try:
        yield e
    finally:
        e.dispose()


def differences(engine: sa.Engine) -> list[Any]:
    """Alembic's autogenerate comparison of the database with ``schema.metadata``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_of_an_empty_database_arrives_at_the_metadata(engine: sa.Engine) -> None:
    assert migrate.current(engine) == ()
    assert migrate.upgrade(engine) == HEAD
    assert migrate.current(engine) == (HEAD,)
    assert tables(engine) == set(metadata.tables) | {"alembic_version"}
    assert differences(engine) == []
    assert migrate.upgrade(engine) == HEAD  # idempotent


def test_downgrade_to_base_and_upgrade_again(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.downgrade(engine, "base") == "base"
    assert tables(engine) == {"alembic_version"}
    assert migrate.current(engine) == ()
    assert migrate.upgrade(engine) == HEAD
    assert differences(engine) == []


def test_every_revision_goes_up_down_and_up_again(engine: sa.Engine) -> None:
    """The stairway: each revision's downgrade undoes its upgrade, one step at a time."""
    for script in reversed(migrate.history()):
        migrate.upgrade(engine, script.revision)
        below = script.down_revision
        assert isinstance(below, str | None)  # a linear history
        migrate.downgrade(engine, below or "base")
        assert migrate.upgrade(engine, script.revision) == script.revision
    assert differences(engine) == []


PROBE_REVISION = """\
revision = "0002_probe"
down_revision = "0001"

import sqlalchemy as sa
from alembic import op


def _recreate() -> str:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    with op.batch_alter_table("cases", recreate=_recreate()) as batch:
        batch.add_column(sa.Column("probe", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", recreate=_recreate()) as batch:
        batch.drop_column("probe")
"""


def test_a_batch_rebuild_of_a_referenced_table_keeps_the_rows_referring_to_it(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite rebuilds a table to alter it (copy, drop, rename): with foreign keys on,
    dropping ``cases`` would cascade-delete its ``case_work`` rows. Migrations run with
    them off, then checked."""
    probe = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, probe, ignore=shutil.ignore_patterns("__pycache__"))
    (probe / "versions" / "0002_probe.py").write_text(PROBE_REVISION)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            metadata.tables["cases"].insert(),
            {
                "case_id": "case-1",
                "account_id": "acc-1",
                "category": "ato",
                "status": "open",
                "priority": "high",
                "due_at": T,
                "opened_at": T,
                "updated_at": T,
                "data": {},
            },
        )
        conn.execute(metadata.tables["case_work"].insert(), {"case_id": "case-1", "updated_at": T})
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", probe)
    assert migrate.upgrade(engine) == "0002_probe"
    assert "probe" in {c["name"] for c in sa.inspect(engine).get_columns("cases")}
    assert migrate.downgrade(engine, "0001") == "0001"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT case_id FROM case_work")).scalars().all() == ["case-1"]
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def older_metadata() -> sa.MetaData:
    """``schema.metadata`` as an older Vigil had it: no casework, user or checkpoint
    tables yet, and an outbox without ``topic`` and its account index."""
    old = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        if table.name not in NEWER_TABLES | {"outbox"}:
            table.to_metadata(old)
    outbox = metadata.tables["outbox"]
    sa.Table(
        "outbox",
        old,
        *(
            sa.Column(
                c.name,
                c.type,
                primary_key=c.primary_key,
                autoincrement=c.autoincrement,
                nullable=c.nullable,
                unique=c.unique,
            )
            for c in outbox.columns
            if c.name != "topic"
        ),
        sa.Index(None, "published_at", "seq"),
    )
    return old


def create_old_database(url: str) -> None:
    """What the previous ``create_schema`` (``create_all``) left, with a row or two."""
    old = older_metadata()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            old.create_all(conn)
            conn.execute(
                old.tables["alerts"].insert(),
                {
                    "alert_id": "alrt_old",
                    "event_id": "e-old",
                    "account_id": "acc-1",
                    "event_type": "transfer",
                    "event_time": T,
                    "detected_at": T,
                    "score": 0.9,
                    "severity": "high",
                    "severity_rank": 3,
                    "rule_ids": ["velocity"],
                    "reasons": [],
                    "actions": [],
                },
            )
            conn.execute(
                old.tables["outbox"].insert(),
                {
                    "action_id": "act_old",
                    "account_id": "acc-1",
                    "type": "require_step_up",
                    "body": b"{}",
                    "created_at": T,
                },
            )
    finally:
        engine.dispose()


def test_a_database_made_by_create_all_is_adopted_without_data_loss(store_url: str) -> None:
    create_old_database(store_url)
    store = AlertStore(store_url)
    try:
        assert migrate.needs_adoption(store.engine)
        store.create_schema()
        assert migrate.current(store.engine) == (HEAD,)
        assert not migrate.needs_adoption(store.engine)
        assert differences(store.engine) == []
        alert = store.get_alert("alrt_old")
        assert alert is not None and (alert.event_id, alert.event_time) == ("e-old", T)
        (row,) = store.pending_actions()
        assert (row.action_id, row.topic) == ("act_old", "actions")  # the column's default
        store.create_schema()  # idempotent
        assert store.count_alerts() == 1
    finally:
        store.close()


def test_a_database_that_does_not_match_is_refused_and_left_alone(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:  # an alerts table without severity_rank
            conn.execute(sa.text("CREATE TABLE alerts (alert_id VARCHAR PRIMARY KEY)"))
        with pytest.raises(StoreError, match=r"cannot be adopted.*missing column severity_rank"):
            AlertStore(store_url).create_schema()
        assert tables(engine) == {"alerts"}  # nothing created, nothing stamped
        assert migrate.current(engine) == ()
    finally:
        engine.dispose()


def test_a_database_migrated_by_a_newer_vigil_is_left_as_it_is(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A rollback: the older release starts on the newer (additive) schema, untouched;
    asked for a particular revision, it refuses."""
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    with caplog.at_level(logging.WARNING, logger="monitor.store.migrate"):
        assert migrate.upgrade(engine) == "9999_future"
    assert "schema revision 9999_future, newer than this version" in caplog.text
    assert migrate.current(engine) == ("9999_future",)
    with pytest.raises(StoreError, match=r"9999_future, which this version .* does not know"):
        migrate.upgrade(engine, HEAD)
    with pytest.raises(StoreError, match=r"9999_future, which this version .* does not know"):
        migrate.downgrade(engine, "base")
    assert tables(engine) == set(metadata.tables) | {"alembic_version"}


def test_an_unknown_target_revision_is_refused() -> None:
    engine = make_engine("sqlite://")
    try:
        with pytest.raises(StoreError, match=r"Can't locate revision.*'no_such_revision'"):
            migrate.upgrade(engine, "no_such_revision")
        assert migrate.current(engine) == ()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_replicas_starting_at_once_migrate_once(pg_url: str) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        store = AlertStore(pg_url)  # one engine each, as separate replicas have
        try:
            barrier.wait()
            store.create_schema()
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = make_engine(pg_url)
    try:
        assert migrate.current(engine) == (HEAD,)
        assert differences(engine) == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_upgrade_waits_for_the_migration_lock(pg_url: str) -> None:
    engine = make_engine(pg_url)
    holder = engine.connect()
    done = threading.Event()
    try:
        holder.execute(sa.select(sa.func.pg_advisory_lock(migrate.ADVISORY_LOCK_KEY)))
        holder.commit()

        def migrate_then_signal() -> None:
            migrate.upgrade(engine)
            done.set()

        worker = threading.Thread(target=migrate_then_signal)
        worker.start()
        time.sleep(0.5)
        assert not done.is_set()  # another replica is migrating: wait for it
        assert tables(engine) == set()
        holder.execute(sa.select(sa.func.pg_advisory_unlock(migrate.ADVISORY_LOCK_KEY)))
        holder.commit()
        worker.join(timeout=30)
        assert done.is_set()
        assert migrate.current(engine) == (HEAD,)
    finally:
        holder.close()
        engine.dispose()


@pytest.fixture
def db_env(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VIGIL_DATABASE_URL", store_url)
    return store_url


def test_vigil_db_upgrade_current_and_history(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.startswith("none: empty database")
    assert main(["db", "upgrade", "--revision", HEAD]) == 0
    assert capsys.readouterr().out.strip() == f"{HEAD} (head) (was none)"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"{HEAD} (head), up to date"
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"{HEAD} (head)"
    assert main(["db", "history"]) == 0
    assert f"-> {HEAD} (head), " in capsys.readouterr().out
    assert main(["db", "upgrade", "--revision", "no_such_revision"]) == 1
    assert "vigil db upgrade: schema migration to 'no_such_revision'" in capsys.readouterr().err
    engine = make_engine(db_env)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == "9999_future (newer than this version of Vigil knows)"


def test_vigil_db_current_names_a_database_made_before_migrations(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create_old_database(db_env)
    assert main(["db", "current"]) == 0
    assert "`vigil db upgrade` adopts them" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"{HEAD} (head) (was none)"


def test_the_vigil_command_prints_the_head_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    store = AlertStore(url)
    store.create_schema()
    store.close()
    env = {**os.environ, "VIGIL_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "db", "current"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == f"{HEAD} (head)"
