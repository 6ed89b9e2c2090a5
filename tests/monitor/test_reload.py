"""Hot reload of the rule pack: changed files are picked up, a bad pack is refused and the
previous one stays in force with its problems reported as file:line."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from monitor.metrics import Metrics
from monitor.reload import RuleSource
from monitor.ruleset import RulePack, load_rules
from monitor.testing import login_rule

RULE = "rules:\n" + login_rule(
    "brute_force", "failed_logins_10m >= {n}", description="many failed logins"
)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "a.yaml").write_text(RULE.format(n=6))
    return d


def source(rules_dir: Path) -> RuleSource:
    return RuleSource(rules_dir, loader=load_rules, metrics=Metrics())


def test_reload_swaps_the_pack_and_tells_subscribers(rules_dir: Path) -> None:
    src = source(rules_dir)
    seen: list[RulePack] = []
    src.subscribe(seen.append)
    first = src.pack.version
    (rules_dir / "a.yaml").write_text(RULE.format(n=4))
    outcome = src.reload()
    assert outcome.ok and outcome.version == src.pack.version != first
    assert [p.version for p in seen] == [src.pack.version]
    assert "failed_logins_10m >= 4" in src.pack.rules[0].spec.when
    assert src.reload().ok and len(seen) == 1  # unchanged files: no new swap
    exposition = src.metrics.exposition().decode()  # type: ignore[union-attr]
    assert f'vigil_rule_pack{{version="{src.pack.version}"}} 1.0' in exposition
    assert f'vigil_rule_pack{{version="{first}"}} 0.0' in exposition


def test_a_bad_pack_is_refused_and_the_old_one_stays(rules_dir: Path) -> None:
    src = source(rules_dir)
    before = src.pack
    (rules_dir / "a.yaml").write_text(RULE.format(n="failed_login_1h"))
    outcome = src.reload()
    assert not outcome.ok
    assert src.pack is before and outcome.version == before.version
    (problem,) = outcome.problems
    assert problem.startswith(f"{rules_dir / 'a.yaml'}:5: rule 'brute_force': when: ")
    assert src.last_problems == outcome.problems
    exposition = src.metrics.exposition().decode()  # type: ignore[union-attr]
    assert 'vigil_rule_reloads_total{outcome="refused"} 1.0' in exposition
    (rules_dir / "a.yaml").write_text(RULE.format(n=5))
    assert src.reload().ok and src.last_problems == []


async def test_the_watcher_reloads_changed_files(rules_dir: Path) -> None:
    src = source(rules_dir)
    first = src.pack.version
    stop = asyncio.Event()
    task = asyncio.create_task(src.watch(stop, interval_s=0.05))
    try:
        await asyncio.sleep(0.1)
        assert src.pack.version == first
        shutil.copy(rules_dir / "a.yaml", rules_dir / "b.yaml")
        (rules_dir / "b.yaml").write_text(RULE.format(n=9).replace("brute_force", "other"))
        for _ in range(100):
            if src.pack.version != first:
                break
            await asyncio.sleep(0.05)
        assert sorted(r.id for r in src.pack.rules) == ["brute_force", "other"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 2)


def test_a_bad_pack_at_start_up_is_fatal(tmp_path: Path) -> None:
    from monitor.ruleset import RuleLoadError

    with pytest.raises(RuleLoadError):
        RuleSource(tmp_path / "missing", loader=load_rules)


def test_a_rule_naming_an_unknown_playbook_is_refused(rules_dir: Path) -> None:
    from monitor.ruleset import RuleLoadError
    from monitor.ruletests import load_and_test

    shipped = Path(__file__).resolve().parents[2] / "rules" / "playbooks.yaml"
    shutil.copy(shipped, rules_dir / "playbooks.yaml")
    text = RULE.format(n=1).replace(
        "    severity: medium\n", "    severity: medium\n    actions: [lock_account]\n"
    )
    (rules_dir / "a.yaml").write_text(text)
    with pytest.raises(RuleLoadError) as caught:
        load_and_test(rules_dir)
    assert any(
        f"{rules_dir / 'a.yaml'}:2" in p and "lock_account" in p for p in caught.value.problems
    )
    (rules_dir / "a.yaml").write_text(RULE.format(n=1))
    assert load_and_test(rules_dir).rules[0].id == "brute_force"
