"""Driver and SQLAlchemy errors turned into the store's own: :class:`StoreError` and
:class:`StoreUnavailable` (errors as data for the callers: retry, or report not ready)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from monitor.store.exceptions import StoreError, StoreUnavailable

# SQLite reports these as OperationalError too, but they mean "wrong schema", not "down".
_SQLITE_SCHEMA_ERRORS = ("no such table", "no such column")


@contextmanager
def translate(action: str) -> Iterator[None]:
    """Turn driver and SQLAlchemy errors into :class:`StoreError` / :class:`StoreUnavailable`."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        detail = str(exc.orig or exc).strip()
        if any(s in detail for s in _SQLITE_SCHEMA_ERRORS):
            raise StoreError(f"{action}: {detail} (was create_schema() run?)") from exc
        if exc.connection_invalidated or isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError
        ):
            raise StoreUnavailable(f"{action}: database unavailable: {detail}") from exc
        raise StoreError(f"{action}: {detail}") from exc
    except sa.exc.DisconnectionError as exc:
        raise StoreUnavailable(f"{action}: database unavailable: {exc}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"{action}: {exc}") from exc
    except OSError as exc:  # e.g. SQLite's directory cannot be created
        raise StoreUnavailable(f"{action}: database unavailable: {exc}") from exc
