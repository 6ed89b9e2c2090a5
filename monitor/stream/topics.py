"""Create Vigil's topics if they do not exist."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


async def ensure_topics(bootstrap: str, partitions: Mapping[str, int]) -> list[str]:
    """Create the topics in ``partitions`` (name -> partition count) that are missing;
    return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="vigil-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(n, num_partitions=p, replication_factor=1)
            for n, p in partitions.items()
            if n not in existing
        ]
        if missing:
            # another process may create one between list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def partition_count(bootstrap: str, topic: str) -> int | None:
    """Partitions of ``topic``, or None if it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="vigil-admin")
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            return None
        (described,) = await admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        await admin.close()
