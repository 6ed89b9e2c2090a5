"""The outbox dispatcher publishes each row to the topic it names: commands to
wallet.account-actions, support verdicts to wallet.verdicts, keyed by account, once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from monitor.config import Settings
from monitor.decision import Reason, decide
from monitor.events import decode_verdict
from monitor.metrics import Metrics
from monitor.responders.dispatcher import Dispatcher
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.store import AlertStore
from monitor.store.casework import Casework

RULES = Path(__file__).resolve().parents[3] / "rules"


class FakeProducer:
    """Records what was sent; every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, *, value: bytes, key: bytes) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_rows_go_to_the_topic_they_name(tmp_path: Path) -> None:
    store = AlertStore(f"sqlite:///{tmp_path / 'vigil.db'}")
    store.create_schema()
    responder = PlaybookResponder(load_playbooks(RULES))
    hit = Reason(code="rule:takeover_drain", text="drain", rule_id="takeover_drain")
    d = decide(
        event_id="e1",
        account_id="acct-1",
        event_type="payment",
        event_ts=1.8e9,
        rule_hits=[("critical", 0.9, hit)],
        anomaly=None,
        actions=["disable_payment_features", "alert_support"],
        queue="account_security",
    )
    store.save_decisions([d], responder=responder)
    (case,) = store.open_cases("acct-1")
    Casework(store).give_verdict(case["case_id"], "fraud", "confirmed", actor="a", role="analyst")
    settings = Settings.model_construct(actions_topic="T.actions", verdicts_topic="T.verdicts")
    dispatcher = Dispatcher(settings, store, Metrics())
    producer = FakeProducer()
    try:
        fake: Any = producer
        assert await dispatcher._once(fake) == 3
        assert await dispatcher._once(fake) == 0  # marked published: never twice
    finally:
        store.close()
    topics = [topic for topic, _, _ in producer.sent]
    assert topics == ["T.actions", "T.actions", "T.verdicts"]
    assert {key for _, key, _ in producer.sent} == {b"acct-1"}
    verdict = decode_verdict(producer.sent[-1][2])
    assert verdict.verdict == "fraud" and verdict.account_id == "acct-1"  # type: ignore[union-attr]
