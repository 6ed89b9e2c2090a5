"""Where partition checkpoints live: one row per (consumer group, topic, partition), the
latest sealed checkpoint and the offset it reflects (``monitor/checkpoint.py`` seals and
checks them; this module only keeps bytes).

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> store.save_checkpoint("vigil", "wallet.events", 0, 120, b"sealed")
>>> store.save_checkpoint("vigil", "wallet.events", 0, 180, b"newer")
>>> store.load_checkpoint("vigil", "wallet.events", 0)
(180, b'newer')
>>> store.load_checkpoint("vigil", "wallet.events", 1) is None
True
>>> store.checkpoint_offsets("vigil", "wallet.events")
{0: 180}
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from monitor.store.errors import translate
from monitor.store.schema import checkpoints


class CheckpointQueries:
    """Needs ``_engine`` and ``_insert`` (the dialect's insert). A mixin of AlertStore."""

    _engine: sa.Engine
    _insert: Callable[..., Any]

    def save_checkpoint(
        self, group: str, topic: str, partition: int, offset: int, data: bytes
    ) -> None:
        """Replace the partition's checkpoint (one statement: the old one stays until the
        new one is committed)."""
        row = {
            "group_id": group,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "size": len(data),
            "created_at": datetime.now(UTC),
            "data": data,
        }
        stmt = self._insert(checkpoints).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["group_id", "topic", "partition"],
            set_={k: stmt.excluded[k] for k in ("offset", "size", "created_at", "data")},
        )
        with translate("save checkpoint"), self._engine.begin() as conn:
            conn.execute(stmt)

    def checkpoint_offsets(self, group: str, topic: str) -> dict[int, int]:
        """Offset of every partition's checkpoint (without the data)."""
        c = checkpoints.c
        query = sa.select(c.partition, c.offset).where(c.group_id == group, c.topic == topic)
        with translate("list checkpoints"), self._engine.connect() as conn:
            return {int(p): int(o) for p, o in conn.execute(query)}

    def load_checkpoint(self, group: str, topic: str, partition: int) -> tuple[int, bytes] | None:
        """(offset, sealed bytes) of the partition's checkpoint, or None."""
        c = checkpoints.c
        query = sa.select(c.offset, c.data).where(
            c.group_id == group, c.topic == topic, c.partition == partition
        )
        with translate("load checkpoint"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (int(row.offset), bytes(row.data))
