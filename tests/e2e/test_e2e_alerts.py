"""Events produced to the real broker come out as alerts through the real API, offsets are
committed only after the alerts are stored, and a replay makes no duplicate alerts."""

from __future__ import annotations

import pytest

from monitor.config import Settings
from monitor.testing import LAGOS, at, login, payment, security
from tests.e2e.harness import committed_offsets, end_positions, produce, running

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"


def takeover(account: str) -> list[tuple[bytes, bytes]]:
    """Honest history, then brute force, a far-away login, a password change and a drain."""
    key = account.encode()
    events = [login(account, at(T0, hours=h), event_id=f"{account}-h{h}") for h in range(3)]
    events += [
        payment(account, at(T0, hours=h, minutes=5), 80.0 + h, event_id=f"{account}-p{h}")
        for h in range(3)
    ]
    events += [
        login(
            account,
            at(T0, hours=4, minutes=m),
            success=False,
            device_id="evil",
            geo=LAGOS,
            event_id=f"{account}-f{m}",
        )
        for m in range(7)
    ]
    events += [
        login(
            account,
            at(T0, hours=4, minutes=8),
            device_id="evil",
            geo=LAGOS,
            event_id=f"{account}-ok",
        ),
        security(
            account,
            at(T0, hours=4, minutes=10),
            "password_changed",
            device_id="evil",
            event_id=f"{account}-pw",
        ),
        payment(
            account,
            at(T0, hours=4, minutes=12),
            9000.0,
            kind="transfer",
            payee_id="mule-1",
            device_id="evil",
            geo=LAGOS,
            event_id=f"{account}-drain",
        ),
    ]
    return [(key, e) for e in events]


async def test_events_become_alerts_in_the_api(topics: Settings) -> None:
    settings = topics
    await produce(settings, takeover("acct-victim") + takeover("acct-other"), compression="gzip")
    async with running(settings) as svc:
        body = await svc.wait_for(
            "/v1/alerts?account_id=acct-victim&limit=100",
            lambda b: "acct-victim-drain" in {a["event_id"] for a in b["data"]},
        )
        by_event = {a["event_id"]: a for a in body["data"]}
        drain = by_event["acct-victim-drain"]
        assert drain["severity"] == "critical"
        assert "security_change_then_transfer" in drain["rule_ids"]
        assert drain["actions"][:2] == ["disable_payment_features", "force_password_reset"]
        assert drain["queue"] == "account_security"
        assert any("after a security change" in r["text"] for r in drain["reasons"])
        assert "brute_force" in by_event["acct-victim-f6"]["rule_ids"]
        # the attacker's first attempt: a new device 12,000 km from the last login 1 h ago
        assert "impossible_travel" in by_event["acct-victim-f0"]["rule_ids"]
        assert all(a["account_id"] == "acct-victim" for a in body["data"])
        one = (await svc.http.get(f"/v1/alerts/{drain['alert_id']}")).json()
        assert one["event_id"] == "acct-victim-drain"

        # every offset committed, and only now that the alerts are stored
        ends = await end_positions(settings, settings.events_topic)
        await svc.wait_for("/readyz", lambda b: b["status"] == "ready")
        metrics = (await svc.http.get("/metrics")).text
        assert 'vigil_events_consumed_total{type="login"} 22.0' in metrics
        assert 'rule="security_change_then_transfer"' in metrics
    assert await committed_offsets(settings) == {
        p: ends.get(p, 0) for p in range(settings.topic_partitions)
    }


async def test_replay_from_scratch_makes_no_duplicate_alerts(topics: Settings) -> None:
    settings = topics
    await produce(settings, takeover("acct-r"))
    async with running(settings) as svc:
        first = await svc.wait_for(
            "/v1/alerts?account_id=acct-r&limit=100",
            lambda b: any(a["event_id"] == "acct-r-drain" for a in b["data"]),
        )
    # A new consumer group reads the whole topic again into the same database.
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    async with running(replay) as svc:
        await svc.wait_for("/readyz", lambda b: b["status"] == "ready")
        ends = await end_positions(settings, settings.events_topic)
        while await committed_offsets(replay) != {
            p: ends.get(p, 0) for p in range(settings.topic_partitions)
        }:
            await svc.wait_for("/healthz", lambda b: True)
        second = (await svc.http.get("/v1/alerts?account_id=acct-r&limit=100")).json()
    assert second["count"] == first["count"] > 0
    assert sorted(a["alert_id"] for a in second["data"]) == sorted(
        a["alert_id"] for a in first["data"]
    )
