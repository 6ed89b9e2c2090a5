"""``vigil replay`` through the real entry point, on a hand-made stream whose hits are known.

The stream (times on 2026-01-01, UTC):
  a1  4 failed logins, 00:00-00:03     labelled: campaign c1 (brute_force)
  a2  payment 1500 at 00:10            labelled: campaign c2 (account_takeover)
  a2  payment 600 at 00:11
  a3  payment 450 at 00:12
  a4  payment 100 at 00:13
  a5  2 failed logins at 00:20, 00:21

Pack A: failures (failed_logins_10m >= 3, medium), big_payment (amount >= 1000, high),
shadow_big (amount >= 500, low, shadow), retired (not success, disabled).
Pack B: the same with big_payment at amount >= 400.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from monitor.cli import main
from monitor.simulate import Label
from monitor.testing import login, payment

RULES_DIR = str(Path(__file__).parents[3] / "rules")
T = "2026-01-01T00:"

PACK = """\
rules:
  - id: failures
    applies_to: [login]
    when: failed_logins_10m >= 3
    severity: medium
    score: 0.6
    tests:
      - {name: three, expect: fire, events: [{type: login, at: 0m, success: false, repeat: 3}]}
      - {name: two, expect: no_fire, events: [{type: login, at: 0m, success: false, repeat: 2}]}
  - id: big_payment
    applies_to: [payment]
    when: amount >= BIG
    severity: high
    score: 0.8
    tests:
      - {name: big, expect: fire, events: [{type: payment, at: 0m, amount: BIG}]}
      - {name: small, expect: no_fire, events: [{type: payment, at: 0m, amount: 10}]}
  - id: shadow_big
    applies_to: [payment]
    when: amount >= 500
    severity: low
    mode: shadow
    tests:
      - {name: big, expect: fire, events: [{type: payment, at: 0m, amount: 500}]}
      - {name: small, expect: no_fire, events: [{type: payment, at: 0m, amount: 10}]}
  - id: retired
    applies_to: [login]
    when: not success
    severity: low
    mode: disabled
    tests:
      - {name: failed, expect: fire, events: [{type: login, at: 0m, success: false}]}
      - {name: ok, expect: no_fire, events: [{type: login, at: 0m}]}
"""


@pytest.fixture
def stream(tmp_path: Path) -> tuple[Path, Path]:
    lines = [login("a1", f"{T}0{i}:00Z", success=False, event_id=f"a1-{i}") for i in range(4)]
    lines += [
        payment("a2", f"{T}10:00Z", 1500, event_id="a2-big"),
        payment("a2", f"{T}11:00Z", 600, event_id="a2-mid"),
        payment("a3", f"{T}12:00Z", 450, event_id="a3-450"),
        payment("a4", f"{T}13:00Z", 100, event_id="a4-small"),
        login("a5", f"{T}20:00Z", success=False, event_id="a5-0"),
        login("a5", f"{T}21:00Z", success=False, event_id="a5-1"),
    ]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    labels = [Label(f"a1-{i}", "a1", "c1", "brute_force", "guess_login") for i in range(4)]
    labels.append(Label("a2-big", "a2", "c2", "account_takeover", "drain_transfer"))
    labels_path = tmp_path / "labels.jsonl"
    labels_path.write_bytes(b"".join(msgspec.json.encode(x) + b"\n" for x in labels))
    return events, labels_path


def _pack(tmp_path: Path, name: str, big: int) -> str:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pack.yaml").write_text(PACK.replace("BIG", str(big)))
    return str(directory)


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["replay", *args, "--json", "--no-progress"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def _rules(pack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in pack["rules"]}


def test_hits_and_accounts_per_rule_without_labels(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stream: tuple[Path, Path]
):
    report = _replay(capsys, str(stream[0]), "--rules", _pack(tmp_path, "a", 1000))
    run, [pack] = report["run"], report["packs"]
    assert report["compare"] is None
    assert (run["events"], run["accounts"], run["labelled"]) == (10, 5, False)
    assert run["actions_taken"] is False
    rules = _rules(pack)
    assert list(rules) == ["failures", "big_payment", "shadow_big"]  # pack order
    got = {k: (r["mode"], r["severity"], r["hits"], r["accounts"]) for k, r in rules.items()}
    assert got == {
        "failures": ("active", "medium", 2, 1),
        "big_payment": ("active", "high", 1, 1),
        "shadow_big": ("shadow", "low", 2, 1),
    }
    assert rules["failures"]["first_hit"] == f"{T}02:00Z"
    assert rules["failures"]["last_hit"] == f"{T}03:00Z"
    assert (rules["shadow_big"]["first_hit"], rules["shadow_big"]["last_hit"]) == (
        f"{T}10:00Z",
        f"{T}11:00Z",
    )
    assert rules["failures"]["where"].endswith("pack.yaml:2")
    assert all(r["precision"] is None and r["true_hits"] is None for r in rules.values())
    assert pack["disabled"] == ["retired"]
    # shadow hits never alert: 2 failures + 1 big payment
    assert (pack["alerts"], pack["alerted_accounts"], pack["shadow_only_events"]) == (3, 2, 1)
    assert pack["alerts_by_severity"] == {"medium": 2, "high": 1}


def test_labels_give_precision_recall_and_campaigns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stream: tuple[Path, Path]
):
    events, labels = stream
    args = [str(events), "--labels", str(labels), "--rules", _pack(tmp_path, "a", 1000)]
    report = _replay(capsys, *args)
    run, [pack] = report["run"], report["packs"]
    assert (run["labelled"], run["labelled_events"]) == (True, 5)
    assert run["campaigns"] == {"account_takeover": 1, "brute_force": 1}
    rules = _rules(pack)
    got = {k: (r["true_hits"], r["precision"], r["recall"]) for k, r in rules.items()}
    assert got == {
        "failures": (2, 1.0, 0.4),
        "big_payment": (1, 1.0, 0.2),
        "shadow_big": (1, 0.5, 0.2),
    }
    assert rules["failures"]["campaigns"] == {"brute_force": 1}
    assert rules["shadow_big"]["campaigns"] == {"account_takeover": 1}
    assert (pack["true_alerts"], pack["precision"], pack["recall"]) == (3, 1.0, 0.6)


def test_compare_shows_what_a_changed_threshold_changes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stream: tuple[Path, Path]
):
    events, labels = stream
    a, b = _pack(tmp_path, "a", 1000), _pack(tmp_path, "b", 400)
    report = _replay(capsys, str(events), "--labels", str(labels), "--rules", a, "--compare", b)
    pack_a, pack_b = report["packs"]
    assert (pack_a["label"], pack_b["label"]) == ("A", "B")
    assert (_rules(pack_b)["big_payment"]["hits"], _rules(pack_b)["big_payment"]["accounts"]) == (
        3,
        2,
    )
    c = report["compare"]
    diffs = {d["rule"]: d for d in c["rules"]}
    assert list(diffs) == ["failures", "big_payment", "shadow_big", "retired"]
    big = diffs["big_payment"]
    assert (big["presence"], big["changed"], big["hits_a"], big["hits_b"], big["delta"]) == (
        "both",
        True,
        1,
        3,
        2,
    )
    assert (big["precision_a"], big["precision_b"]) == (1.0, pytest.approx(1 / 3))
    assert all(
        (d["delta"], d["changed"]) == (0, False) for k, d in diffs.items() if k != "big_payment"
    )
    assert (diffs["retired"]["mode_a"], diffs["retired"]["hits_a"]) == ("disabled", 0)
    assert (c["alerts_a"], c["alerts_b"], c["alerts_delta"]) == (3, 5, 2)
    assert c["newly_alerted_accounts"] == {"count": 1, "sample": ["a3"]}
    assert c["no_longer_alerted_accounts"] == {"count": 0, "sample": []}
    assert c["severity_changed_events"] == 2
    assert c["severity_transitions"] == {"none→high": 2}
    assert c["transition_samples"] == {"none→high": ["a2-mid", "a3-450"]}


def test_compare_other_way_and_pack_only_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stream: tuple[Path, Path]
):
    a = _pack(tmp_path, "a", 400)
    b = tmp_path / "b"
    b.mkdir()
    (b / "pack.yaml").write_text(
        PACK.replace("BIG", "1000").replace("id: failures", "id: failures_v2")
    )
    c = _replay(capsys, str(stream[0]), "--rules", a, "--compare", str(b))["compare"]
    diffs = {d["rule"]: d for d in c["rules"]}
    assert list(diffs) == ["failures", "big_payment", "shadow_big", "retired", "failures_v2"]
    assert (diffs["failures"]["presence"], diffs["failures"]["mode_b"]) == ("A only", None)
    assert (diffs["failures"]["hits_a"], diffs["failures"]["delta"]) == (2, -2)
    assert (diffs["failures_v2"]["presence"], diffs["failures_v2"]["hits_b"]) == ("B only", 2)
    assert diffs["failures_v2"]["delta"] == 2
    assert c["newly_alerted_accounts"]["count"] == 0
    assert c["no_longer_alerted_accounts"] == {"count": 1, "sample": ["a3"]}
    assert c["severity_transitions"] == {"high→none": 2}


def test_text_report(capsys: pytest.CaptureFixture[str], tmp_path: Path, stream: tuple[Path, Path]):
    events, labels = stream
    a, b = _pack(tmp_path, "a", 1000), _pack(tmp_path, "b", 400)
    args = [str(events), "--labels", str(labels), "--rules", a, "--compare", b]
    assert main(["replay", *args, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"Pack A: {a} (" in out and f"Pack B: {b} (" in out
    assert "2 active, 1 shadow rules; disabled: retired" in out
    assert "no actions taken" in out
    assert "newly alerted accounts: 1 (a3)" in out
    assert "severity changed on 2 events: none→high 2" in out
    compare = out[out.index("Comparison:") :]
    row = next(x.split() for x in compare.splitlines() if x.strip().startswith("big_payment"))
    assert row == [
        *("big_payment", "both", "active", "active"),
        *("1", "3", "+2", "100.0%", "33.3%", "changed"),
    ]
    assert "no change" not in out


def test_simulated_stream_same_pack_twice_changes_nothing(capsys: pytest.CaptureFixture[str]):
    sim = ["--simulate", "--accounts", "120", "--days", "0.3", "--seed", "5"]
    report = _replay(
        capsys,
        *sim,
        "--attack-share",
        "0.1",
        "--rules",
        RULES_DIR,
        "--compare",
        RULES_DIR,
        "--partitions",
        "2",
    )
    run, (a, b), c = report["run"], report["packs"], report["compare"]
    assert run["source"].startswith("simulator: 120 accounts") and run["events"] > 0
    assert run["labelled"] and run["labelled_events"] > 0 and run["partitions"] == 2
    assert a["rules"] == b["rules"] and a["alerts"] == b["alerts"]
    assert sum(r["hits"] for r in a["rules"]) > 0
    assert c["severity_changed_events"] == 0 and c["severity_transitions"] == {}
    assert all(d["delta"] == 0 and not d["changed"] for d in c["rules"])
    assert c["newly_alerted_accounts"]["count"] == c["no_longer_alerted_accounts"]["count"] == 0
    assert main(["replay", *sim, "--rules", RULES_DIR, "--compare", RULES_DIR]) == 0
    out = capsys.readouterr().out
    assert "the same rule files as pack A, with the same results" in out
    assert "no change: same hits per rule, same decisions" in out


def test_bad_rules_dir_exits_2_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stream: tuple[Path, Path]
):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text(
        "rules:\n  - id: x\n    applies_to: [login]\n    when: failed_login_10m > 5\n"
        "    severity: high\n"
    )
    good = _pack(tmp_path, "good", 1000)
    for args in (["--rules", str(bad)], ["--rules", good, "--compare", str(bad)]):
        assert main(["replay", str(stream[0]), *args, "--no-progress"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert f"{bad / 'x.yaml'}:4: rule 'x': when: unknown name 'failed_login_10m'" in (
            captured.err
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/events.jsonl"], "/nonexistent/events.jsonl: file not found"),
        (["EVENTS", "--labels", "/nonexistent/l.jsonl"], "l.jsonl: file not found"),
        ([], "give EVENTS.jsonl, or --simulate"),
        (["EVENTS", "--simulate"], "--simulate replays the simulator"),
        (["EVENTS", "--accounts", "5"], "--accounts apply to --simulate"),
        (["--simulate", "--accounts", "0"], "accounts must be at least 1"),
        (["EVENTS", "--rules", "/nonexistent/rules"], "rule directory not found"),
    ],
)
def test_bad_input_exits_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"")
    args = [str(events) if a == "EVENTS" else a for a in args]
    assert main(["replay", "--rules", RULES_DIR, *args, "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
