"""Combining rule hits and the anomaly result into one decision."""

from __future__ import annotations

import msgspec
import pytest

from monitor.decision import (
    SEVERITIES,
    AnomalyResult,
    Decision,
    Reason,
    alert_id_for,
    decide,
)


def hit(rule_id: str, severity: str, score: float) -> tuple[str, float, Reason]:
    return (severity, score, Reason(code=f"rule:{rule_id}", text=rule_id, rule_id=rule_id))


def make(rule_hits=(), anomaly=None, event_id: str = "e1") -> Decision:
    return decide(
        event_id=event_id,
        account_id="a1",
        event_type="payment",
        event_ts=1_772_330_400.0,
        rule_hits=list(rule_hits),
        anomaly=anomaly,
    )


FLAGGED = AnomalyResult(
    score=0.83,
    threshold=0.7,
    flagged=True,
    reason=Reason(code="anomaly", text="Unusual payment: new payee", values={"new_payee": True}),
)
QUIET = AnomalyResult(score=0.95, threshold=0.97, flagged=False)


def test_no_hits_and_no_anomaly_is_no_alert():
    d = make()
    assert (d.severity, d.score, d.rule_ids, d.reasons, d.anomaly_score) == (
        "none",
        0.0,
        [],
        [],
        None,
    )
    assert not d.is_alert


def test_severity_is_the_highest_of_the_rules():
    d = make([hit("a", "low", 0.2), hit("b", "critical", 0.5), hit("c", "medium", 0.9)])
    assert d.severity == "critical"
    d = make([hit("a", "medium", 0.2), hit("b", "high", 0.1), hit("c", "low", 0.3)])
    assert d.severity == "high"


@pytest.mark.parametrize("severity", SEVERITIES[1:])
def test_a_single_hit_sets_its_severity(severity):
    assert make([hit("r", severity, 0.5)]).severity == severity


def test_score_is_the_highest_rule_score_not_of_the_most_severe_rule():
    d = make([hit("a", "critical", 0.4), hit("b", "low", 0.7)])
    assert d.score == 0.7


def test_score_is_rounded_to_four_places():
    assert make([hit("a", "low", 0.123456789)]).score == 0.1235


def test_rule_ids_and_reasons_keep_hit_order():
    hits = [hit("z_rule", "low", 0.1), hit("a_rule", "high", 0.9), hit("m_rule", "medium", 0.5)]
    d = make(hits)
    assert d.rule_ids == ["z_rule", "a_rule", "m_rule"]
    assert [r.code for r in d.reasons] == ["rule:z_rule", "rule:a_rule", "rule:m_rule"]


def test_reasons_without_a_rule_id_are_kept_but_not_listed_as_rules():
    skew = Reason(code="future_timestamp", text="event time is 60 min in the future")
    d = make([hit("a", "medium", 0.6), ("low", 0.3, skew)])
    assert d.rule_ids == ["a"]
    assert [r.code for r in d.reasons] == ["rule:a", "future_timestamp"]
    assert (d.severity, d.score) == ("medium", 0.6)


def test_anomaly_only_is_a_low_alert_with_the_model_reason():
    d = make(anomaly=FLAGGED)
    assert d.severity == "low"
    assert d.is_alert
    assert d.score == 0.83
    assert d.anomaly_score == 0.83
    assert d.rule_ids == []
    assert [r.code for r in d.reasons] == ["anomaly"]
    assert d.reasons[0].values == {"new_payee": True}


def test_unflagged_anomaly_is_recorded_but_changes_nothing():
    d = make(anomaly=QUIET)
    assert (d.severity, d.score, d.reasons) == ("none", 0.0, [])
    assert d.anomaly_score == 0.95
    d = make([hit("a", "medium", 0.6)], anomaly=QUIET)
    assert (d.severity, d.score) == ("medium", 0.6)


def test_anomaly_never_lowers_a_rule_decision():
    d = make([hit("a", "critical", 0.9)], anomaly=FLAGGED)
    assert (d.severity, d.score) == ("critical", 0.9)
    assert [r.code for r in d.reasons] == ["rule:a", "anomaly"]


def test_anomaly_score_wins_when_higher_than_the_rules():
    d = make([hit("a", "medium", 0.6)], anomaly=FLAGGED)
    assert (d.severity, d.score) == ("medium", 0.83)


def test_flagged_anomaly_without_a_reason_adds_no_reason():
    d = make(anomaly=AnomalyResult(score=0.9, threshold=0.5, flagged=True))
    assert (d.severity, d.reasons) == ("low", [])


def test_decision_carries_the_event_identity():
    d = make([hit("a", "low", 0.1)], event_id="evt-42")
    assert (d.event_id, d.account_id, d.event_type, d.event_ts) == (
        "evt-42",
        "a1",
        "payment",
        1_772_330_400.0,
    )


def test_alert_id_is_stable_and_distinct_per_event():
    a = make([hit("a", "low", 0.1)], event_id="evt-1")
    b = make([hit("b", "high", 0.9)], event_id="evt-1", anomaly=FLAGGED)
    c = make([hit("a", "low", 0.1)], event_id="evt-2")
    assert a.alert_id == b.alert_id == alert_id_for("evt-1")
    assert a.alert_id != c.alert_id
    # pinned: stored alerts and webhook receivers dedupe on it across releases
    assert a.alert_id == "al_48d7d3602c4107bd4cc2"


def test_decision_round_trips_through_json():
    d = make([hit("a", "high", 0.7)], anomaly=FLAGGED)
    again = msgspec.json.decode(msgspec.json.encode(d), type=Decision)
    assert again == d
