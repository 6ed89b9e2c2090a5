"""An account takeover produces, in order, the commands of its playbook on
wallet.account-actions, exactly once each — also when the monitor stops between the
database commit and the publish (commands wait in the outbox and go out after restart)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from monitor.config import Settings
from monitor.responders.actions import Action, decode_action
from monitor.store import AlertStore
from tests.e2e.harness import produce, running
from tests.e2e.test_e2e_alerts import takeover

pytestmark = pytest.mark.e2e


async def read_actions(
    settings: Settings, expect_at_least: int, timeout: float = 20.0
) -> list[Action]:
    consumer = AIOKafkaConsumer(
        settings.actions_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[Action] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        idle = 0
        while asyncio.get_running_loop().time() < deadline and (
            len(out) < expect_at_least or idle < 3
        ):
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for msgs in batch.values():
                for m in msgs:
                    action = decode_action(m.value)
                    assert isinstance(action, Action), action
                    assert m.key == action.account_id.encode()
                    out.append(action)
    finally:
        await consumer.stop()
    return out


def check_playbook(actions: list[Action]) -> None:
    victim = [a for a in actions if a.account_id == "acct-ato"]
    types = [a.type for a in victim]
    # step-up for the brute force / travel, then on the drain: password reset, freeze, support
    assert types.count("force_password_reset") == 1
    assert types.count("disable_payment_features") == 1
    freeze = types.index("disable_payment_features")
    assert types.index("force_password_reset") < freeze
    assert "alert_support" in types[freeze:]
    (disable,) = [a for a in victim if a.type == "disable_payment_features"]
    assert {"withdrawal", "transfer_to_new_payee"} <= set(disable.feature_names)
    assert disable.expires_at is not None and disable.triggering_event_id == "acct-ato-drain"
    assert "security change" in disable.reason
    assert len({a.action_id for a in actions}) == len(actions)  # exactly once each


async def test_takeover_commands_exactly_once(topics: Settings) -> None:
    settings = topics
    await produce(settings, takeover("acct-ato"))
    async with running(settings) as svc:
        await svc.wait_for(
            "/v1/alerts?account_id=acct-ato",
            lambda b: any(a["event_id"] == "acct-ato-drain" for a in b["data"]),
        )
        await svc.wait_for_text("/metrics", lambda t: "vigil_outbox_depth 0.0" in t)
    check_playbook(await read_actions(settings, expect_at_least=4))


async def test_commands_survive_a_stop_between_commit_and_publish(topics: Settings) -> None:
    settings = topics.model_copy(update={"dispatch_actions": False})  # "killed" before publish
    await produce(settings, takeover("acct-ato"))
    async with running(settings) as svc:
        await svc.wait_for(
            "/v1/alerts?account_id=acct-ato",
            lambda b: any(a["event_id"] == "acct-ato-drain" for a in b["data"]),
        )
    store = AlertStore(settings.sqlalchemy_url)
    try:
        pending = store.outbox_depth()
    finally:
        store.close()
    assert pending >= 4
    assert await read_actions(settings, expect_at_least=0, timeout=2) == []

    restarted = settings.model_copy(update={"dispatch_actions": True})
    for _ in range(2):  # restart twice: the second start must publish nothing again
        async with running(restarted) as svc:
            await svc.wait_for_text("/metrics", lambda t: "vigil_outbox_depth 0.0" in t)
    actions = await read_actions(settings, expect_at_least=pending)
    assert len(actions) == pending
    check_playbook(actions)
