"""vigil bench e2e and scaling through the real embedded broker, at a small size: the
structure of the results and that the work was real (every event decided once, alerts
written, offsets committed to the end, both members owning partitions). The rates are
reported, never asserted."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from monitor.bench.cli import _Bars, add_arguments, run_from_args
from monitor.bench.scaling import _assignment_complete, _mask, _unmask
from monitor.config import Settings

RULES = Path(__file__).resolve().parents[2] / "rules"
EVENTS = 3000


def _bench_json(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = io.StringIO()
    with redirect_stdout(out):
        assert run_from_args(parser.parse_args([*argv, "--json"]), Settings(rules_dir=RULES)) == 0
    return json.loads(out.getvalue())


@pytest.mark.e2e
def test_e2e_monitor_and_raw_baseline_over_the_same_messages() -> None:
    r = _bench_json("e2e", "--events", str(EVENTS))["e2e"]
    assert r["events"] == EVENTS and r["partitions"] == 4
    assert sum(r["per_partition"].values()) == EVENTS and all(r["per_partition"].values())
    raw, mon = r["raw"], r["monitor"]
    assert raw["events"] == EVENTS and raw["invalid"] == 0
    # every event decided exactly once, alerts written, offsets committed to the end
    assert mon["decided"] == EVENTS and mon["alerts"] > 0 and mon["commits"] >= 1
    assert mon["committed_to_end"] is True
    assert raw["events_per_s"] > 0 and mon["events_per_s"] > 0 and mon["cpu_seconds"] > 0
    assert r["ratio"] == round(mon["events_per_s"] / raw["events_per_s"], 3)
    # how busy the machine was (Linux): the broker's CPU, everybody else's share
    assert mon["broker_cpu_seconds"] >= 0 and 0 <= mon["others_cpu_share"] <= 1


@pytest.mark.e2e
def test_latency_measures_the_broker_floor_and_the_monitor_in_one_run() -> None:
    rate, seconds = 300, 2
    r = _bench_json("latency", "--rates", str(rate), "--seconds", str(seconds))["latency"]
    (lat,) = r
    # every event produced was read by the floor consumer and decided by the monitor
    assert lat["broker_floor"]["count"] == rate * seconds
    assert lat["decision"]["count"] == rate * seconds
    for key in ("broker_floor", "decision"):
        x = lat[key]
        assert 0 < x["p50_ms"] <= x["p99_ms"] <= x["max_ms"]


@pytest.mark.e2e
def test_scaling_one_then_two_members_of_one_group() -> None:
    r = _bench_json("scaling", "--events", str(EVENTS))["scaling"]
    one, two = r["runs"]
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["members"][0]["partitions"] == [0, 1, 2, 3]
    owned = [m["partitions"] for m in two["members"]]
    assert all(owned) and sorted(owned[0] + owned[1]) == [0, 1, 2, 3]
    for run in (one, two):
        assert run["decided"] == EVENTS and run["committed_to_end"] is True
        assert run["alerts"] > 0 and run["events_per_s"] > 0
        assert run["broker_cpu_seconds"] >= 0 and 0 <= run["others_cpu_share"] <= 1
        assert all(m["decided"] > 0 and m["commits"] >= 1 for m in run["members"])
    assert r["speedup"] == two["speedup"] == round(two["events_per_s"] / one["events_per_s"], 3)


def test_assignment_is_complete_only_when_every_member_owns_a_disjoint_share() -> None:
    assert _unmask(_mask({0, 3})) == [0, 3]
    assert _assignment_complete([_mask({0, 1}), _mask({2, 3})], 4)
    assert not _assignment_complete([_mask({0, 1, 2, 3}), 0], 4)  # one member waiting
    assert not _assignment_complete([_mask({0, 1, 2}), _mask({2, 3})], 4)  # overlap
    assert not _assignment_complete([_mask({0, 1}), _mask({2})], 4)  # one unowned


def test_progress_bars_are_off_when_quiet() -> None:
    assert _Bars(quiet=True).progress is None
    with _Bars(quiet=False) as bars:
        bars.update("produce", 10, 100)
        assert bars.bar.n == 10
        bars.update("produce", 100, 100)  # complete: closed at once
        assert bars.bar is None
        bars.update("produce", 100, 100)
        assert bars.bar is None
        bars.update("monitor", 5, 100)
        assert bars.phase == "monitor" and bars.bar.n == 5
    assert bars.bar is None


@pytest.mark.e2e
def test_restart_bench_restores_every_account_before_the_first_decision() -> None:
    from monitor.bench.restart import run_restart

    result = run_restart(RULES, 2_000)
    # every account of every partition's checkpoint is back (the new event's account
    # may be new to the partition it lands on)
    assert result["accounts_restored"] in (2_000, 2_001)
    assert result["checkpoint_bytes"] > 2_000 * 20
    assert 0 < result["first_decision_s"] < 60
