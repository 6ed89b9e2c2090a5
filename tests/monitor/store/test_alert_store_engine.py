"""Connections, schema creation, URLs and errors of the alert store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.config import Settings
from monitor.decision import Decision
from monitor.store import AlertStore, StoreError, StoreUnavailable

MakeDecision = Callable[..., Decision]


def test_ping_succeeds(store: AlertStore) -> None:
    store.ping()


def test_create_schema_is_idempotent(store: AlertStore, make_decision: MakeDecision) -> None:
    store.save_decisions([make_decision("e1")])
    store.create_schema()
    assert store.count_alerts() == 1


def test_missing_schema_is_a_store_error_not_unavailable(store_url: str) -> None:
    store = AlertStore(store_url)
    try:
        with pytest.raises(StoreError) as info:
            store.count_alerts()
        assert not isinstance(info.value, StoreUnavailable)
    finally:
        store.close()


@pytest.fixture
def bad_sqlite_url(tmp_path: Path) -> str:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return f"sqlite:///{blocker / 'sub' / 'vigil.db'}"  # its parent cannot be created


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/test",  # nothing listens on port 1
        "postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_vigil",
        "bad_sqlite",
    ],
)
def test_ping_on_a_bad_url_raises_store_unavailable(url: str, bad_sqlite_url: str) -> None:
    store = AlertStore(bad_sqlite_url if url == "bad_sqlite" else url)
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.list_alerts()
    store.close()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "postgresql+nosuchdriver://u@h/db"])
def test_unsupported_or_malformed_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError):
        AlertStore(url)


def test_sqlite_file_parent_is_created_on_first_use_with_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "vigil.db"
    store = AlertStore(f"sqlite:///{path}")
    assert not path.parent.exists()  # constructing does no I/O
    store.create_schema()
    assert path.exists()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_default_settings_url_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = AlertStore(Settings().sqlalchemy_url)
    store.create_schema()
    store.ping()
    store.close()
    assert (tmp_path / "data" / "vigil.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_store_keeps_data_across_threads(url: str, make_decision: MakeDecision) -> None:
    store = AlertStore(url)
    store.create_schema()
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(store.save_decisions([make_decision("e1")]))
    )
    worker.start()
    worker.join()
    assert result == [1]
    assert store.count_alerts() == 1
    store.close()


def test_concurrent_writers_on_one_sqlite_file(tmp_path: Path, make_decision: MakeDecision) -> None:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    AlertStore(url).create_schema()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        store = AlertStore(url)  # separate engines, as separate processes would have
        try:
            for batch in range(20):
                store.save_decisions([make_decision(f"w{worker}-b{batch}-{i}") for i in range(25)])
                store.list_alerts(limit=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AlertStore(url).count_alerts() == 4 * 20 * 25


def test_tables_and_indexes(store: AlertStore) -> None:
    inspector = sa.inspect(store.engine)
    assert {"alerts", "alert_rules"} <= set(inspector.get_table_names())
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("alerts")}
    assert {("account_id", "event_time"), ("event_time",)} <= indexed
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("alerts")}
    assert ("event_id",) in uniques
    assert inspector.get_pk_constraint("alert_rules")["constrained_columns"] == [
        "alert_id",
        "rule_id",
    ]
    rule_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("alert_rules")}
    assert ("rule_id", "event_time", "alert_id") in rule_indexes


def test_ping_fails_when_the_schema_is_missing(store_url: str) -> None:
    store = AlertStore(store_url)  # create_schema() not called
    try:
        with pytest.raises(StoreUnavailable):
            store.ping()
        store.create_schema()
        store.ping()
    finally:
        store.close()
