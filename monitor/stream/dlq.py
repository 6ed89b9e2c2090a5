"""Side outputs: the raw message unchanged, with headers saying why and where from.

Dead letters (undecodable) go to ``wallet.events.dlq``; events too late to fold into
their account's state go to ``wallet.events.late``. Neither is ever dropped.

>>> from monitor.events import DecodeError
>>> h = dict(dead_letter_headers(DecodeError("schema", "Object missing required field `ts`"),
...                              topic="wallet.events", partition=2, offset=41, timestamp=5))
>>> h["vigil.error.reason"], h["vigil.source.partition"], h["vigil.source.offset"]
(b'schema', b'2', b'41')
>>> dict(late_headers(1800.0, topic="wallet.events", partition=0, offset=7, timestamp=None)
...      )["vigil.late.behind_s"]
b'1800.0'
"""

from __future__ import annotations

from monitor.events import DecodeError

Headers = list[tuple[str, bytes]]


def _source(topic: str, partition: int, offset: int, timestamp: int | None) -> Headers:
    return [
        ("vigil.source.topic", topic.encode()),
        ("vigil.source.partition", str(partition).encode()),
        ("vigil.source.offset", str(offset).encode()),
        ("vigil.source.timestamp", str(timestamp if timestamp is not None else "").encode()),
    ]


def dead_letter_headers(
    error: DecodeError, *, topic: str, partition: int, offset: int, timestamp: int | None
) -> Headers:
    return [
        ("vigil.error.reason", error.reason.encode()),
        ("vigil.error.detail", error.detail[:1000].encode("utf-8", "replace")),
        *_source(topic, partition, offset, timestamp),
    ]


def late_headers(
    behind_s: float, *, topic: str, partition: int, offset: int, timestamp: int | None
) -> Headers:
    return [
        ("vigil.late.behind_s", str(round(behind_s, 1)).encode()),
        *_source(topic, partition, offset, timestamp),
    ]
