"""``vigil run`` as an operator starts it: a subprocess configured only by VIGIL_*
variables, read with a token from ``vigil users create``, stopped by SIGTERM within
seconds with exit code 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import pytest

from monitor.config import Settings
from monitor.testing import at, login
from tests.e2e.harness import produce

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"


async def test_vigil_run_serves_alerts_and_stops_on_sigterm(topics: Settings) -> None:
    s = topics
    env = {
        **os.environ,
        "VIGIL_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "VIGIL_EVENTS_TOPIC": s.events_topic,
        "VIGIL_DLQ_TOPIC": s.dlq_topic,
        "VIGIL_CONSUMER_GROUP": s.consumer_group,
        "VIGIL_DATABASE_URL": s.database_url,
        "VIGIL_RULES_DIR": str(s.rules_dir),
        "VIGIL_API_PORT": str(s.api_port),
    }
    await produce(
        s,
        [
            (b"acct-cli", login("acct-cli", at(T0, minutes=m), success=False, event_id=f"cli-{m}"))
            for m in range(6)
        ],
    )
    created = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "users", "create", "ops-bot", "--role", "viewer"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip()  # the token alone on stdout, shown once
    assert token.startswith("vgl_") and "viewer 'ops-bot'" in created.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{s.api_port}/v1/alerts?account_id=acct-cli"
        body: dict = {}
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=2, headers=headers) as http:
            for _ in range(150):
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                try:
                    body = (await http.get(url)).json()
                except httpx.TransportError:
                    body = {}
                if body.get("count"):
                    break
                await asyncio.sleep(0.2)
        assert body["data"][0]["event_id"] == "cli-5"
        assert body["data"][0]["rule_ids"] == ["brute_force"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 10)
    assert code == 0
