"""Alembic's environment for the alert store: runs the revisions on a connection.

Vigil runs migrations through :mod:`monitor.store.migrate`, which passes its connection
(already locked, inside its transaction) as ``config.attributes["connection"]``.
Developers running the ``alembic`` command (``alembic revision --autogenerate``, with
the ``alembic.ini`` at the repository root) get a connection to ``sqlalchemy.url`` from
that file or, when it is unset, to ``VIGIL_DATABASE_URL``.

``render_as_batch`` makes autogenerate write ``op.batch_alter_table`` blocks, which
SQLite needs to alter a table and PostgreSQL runs as plain ``ALTER TABLE``.
Offline (``--sql``) mode is not supported: revision 0001 creates its tables from
SQLAlchemy metadata, which needs a connection.
"""

from __future__ import annotations

import logging.config

import sqlalchemy as sa
from alembic import context

from monitor.store.schema import metadata


def _configure_and_run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _developer_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from monitor.config import Settings

    return Settings().sqlalchemy_url


def run_migrations() -> None:
    """Run the revisions Alembic asked for, on the caller's connection or a new one."""
    config = context.config
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported; run them on a database")
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    if config.config_file_name is not None:
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
    from monitor.store.engine import make_engine

    engine = make_engine(_developer_url())
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


# Alembic sets ``context.config`` only while it runs this file: importing it anywhere
# else (pytest's doctest collection, mypy) must do nothing.
if hasattr(context, "config"):
    run_migrations()
