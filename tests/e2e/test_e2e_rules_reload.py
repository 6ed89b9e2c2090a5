"""Hot reload while events flow through the real broker: a rule file that fails its own tests
is refused (the previous pack stays, /v1/rules says why, file:line); a valid new rule takes
effect for the next events; no event is dropped or decided twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.testing import at, login
from tests.e2e.harness import produce, running

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"
RULES = Path(__file__).resolve().parents[2] / "rules"

THREE_FAILURES = """rules:
  - id: three_failures
    description: three failed logins in ten minutes (a stricter trial rule)
    applies_to: [login]
    when: failed_logins_10m >= 3
    severity: low
    actions: [require_step_up]
    tests:
      - name: third failure
        expect: fire
        events:
          - type: login
            at: -2m
            success: false
            repeat: 3
            every: 30s
      - name: two failures
        expect: no_fire
        events:
          - type: login
            at: -2m
            success: false
            repeat: 2
"""


def failures(account: str, start_min: int, n: int) -> list[tuple[bytes, bytes]]:
    return [
        (
            account.encode(),
            login(
                account,
                at(T0, minutes=start_min + m),
                success=False,
                event_id=f"{account}-{start_min + m}",
            ),
        )
        for m in range(n)
    ]


async def test_rules_reload_live(topics: Settings, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES, rules_dir)
    settings = topics.model_copy(update={"rules_dir": rules_dir, "rules_watch_s": 0.1})
    await produce(settings, failures("acct-a", 0, 3))
    async with running(settings) as svc:
        await svc.wait_for_text("/metrics", lambda t: 'consumed_total{type="login"} 3.0' in t)
        before = (await svc.http.get("/v1/rules")).json()
        assert (await svc.http.get("/v1/alerts?account_id=acct-a")).json()["count"] == 0

        # 1. a change that breaks brute_force's own "no fire" case: refused
        default = rules_dir / "default.yaml"
        text = default.read_text()
        default.write_text(
            text.replace("when: failed_logins_10m >= 6", "when: failed_logins_10m >= 2")
        )
        listed = await svc.wait_for("/v1/rules", lambda b: b["last_reload_problems"])
        assert listed["version"] == before["version"]
        assert any(
            f"{default}:" in p and "brute_force" in p for p in listed["last_reload_problems"]
        )
        default.write_text(text)

        # 2. a valid new rule: in force for the next events
        (rules_dir / "trial.yaml").write_text(THREE_FAILURES)
        listed = await svc.wait_for(
            "/v1/rules", lambda b: any(r["id"] == "three_failures" for r in b["data"])
        )
        assert listed["version"] != before["version"] and listed["last_reload_problems"] == []
        await produce(settings, failures("acct-b", 0, 3))
        body = await svc.wait_for("/v1/alerts?account_id=acct-b", lambda b: b["count"] >= 1)
        assert body["data"][0]["rule_ids"] == ["three_failures"]
        assert body["data"][0]["rule_pack_version"] == listed["version"]
        metrics = await svc.wait_for_text(
            "/metrics", lambda t: 'consumed_total{type="login"} 6.0' in t
        )
    assert 'vigil_rule_reloads_total{outcome="refused"}' in metrics
    assert 'vigil_rule_reloads_total{outcome="loaded"}' in metrics
