"""Keyset pagination for the store's lists: page sizes clamped to ``[1, MAX_PAGE]``,
opaque cursors that carry the sort key of the last row handed out, and the bound row
value a page's query compares its sort key with.

A cursor is URL-safe base64 of a small JSON array: a tag naming the list, then the sort
key. The next page starts strictly after that key, so rows inserted meanwhile never shift
a page (no duplicates, no misses); only a row whose own sort key changes while a client
pages (e.g. an escalated case) can be seen twice or not at all.

>>> from datetime import UTC, datetime
>>> key = ("P1", datetime(2026, 3, 2, 8, 0, tzinfo=UTC), "case_1")
>>> cursor = encode_cursor("cases", key)
>>> decode_cursor(cursor, "cases", (str, datetime, str)) == key
True
>>> clamp_limit(0), clamp_limit(50), clamp_limit(10_000)
(1, 50, 200)
>>> decode_cursor("bm9wZQ", "cases", (str, datetime, str))
Traceback (most recent call last):
...
monitor.store.exceptions.InvalidCursor: not a cursor of this list: 'bm9wZQ'
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.store.exceptions import InvalidCursor
from monitor.store.schema import as_utc

DEFAULT_PAGE = 50
MAX_PAGE = 200


def clamp_limit(limit: int) -> int:
    """``limit`` forced into ``[1, MAX_PAGE]``."""
    return max(1, min(MAX_PAGE, int(limit)))


def encode_cursor(tag: str, key: Sequence[Any]) -> str:
    """The opaque cursor for the row whose sort key is ``key`` (str, int, datetime)."""
    values = [tag, *(v.isoformat() if isinstance(v, datetime) else v for v in key)]
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The sort key in ``cursor`` (values converted to ``types``); raises
    :class:`InvalidCursor` for anything :func:`encode_cursor` did not make for ``tag``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw)
        if not isinstance(values, list) or len(values) != len(types) + 1 or values[0] != tag:
            raise ValueError(cursor)
        return tuple(_convert(v, t) for v, t in zip(values[1:], types, strict=True))
    except (ValueError, TypeError, binascii.Error, msgspec.DecodeError):
        raise InvalidCursor(f"not a cursor of this list: {cursor!r}") from None


def bound_key(columns: Sequence[sa.ColumnElement[Any]], values: Sequence[Any]) -> Any:
    """A row value of ``values`` (a decoded cursor's key), each bound with its column's
    type (UTC handling), to compare the sort key with: ``tuple_(*columns) > bound_key(...)``."""
    pairs = zip(columns, values, strict=True)
    return sa.tuple_(*(sa.bindparam(None, v, type_=c.type) for c, v in pairs))


def _convert(value: Any, kind: type) -> Any:
    if kind is datetime:
        return as_utc(datetime.fromisoformat(value))
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not {kind.__name__}")
    return value
