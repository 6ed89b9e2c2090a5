"""vigil bench measures (numbers are never asserted here): the stages run on real data and
report what they measured."""

from __future__ import annotations

from pathlib import Path

from monitor.bench.core import run_core
from monitor.bench.latency import _percentile, _summary
from monitor.bench.memory import account_events, run_memory
from monitor.compiled import compiled

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_core_reports_every_stage() -> None:
    r = run_core(RULES, accounts=60, days=0.3, repeat=1)
    assert r["events"] > 100 and r["rules"] >= 10
    assert set(r["us_per_event"]) == {
        "decode",
        "features",
        "anomaly_model",
        "rules",
        "population",
        "pipeline",
        "store",
        "metrics",
    }
    assert all(v > 0 for v in r["us_per_event"].values())
    assert r["pipeline_events_per_s"] > 0 and r["rule_us_per_rule_per_event"] > 0
    assert 0 < r["with_store_metrics_events_per_s"] < r["pipeline_events_per_s"]
    assert r["compiled"] == compiled()  # what the figures were measured with


def test_memory_counts_accounts_and_events() -> None:
    r = run_memory(500)
    assert r["accounts"] == 500 and r["events"] == 500 * len(list(account_events(0)))
    assert r["rss_growth_bytes"] >= 0


def test_latency_summary_percentiles() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert _percentile(values, 0.5) == 0.051
    s = _summary(values)
    assert (s["count"], s["p50_ms"], s["p99_ms"], s["max_ms"]) == (100, 51.0, 100.0, 100.0)
    # measured in order: a run that slows down shows it third by third
    assert s["thirds_p50_p99_ms"] == [[18.0, 34.0], [52.0, 68.0], [85.0, 100.0]]
