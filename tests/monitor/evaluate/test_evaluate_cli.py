"""``vigil evaluate`` through the real entry point: --json, text, files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.simulate import SimConfig, write_jsonl

RULES_DIR = str(Path(__file__).parents[3] / "rules")
TINY = ["--accounts", "150", "--days", "0.5", "--seed", "3", "--attack-share", "0.1"]


def test_json_is_the_only_thing_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    code = main(["evaluate", *TINY, "--rules", RULES_DIR, "--json", "--plots", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert set(report) >= {"run", "scenarios", "overall", "targets", "campaigns", "plots"}
    assert report["run"]["source"].startswith("simulator: 150 accounts")
    assert report["run"]["events"] > 0 and report["run"]["partitions"] == 4
    assert sum(s["campaigns"] for s in report["scenarios"]) == 15  # 10% of 150
    assert [t["op"] for t in report["targets"]] == [">=", ">=", "<="]
    assert sorted(Path(p).name for p in report["plots"]) == sorted(
        ["precision_recall.png", "score_distribution.png", "detection_delay.png"]
    )
    assert all(Path(p).stat().st_size > 0 for p in report["plots"])


def test_text_report_from_files(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    cfg = SimConfig(accounts=80, days=0.5, seed=9, attack_share=0.1)
    events = tmp_path / "ev.jsonl"
    stats = write_jsonl(cfg, events, tmp_path / "ev.labels.jsonl")  # the default labels path
    with events.open("ab") as f:
        f.write(b"garbage\n")
    code = main(["evaluate", "--events", str(events), "--rules", RULES_DIR, "--no-plots"])
    captured = capsys.readouterr()
    assert code == 0
    out = captured.out
    for part in ("Per attack scenario", "Overall", "Rules", "Targets", "events/s"):
        assert part in out
    assert f"{stats.events:,} events ({stats.malicious:,} labelled)" in out
    assert "skipped 1 bad event lines" in out and "skipped 1 bad event lines" in captured.err
    assert "Plots:" not in out


def test_empty_events_file_still_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    (tmp_path / "e.jsonl").write_bytes(b"")
    (tmp_path / "l.jsonl").write_bytes(b"")
    args = ["--events", str(tmp_path / "e.jsonl"), "--labels", str(tmp_path / "l.jsonl")]
    assert main(["evaluate", *args, "--rules", RULES_DIR, "--json", "--no-plots"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run"]["events"] == 0 and report["scenarios"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "/nonexistent/events.jsonl"], "not found"),
        (["--events", "EVENTS", "--accounts", "5"], "--accounts apply to the simulator"),
        (["--labels", "LABELS"], "--labels needs --events"),
        (["--accounts", "0"], "accounts must be at least 1"),
        (["--rules", "/nonexistent/rules"], "rule directory not found"),
    ],
)
def test_bad_input_exits_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"")
    args = [str(events) if a == "EVENTS" else a for a in args]
    args = [str(tmp_path / "l.jsonl") if a == "LABELS" else a for a in args]
    assert main(["evaluate", *args, "--no-plots"]) == 2
    assert message in capsys.readouterr().err


def test_help_carries_the_definitions(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    text = " ".join(out.split())
    assert "Definitions" in text and "false restrictions per 1,000 honest accounts per day" in text
    assert "counts as before" in text and "summed as plain numbers" in text
