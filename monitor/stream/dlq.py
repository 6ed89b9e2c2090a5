"""Dead-letter records: the raw message unchanged, with headers saying why and where from.

>>> from monitor.events import DecodeError
>>> h = dict(dead_letter_headers(DecodeError("schema", "Object missing required field `ts`"),
...                              topic="wallet.events", partition=2, offset=41, timestamp=5))
>>> h["vigil.error.reason"], h["vigil.source.partition"], h["vigil.source.offset"]
(b'schema', b'2', b'41')
"""

from __future__ import annotations

from monitor.events import DecodeError

Headers = list[tuple[str, bytes]]


def dead_letter_headers(
    error: DecodeError, *, topic: str, partition: int, offset: int, timestamp: int | None
) -> Headers:
    return [
        ("vigil.error.reason", error.reason.encode()),
        ("vigil.error.detail", error.detail[:1000].encode("utf-8", "replace")),
        ("vigil.source.topic", topic.encode()),
        ("vigil.source.partition", str(partition).encode()),
        ("vigil.source.offset", str(offset).encode()),
        ("vigil.source.timestamp", str(timestamp if timestamp is not None else "").encode()),
    ]
