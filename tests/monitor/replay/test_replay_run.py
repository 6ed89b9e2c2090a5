"""``monitor.replay.run.replay`` directly: bounded samples, argument checks, no events."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.evaluate.source import LabelledSource, SourceStats
from monitor.events import DecodeError, Event, decode
from monitor.replay.report import build_report
from monitor.replay.run import SAMPLE, replay
from monitor.ruleset import RulePack, load_rules
from monitor.testing import login, payment


def _pack(tmp_path: Path, name: str, big: int) -> RulePack:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "r.yaml").write_text(
        f"rules:\n  - id: big\n    applies_to: [payment]\n    when: amount >= {big}\n"
        "    severity: critical\n    tests:\n"
        f"      - {{name: a, expect: fire, events: [{{type: payment, at: 0m, amount: {big}}}]}}\n"
        "      - {name: b, expect: no_fire, events: [{type: payment, at: 0m, amount: 0.5}]}\n"
    )
    return load_rules(directory)


def _source(events: list[Event]) -> LabelledSource:
    return LabelledSource("test", iter([(e, None) for e in events]), SourceStats())


def _payment(account: str, minute: int, amount: float) -> Event:
    event = decode(payment(account, f"2026-01-01T00:{minute:02d}:00Z", amount))
    assert not isinstance(event, DecodeError)
    return event


def test_samples_stay_bounded_and_sorted(tmp_path: Path):
    events = [_payment(f"acct-{i:02d}", i, 450) for i in range(25)]
    a, b = _pack(tmp_path, "a", 1000), _pack(tmp_path, "b", 400)
    report = build_report(replay(_source(events), [a, b], labelled=False, partitions=3))
    c = report.compare
    assert c is not None
    assert c.newly_alerted_accounts.count == 25
    assert c.newly_alerted_accounts.sample == [f"acct-{i:02d}" for i in range(SAMPLE)]
    assert c.severity_transitions == {"none→critical": 25}
    assert len(c.transition_samples["none→critical"]) == SAMPLE
    assert [r.hits for r in report.packs[1].rules] == [25]
    assert report.run.partitions == 3 and report.run.accounts == 25


def test_a_copy_of_an_event_is_counted_once_and_not_alerted_again(tmp_path: Path):
    first = _payment("acct-1", 1, 450)
    events = [first, _payment("acct-1", 2, 10), first]  # the first one delivered again
    report = build_report(replay(_source(events), [_pack(tmp_path, "a", 400)]))
    pack = report.packs[0]
    assert pack.duplicate_events == 1 and pack.late_events == 0
    assert [r.hits for r in pack.rules] == [1]  # not 2: the copy is not decided again


def test_empty_stream(tmp_path: Path):
    report = build_report(replay(_source([]), [_pack(tmp_path, "a", 1)]))
    assert report.run.events == 0 and report.run.first_event is None
    [rule] = report.packs[0].rules
    assert (rule.hits, rule.accounts, rule.first_hit, rule.precision) == (0, 0, None, None)


@pytest.mark.parametrize(("packs", "partitions"), [(0, 4), (3, 4), (1, 0)])
def test_bad_arguments(tmp_path: Path, packs: int, partitions: int):
    pack = _pack(tmp_path, "a", 1)
    with pytest.raises(ValueError):
        replay(_source([]), [pack] * packs, partitions=partitions)


NET_RULE = """\
rules:
  - id: net
    applies_to: [login]
    when: ip_in(ip, 'blocked')
    severity: high
    tests:
      - {name: CASE, expect: fire, events: [{type: login, at: 0m, ip: 192.0.2.7}]}
      - {name: clean, expect: no_fire, events: [{type: login, at: 0m, ip: 10.0.0.1}]}
"""


def _net_pack(tmp_path: Path, name: str, blocked: str, case: str, blank_lines: int) -> RulePack:
    directory = tmp_path / name
    (directory / "lists").mkdir(parents=True)
    (directory / "lists" / "blocked.txt").write_text(blocked + "\n")
    (directory / "r.yaml").write_text("\n" * blank_lines + NET_RULE.replace("CASE", case))
    return load_rules(directory)


def test_definition_change_counts_named_lists_not_test_cases(tmp_path: Path):
    event = decode(login("a1", "2026-01-01T00:00:00Z", ip="192.0.2.7"))
    assert not isinstance(event, DecodeError)
    events = [event]
    a = _net_pack(tmp_path, "a", "192.0.2.0/24", "blocked", 0)
    same = _net_pack(tmp_path, "same", "192.0.2.0/24", "renamed case", 3)  # lines move too
    other = _net_pack(tmp_path, "other", "198.51.100.0/24", "blocked", 0)
    for b, changed, hits_b in ((same, False, 1), (other, True, 0)):
        c = build_report(replay(_source(events), [a, b], labelled=False)).compare
        assert c is not None
        [d] = c.rules
        assert (d.changed, d.hits_a, d.hits_b) == (changed, 1, hits_b)
