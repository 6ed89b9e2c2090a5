"""The verdict learner: contract checks, and how its probability changes decisions."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import msgspec
import pytest

from monitor.decision import AnomalyResult, Reason
from monitor.detectors import VerdictLearner
from monitor.detectors.anomaly import NAMES
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import load_rules

FRAUD = {"new_device": 1.0, "new_country": 1.0, "distance": 9.0, "vs_median": 4.0}
HONEST = {"new_device": 0.0, "new_country": 0.0, "distance": 0.3, "vs_median": 0.7}


def trained(n: int = 15) -> VerdictLearner:
    vl = VerdictLearner(min_verdicts=20)
    for _ in range(n):
        vl.learn("payment", FRAUD, True)
        vl.learn("payment", HONEST, False)
    return vl


def test_not_ready_until_both_outcomes_are_seen_often_enough() -> None:
    vl = VerdictLearner(min_verdicts=20)
    for _ in range(30):
        vl.learn("payment", FRAUD, True)
    assert vl.probability("payment", FRAUD) is None  # only one outcome so far
    for _ in range(9):
        vl.learn("payment", HONEST, False)
    assert vl.probability("payment", FRAUD) is None  # 9 < 20 // 2
    vl.learn("payment", HONEST, False)
    assert vl.probability("payment", FRAUD) is not None
    assert vl.probability("login", FRAUD) is None  # per event type
    assert vl.counts() == {"payment": (30, 10)}


def test_pickle_round_trip_gives_the_same_probabilities() -> None:
    vl = trained()
    restored = pickle.loads(pickle.dumps(vl))
    assert restored.probability("payment", FRAUD) == vl.probability("payment", FRAUD)
    restored.learn("payment", HONEST, False)
    vl.learn("payment", HONEST, False)
    assert restored.probability("payment", HONEST) == vl.probability("payment", HONEST)


def test_inputs_are_not_mutated() -> None:
    vl = trained()
    before = copy.deepcopy(FRAUD)
    vl.learn("payment", FRAUD, True)
    vl.probability("payment", FRAUD)
    assert before == FRAUD


@pytest.fixture
def pipe() -> PartitionPipeline:
    rules = load_rules(Path(__file__).resolve().parents[3] / "rules")
    p = PartitionPipeline(0, rules, clock=lambda: 0.0, verdict_min=20)
    p.verdicts = trained()
    return p


def flagged(inputs: dict[str, float]) -> AnomalyResult:
    return AnomalyResult(
        score=0.9,
        threshold=0.6,
        flagged=True,
        reason=Reason(code="anomaly", text="x"),
        vector=tuple(inputs.get(name, 0.0) for name in NAMES["payment"]),
    )


def test_confirmed_fraud_lookalike_becomes_a_medium_alert(pipe: PartitionPipeline) -> None:
    hits: list = []
    result = pipe._apply_verdicts("payment", flagged(FRAUD), hits, severe=False)
    assert result.flagged
    ((severity, score, reason),) = hits
    assert severity == "medium" and score >= 0.8
    assert reason.code == "verdicts" and reason.values["p_fraud"] >= 0.8


def test_confirmed_legitimate_lookalike_model_alert_is_not_raised(pipe: PartitionPipeline) -> None:
    hits: list = []
    result = pipe._apply_verdicts("payment", flagged(HONEST), hits, severe=False)
    assert not result.flagged and result.reason is None and hits == []


def test_rule_hits_are_never_suppressed_by_verdicts(pipe: PartitionPipeline) -> None:
    rule_hit = ("high", 0.8, Reason(code="rule:x", text="x", rule_id="x"))
    hits = [rule_hit]
    anomaly = flagged(HONEST)
    assert pipe._apply_verdicts("payment", anomaly, hits, severe=True) == anomaly
    assert hits == [rule_hit]


def test_learn_verdict_feeds_the_partition_model() -> None:
    rules = load_rules(Path(__file__).resolve().parents[3] / "rules")
    p = PartitionPipeline(0, rules, verdict_min=2)
    p.learn_verdict("login", {"a": 1.0}, True)
    p.learn_verdict("login", {"a": 0.0}, False)
    assert p.verdicts.counts() == {"login": (1, 1)}
    assert msgspec.structs.replace(flagged(HONEST), flagged=False).flagged is False
