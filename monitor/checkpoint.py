"""Signed checkpoints of a partition's state: what it learned, and the offset it reflects.

A checkpoint is the partition pipeline's snapshot (``PartitionPipeline.snapshot``),
compressed, and sealed with HMAC-SHA256 under ``VIGIL_CHECKPOINT_KEY`` over the
consumer group, topic, partition, offset and body. A checkpoint whose seal does not
verify — tampered, truncated, written under another key, or moved to another
partition or offset — is refused before anything in it is decoded (the models inside
are pickled; pickle must only ever read what Vigil wrote itself).

>>> key = b"k" * 32
>>> where = Where(group="vigil", topic="wallet.events", partition=3)
>>> blob = seal(key, where, offset=42, body=b"state")
>>> unseal(key, where, 42, blob)
b'state'
>>> unseal(key, Where("vigil", "wallet.events", 2), 42, blob)
Traceback (most recent call last):
  ...
monitor.checkpoint.CheckpointRefused: checkpoint of partition 2 refused: signature does not match
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from typing import NamedTuple

MAGIC = b"VGCK1"
_MAC = hashlib.sha256().digest_size


class CheckpointRefused(Exception):
    """The checkpoint cannot be trusted or read; the partition starts from the committed
    offset with empty state instead (and the refusal is logged and counted)."""


class Where(NamedTuple):
    group: str
    topic: str
    partition: int


def _mac(key: bytes, where: Where, offset: int, body: bytes) -> bytes:
    header = f"{where.group}\x00{where.topic}\x00{where.partition}\x00{offset}\x00".encode()
    return hmac.new(key, header + body, hashlib.sha256).digest()


def seal(key: bytes, where: Where, offset: int, body: bytes, *, level: int = 1) -> bytes:
    """``body`` compressed (zlib ``level``; 1 is ~6x smaller at ~1.5 µs per account) and
    signed for this partition and offset."""
    packed = zlib.compress(body, level)
    return MAGIC + _mac(key, where, offset, packed) + packed


def unseal(key: bytes, where: Where, offset: int, blob: bytes) -> bytes:
    """The body of a checkpoint sealed by :func:`seal` for exactly this partition and
    offset, or :class:`CheckpointRefused` saying why not."""
    what = f"checkpoint of partition {where.partition} refused"
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _MAC:
        raise CheckpointRefused(f"{what}: not a Vigil checkpoint (format {MAGIC.decode()})")
    mac, packed = blob[len(MAGIC) : len(MAGIC) + _MAC], blob[len(MAGIC) + _MAC :]
    if not hmac.compare_digest(mac, _mac(key, where, offset, packed)):
        raise CheckpointRefused(f"{what}: signature does not match")
    try:
        return zlib.decompress(packed)
    except zlib.error as exc:  # signed but unreadable: written by a broken writer
        raise CheckpointRefused(f"{what}: body does not decompress: {exc}") from exc
