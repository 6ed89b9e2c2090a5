"""End-to-end fixtures: one real embedded broker (Tansu) for the session; each test gets
its own topics, consumer group, database and API port, and runs the real service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.stream.embedded import EmbeddedBroker, free_port
from monitor.stream.topics import ensure_topics

pytestmark = pytest.mark.e2e

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
# VIGIL_ADMIN_TOKEN of every e2e service: the harness's HTTP client calls with it.
E2E_ADMIN_TOKEN = "e2e-break-glass-Vn4Qx8Lp2Wz6Rt9Ks3Hd"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as b:
        yield b


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        kafka_bootstrap=broker.bootstrap,
        events_topic=f"wallet.events.{tag}",
        dlq_topic=f"wallet.events.dlq.{tag}",
        late_topic=f"wallet.events.late.{tag}",
        verdicts_topic=f"wallet.verdicts.{tag}",
        actions_topic=f"wallet.account-actions.{tag}",
        consumer_group=f"vigil-{tag}",
        database_url=f"sqlite:///{tmp_path / 'vigil.db'}",
        rules_dir=RULES_DIR,
        api_port=free_port(),
        admin_token=E2E_ADMIN_TOKEN,
        poll_timeout_ms=100,
        topic_partitions=3,
    )


@pytest.fixture
async def topics(settings: Settings) -> Settings:
    await ensure_topics(
        settings.kafka_bootstrap,
        {settings.events_topic: settings.topic_partitions, settings.dlq_topic: 1},
    )
    return settings
