"""End to end on a tiny simulator config: replay, report, plots; the report agrees with the
simulator's own statistics and with itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.evaluate.metrics import Report, build_report
from monitor.evaluate.plots import PLOT_FILES, write_plots
from monitor.evaluate.run import Collected, partition_of, replay
from monitor.evaluate.source import from_simulator
from monitor.ruleset import RulePack, load_rules
from monitor.simulate import SimConfig, write_jsonl

RULES_DIR = Path(__file__).parents[3] / "rules"
CFG = SimConfig(accounts=300, days=1.0, seed=11, attack_share=0.1)


@pytest.fixture(scope="module")
def rules() -> RulePack:
    return load_rules(RULES_DIR)


@pytest.fixture(scope="module")
def evaluated(rules: RulePack) -> tuple[Collected, Report, list[int]]:
    steps: list[int] = []
    collected = replay(from_simulator(CFG), rules, partitions=4, progress=steps.append)
    return collected, build_report(collected), steps


def test_report_agrees_with_the_simulator(
    evaluated: tuple[Collected, Report, list[int]], tmp_path: Path
):
    collected, report, steps = evaluated
    stats = write_jsonl(CFG, tmp_path / "e.jsonl", tmp_path / "l.jsonl")
    assert {s.scenario: s.campaigns for s in report.scenarios} == stats.campaigns
    assert report.run.events == collected.events == stats.events == sum(steps)
    assert report.overall.labelled_events == stats.malicious == report.run.labels
    assert sum(s.labelled_events for s in report.scenarios) == stats.malicious
    assert sum(c.labelled_events for c in report.campaigns) == stats.malicious
    assert len(collected.scores) == len(collected.malicious) == stats.events
    assert report.run.partitions == 4 and report.run.bad_lines == 0


def test_report_is_internally_consistent(evaluated: tuple[Collected, Report, list[int]]):
    _, report, _ = evaluated
    o = report.overall
    for s in report.scenarios:
        assert s.campaigns >= s.detected >= s.detected_before_first_payment
        assert s.detected >= s.restricted
        assert s.money_stopped <= s.money_left + 1e-6
        assert s.detection_rate == s.detected / s.campaigns
    by_scenario = {s.scenario: s for s in report.scenarios}
    for v in report.variants:  # variant rows add up to their scenario's
        assert v.campaigns <= by_scenario[v.scenario].campaigns
    for scenario in {v.scenario for v in report.variants}:
        rows = [v for v in report.variants if v.scenario == scenario]
        assert sum(v.campaigns for v in rows) == by_scenario[scenario].campaigns
        assert sum(v.detected for v in rows) == by_scenario[scenario].detected
    for c in report.campaigns:
        if c.detected:
            assert c.detection_ts is not None and c.start_ts <= c.detection_ts <= c.end_ts
            assert c.events_to_detection is not None
            assert 1 <= c.events_to_detection <= c.labelled_events
        else:
            assert not c.before_first_payment and not c.restricted
    counts = [p.alerts for p in o.precision]
    assert counts == sorted(counts, reverse=True) and counts[0] == o.alerts > 0
    assert o.honest.honest_accounts + o.honest.attacked_accounts == report.run.accounts
    assert o.money.stopped <= o.money.would_have_left
    assert sum(s.money_left for s in report.scenarios) == pytest.approx(o.money.would_have_left)
    assert o.pr.average_precision is not None and 0 < o.pr.average_precision <= 1
    assert len(report.targets) == 3


def test_replay_is_deterministic_and_routes_by_account(rules: RulePack, evaluated):
    _, report, _ = evaluated
    again = build_report(replay(from_simulator(CFG), rules, partitions=4))
    assert again.campaigns == report.campaigns and again.overall == report.overall
    assert {partition_of(f"acct-{i}", 4) for i in range(50)} == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="partitions"):
        replay(from_simulator(CFG), rules, partitions=0)


def test_no_attacks_means_every_account_is_honest(rules: RulePack, tmp_path: Path):
    cfg = SimConfig(accounts=40, days=0.5, seed=2, attack_share=0.0)
    collected = replay(from_simulator(cfg), rules, partitions=2)
    report = build_report(collected)
    assert report.scenarios == [] and report.campaigns == []
    assert report.overall.honest.honest_accounts == report.run.accounts > 0
    assert [t.met for t in report.targets][:2] == [None, None]
    assert report.overall.pr.average_precision is None
    paths = write_plots(collected, report, tmp_path)  # nothing to detect still draws
    assert all(p.stat().st_size > 0 for p in paths)


def test_plots_are_png_files(evaluated: tuple[Collected, Report, list[int]], tmp_path: Path):
    collected, report, _ = evaluated
    paths = write_plots(collected, report, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
