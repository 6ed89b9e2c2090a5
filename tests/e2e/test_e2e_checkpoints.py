"""Account state survives a restart through signed checkpoints, through the real broker.

Four failed logins before the stop and three after make seven within ten minutes: only
a monitor that remembers the first four raises ``brute_force`` on the seventh. A
tampered checkpoint is refused (and the account starts empty, so nothing fires), and
the restored partition reads on from the checkpoint's offset: nothing is decided twice
in a way anyone sees (the store dedupes) and nothing is skipped.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from pydantic import SecretStr

from monitor.config import Settings
from monitor.store import AlertStore
from monitor.store.schema import checkpoints
from monitor.testing import login
from tests.e2e.harness import committed_offsets, produce, running

KEY = "ckpt-key-8Jq2Lm5Vx9Rt3Wz7Np4Hs"


def attempts(account: str, first: int, n: int) -> list[tuple[bytes, bytes]]:
    return [
        (
            account.encode(),
            login(account, f"2026-03-01T10:0{i}:00Z", success=False, event_id=f"{account}-f{i}"),
        )
        for i in range(first, first + n)
    ]


def with_key(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"checkpoint_key": SecretStr(KEY), **changes})


async def _decided(svc, account: str, n: int) -> list[dict]:
    """Alerts of ``account`` once the group has committed past all ``n`` events."""
    settings = svc.settings
    await svc.wait_for("/readyz", lambda b: b.get("status") == "ready")
    for _ in range(150):
        offsets = await committed_offsets(settings)
        if sum(offsets.values()) >= n:
            break
        await asyncio.sleep(0.2)
    body = (await svc.http.get(f"/v1/alerts?account_id={account}&limit=100")).json()
    return body["data"]


async def test_state_survives_a_restart(topics: Settings) -> None:
    settings = with_key(topics, checkpoint_interval_s=0.0)  # only at the clean stop
    await produce(settings, attempts("acct-ck", 0, 4))
    async with running(settings) as svc:
        assert await _decided(svc, "acct-ck", 4) == []  # 4 failed logins: below 6
    store = AlertStore(settings.database_url)
    with store.engine.connect() as conn:
        saved = conn.execute(sa.select(checkpoints.c.partition, checkpoints.c.offset)).all()
    store.close()
    # one partition holds the account; the others were checkpointed empty at their start
    assert sorted(offset for _, offset in saved) == [0, 0, 4]

    await produce(settings, attempts("acct-ck", 4, 3))
    async with running(settings) as svc:
        alerts = await _decided(svc, "acct-ck", 7)
        text = (await svc.http.get("/metrics")).text
    fired = {a["event_id"]: a["rule_ids"] for a in alerts}
    # the 6th and 7th failures in ten minutes, counted across the restart
    assert "brute_force" in fired["acct-ck-f5"] and "brute_force" in fired["acct-ck-f6"]
    assert "acct-ck-f3" not in fired
    # every partition restored: the account's, and the two checkpointed empty
    assert 'vigil_checkpoints_total{outcome="restored"} 3.0' in text


async def test_a_tampered_checkpoint_is_refused(topics: Settings) -> None:
    settings = with_key(topics, checkpoint_interval_s=0.0)
    await produce(settings, attempts("acct-tp", 0, 4))
    async with running(settings) as svc:
        await _decided(svc, "acct-tp", 4)
    store = AlertStore(settings.database_url)
    with store.engine.begin() as conn:
        # the checkpoint that holds the account (the others are empty, at offset 0)
        query = sa.select(checkpoints.c.partition, checkpoints.c.data).where(
            checkpoints.c.offset > 0
        )
        partition, data = conn.execute(query).one()
        flipped = bytearray(data)
        flipped[-1] ^= 0x01  # one bit of the compressed state
        conn.execute(
            sa.update(checkpoints)
            .where(checkpoints.c.partition == partition)
            .values(data=bytes(flipped))
        )
    store.close()

    await produce(settings, attempts("acct-tp", 4, 3))
    async with running(settings) as svc:
        alerts = await _decided(svc, "acct-tp", 7)
        text = (await svc.http.get("/metrics")).text
    assert 'vigil_checkpoints_total{outcome="refused"} 1.0' in text
    assert alerts == []  # started empty: 3 failures after the restart are not 6


async def test_a_checkpoint_under_another_key_is_refused(topics: Settings) -> None:
    settings = with_key(topics, checkpoint_interval_s=0.0)
    await produce(settings, attempts("acct-k", 0, 4))
    async with running(settings) as svc:
        await _decided(svc, "acct-k", 4)
    other = settings.model_copy(
        update={"checkpoint_key": SecretStr("another-key-3Hd9Lq2Vm7Xw5Rz8")}
    )
    await produce(settings, attempts("acct-k", 4, 3))
    async with running(other) as svc:
        await _decided(svc, "acct-k", 7)
        text = (await svc.http.get("/metrics")).text
    # all three (the account's and the two empty ones) were sealed under the first key
    assert 'vigil_checkpoints_total{outcome="refused"} 3.0' in text
