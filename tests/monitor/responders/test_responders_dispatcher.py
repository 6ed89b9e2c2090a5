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
from monitor.store import AlertStore, StoreUnavailable
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


def _store_with_commands(tmp_path: Path) -> AlertStore:
    """A store holding one alert's two commands and a support verdict in its outbox."""
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
    return store


SETTINGS = Settings.model_construct(actions_topic="T.actions", verdicts_topic="T.verdicts")


async def test_rows_go_to_the_topic_they_name(tmp_path: Path) -> None:
    store = _store_with_commands(tmp_path)
    dispatcher = Dispatcher(SETTINGS, store, Metrics())
    producer = FakeProducer()
    try:
        fake: Any = producer
        assert await dispatcher._once(fake) == (3, True)  # all of them: the end was read
        assert await dispatcher._once(fake) == (0, True)  # never twice, marked or not
        await dispatcher._marked()
        assert store.outbox_depth() == 0  # marked in the store: a restart sends nothing
        assert await Dispatcher(SETTINGS, store, Metrics())._once(fake) == (0, True)
    finally:
        store.close()
    topics = [topic for topic, _, _ in producer.sent]
    assert topics == ["T.actions", "T.actions", "T.verdicts"]
    assert {key for _, key, _ in producer.sent} == {b"acct-1"}
    verdict = decode_verdict(producer.sent[-1][2])
    assert verdict.verdict == "fraud" and verdict.account_id == "acct-1"  # type: ignore[union-attr]


async def test_a_failed_marking_is_retried_and_nothing_is_sent_twice(tmp_path: Path) -> None:
    store = _store_with_commands(tmp_path)
    real = store.mark_published
    calls: list[list[int]] = []

    def flaky(seqs: Any) -> None:
        calls.append(list(seqs))
        if len(calls) == 1:
            raise StoreUnavailable("database is locked")
        real(seqs)

    store.mark_published = flaky  # type: ignore[method-assign]
    dispatcher = Dispatcher(SETTINGS, store, Metrics())
    producer = FakeProducer()
    try:
        fake: Any = producer
        assert await dispatcher._once(fake) == (3, True)
        assert await dispatcher._once(fake) == (0, True)  # not marked yet, still not re-sent
        await dispatcher._marked()
        assert len(calls) == 2 and calls[0] == calls[1]  # the same rows, retried
        assert store.outbox_depth() == 0
    finally:
        store.close()
    assert len(producer.sent) == 3


async def test_a_round_says_whether_it_read_to_the_end_of_the_outbox(tmp_path: Path) -> None:
    store = _store_with_commands(tmp_path)
    dispatcher = Dispatcher(SETTINGS, store, Metrics())
    producer = FakeProducer()
    try:
        fake: Any = producer
        assert await dispatcher._once(fake, limit=2) == (2, False)  # more are waiting
        assert await dispatcher._once(fake, limit=2) == (1, True)
        await dispatcher._marked()
    finally:
        store.close()
    assert len(producer.sent) == 3
