"""How the pipeline applies rule specs: cooldown per account, shadow rules recorded and never
acted on, the pack version on every decision, cross-account stuffing features."""

from __future__ import annotations

from pathlib import Path

from monitor.events import decode
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import load_rules
from monitor.testing import ManualClock, at, login, login_rule

T0 = "2026-03-02T08:00:00Z"


def pack(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    (tmp_path / "r.yaml").write_text("rules:\n" + body)
    return load_rules(tmp_path)


def run(pipe: PartitionPipeline, clock: ManualClock, *raws: bytes) -> list:  # type: ignore[type-arg]
    out = []
    for raw in raws:
        ev = decode(raw)
        clock.now = ev.epoch
        out.append(pipe.process(ev))
    return out


RULE = login_rule(
    "fails", "not success", actions="[require_step_up]", cooldown="{cooldown}", mode="{mode}"
)


def make(rules) -> tuple[PartitionPipeline, ManualClock]:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    return PartitionPipeline(0, rules, clock=clock, anomaly_warmup=10**9), clock


def test_cooldown_suppresses_repeats_for_the_same_account_only(tmp_path: Path) -> None:
    pipe, clock = make(pack(tmp_path, RULE.format(cooldown="30m", mode="active")))
    ds = run(
        pipe,
        clock,
        login("a", T0, success=False),
        login("a", at(T0, minutes=10), success=False),
        login("b", at(T0, minutes=11), success=False),
        login("a", at(T0, minutes=31), success=False),
    )
    assert [d.rule_ids for d in ds] == [["fails"], [], ["fails"], ["fails"]]


def test_shadow_rules_are_recorded_and_never_act(tmp_path: Path) -> None:
    rules = pack(tmp_path, RULE.format(cooldown=0, mode="shadow"))
    pipe, clock = make(rules)
    (d,) = run(pipe, clock, login("a", T0, success=False))
    assert d.severity == "none" and d.rule_ids == [] and d.actions == []
    assert [r.rule_id for r in d.shadow_hits] == ["fails"]
    assert d.rule_pack_version == rules.version and not d.restricts


def test_stuffing_features_count_accounts_failing_from_one_ip(tmp_path: Path) -> None:
    rules = pack(
        tmp_path,
        login_rule("stuffing", "ip_failed_accounts_10m >= 4 or subnet_failed_accounts_10m >= 6"),
    )
    pipe, clock = make(rules)
    raws = [
        login(f"acct-{i}", at(T0, seconds=20 * i), success=False, ip="203.0.113.7")
        for i in range(5)
    ]
    raws += [
        login(f"acct-{i}", at(T0, seconds=200 + 20 * i), success=False, ip=f"198.51.100.{i}")
        for i in range(6)
    ]
    ds = run(pipe, clock, *raws)
    assert [bool(d.rule_ids) for d in ds] == [False] * 3 + [True] * 2 + [False] * 5 + [True]


def test_rules_can_read_the_model_score(tmp_path: Path) -> None:
    rules = pack(
        tmp_path,
        login_rule("unusual_login", "anomaly_flagged and anomaly_score > 0.8", severity="low"),
    )
    clock = ManualClock()
    pipe = PartitionPipeline(0, rules, clock=clock, anomaly_warmup=50, anomaly_learn_every=1)
    usual = [login("a", at(T0, minutes=m), ip=f"10.0.0.{m % 3}") for m in range(400)]
    odd = login(
        "a",
        at(T0, minutes=401),
        device_id="evil",
        ip="6.6.6.6",
        geo={"lat": 6.5, "lon": 3.4, "country": "NG", "city": "Lagos"},
    )
    decisions = run(pipe, clock, *usual, odd)
    assert not any("unusual_login" in d.rule_ids for d in decisions[:-1])
    last = decisions[-1]
    assert last.rule_ids == ["unusual_login"] and last.anomaly_score > 0.8
    assert last.reasons[0].values["anomaly_flagged"] is True
