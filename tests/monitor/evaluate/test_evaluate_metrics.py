"""Evaluation metrics on small hand-made record sets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.evaluate.metrics import (
    alert_precision,
    average_precision,
    build_report,
    campaign_outcomes,
    honest_rates,
    money,
    pr_curve,
    pr_summary,
    rule_results,
    scenario_results,
    targets,
    variant_results,
)
from monitor.evaluate.run import Collected, PaymentInfo, Record
from monitor.simulate import Label

DAY = 86400.0
T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z, a UTC midnight


class Stream:
    """Builds records in stream order: each call is the next event."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.seq = 0

    def add(
        self,
        account: str,
        ts: float,
        *,
        severity: str = "none",
        campaign: str | None = None,
        scenario: str = "account_takeover",
        variant: str | None = None,
        restricts: bool = False,
        disables: bool = False,
        pay: tuple[float, str, str, str] | None = None,  # amount, currency, kind, status
        sources: tuple[str, ...] = (),
    ) -> Record:
        event_id = f"e{self.seq}"
        label = None
        if campaign is not None:
            label = Label(event_id, account, campaign, scenario, "stage", variant)
        record = Record(
            seq=self.seq,
            event_id=event_id,
            account_id=account,
            ts=T0 + ts,
            severity=severity,  # type: ignore[arg-type]
            score={"none": 0.0, "low": 0.3, "medium": 0.6, "high": 0.8, "critical": 0.9}[severity],
            sources=sources or (("r",) if severity != "none" else ()),
            restricts=restricts or disables,
            disables_payments=disables,
            label=label,
            payment=PaymentInfo(*pay) if pay else None,
        )
        self.seq += 1
        self.records.append(record)
        return record


def by_id(records: list[Record]) -> dict:
    return {c.campaign_id: c for c in campaign_outcomes(records)}


def test_detected_on_a_labelled_event_or_on_the_account_inside_the_window_only():
    s = Stream()
    # c1: alert on its own labelled event
    s.add("v1", 0, campaign="c1")
    s.add("v1", 60, campaign="c1", severity="high")
    # c2: no alert at all
    s.add("v2", 0, campaign="c2")
    s.add("v2", 30, campaign="c2")
    # c3: the alert is on the victim's own (unlabelled) event inside the window
    s.add("v3", 0, campaign="c3")
    s.add("v3", 50, severity="medium")
    s.add("v3", 100, campaign="c3")
    # c4: alerts on the victim's unlabelled events, but before and after the window
    s.add("v4", -10, severity="high")
    s.add("v4", 0, campaign="c4")
    s.add("v4", 100, campaign="c4")
    s.add("v4", 101, severity="high")
    # an alert on another account inside c2's window does not detect c2
    s.add("x", 10, severity="critical")
    c = by_id(s.records)
    assert [c[k].detected for k in ("c1", "c2", "c3", "c4")] == [True, False, True, False]
    assert c["c1"].detection_ts == T0 + 60 and c["c1"].time_to_detection_s == 60
    assert c["c1"].events_to_detection == 2
    assert c["c3"].detection_event_id == "e5" and c["c3"].time_to_detection_s == 50
    assert c["c3"].events_to_detection == 1  # one labelled event up to the detecting one
    assert c["c2"].time_to_detection_s is None and c["c2"].events_to_detection is None
    assert not c["c2"].before_first_payment


def test_before_the_first_succeeded_payment_counts_the_payment_own_decision():
    s = Stream()
    ok = (100.0, "USD", "transfer", "succeeded")
    # a: the alert is on the first succeeded payment itself -> before
    s.add("a", 0, campaign="a")
    s.add("a", 10, campaign="a", pay=ok, severity="critical")
    # b: alert only after the money left -> detected, not before
    s.add("b", 0, campaign="b")
    s.add("b", 10, campaign="b", pay=ok)
    s.add("b", 20, campaign="b", severity="high")
    # c: a failed payment is not "succeeded"; the alert before the later success counts
    s.add("c", 0, campaign="c", pay=(5.0, "USD", "transfer", "failed"))
    s.add("c", 5, campaign="c", severity="medium")
    s.add("c", 10, campaign="c", pay=ok)
    # d: no succeeded fraudulent payment, detected -> before
    s.add("d", 0, campaign="d", severity="low")
    # e: same time as the payment but later in the stream -> after
    s.add("e", 0, campaign="e", pay=ok)
    s.add("e", 0, campaign="e", severity="high")
    c = by_id(s.records)
    assert {k: c[k].before_first_payment for k in "abcde"} == {
        "a": True,
        "b": False,
        "c": True,
        "d": True,
        "e": False,
    }
    assert all(c[k].detected for k in "abcde")
    assert c["c"].first_succeeded_payment_ts == T0 + 10
    assert c["d"].first_succeeded_payment_ts is None


def test_money_stopped_from_the_first_payment_disabling_decision_on():
    s = Stream()
    s.add("v", 0, campaign="m")
    s.add("v", 10, campaign="m", pay=(100.0, "USD", "transfer", "succeeded"))  # left, not stopped
    s.add("v", 20, campaign="m", pay=(50.0, "USD", "purchase", "succeeded"))  # not outgoing
    s.add("v", 25, campaign="m", restricts=True, severity="high")  # password reset only
    s.add("v", 30, campaign="m", pay=(7.0, "USD", "withdrawal", "failed"))  # never left
    # the payment whose own decision disables payments: stopped
    paid = (200.0, "USD", "withdrawal", "succeeded")
    s.add("v", 40, campaign="m", pay=paid, disables=True, severity="critical")
    s.add("v", 50, campaign="m", pay=(300.0, "EUR", "transfer", "succeeded"))  # after: stopped
    [c] = campaign_outcomes(s.records)
    assert c.money_left == {"USD": 300.0, "EUR": 300.0}
    assert c.money_stopped == {"USD": 200.0, "EUR": 300.0}
    assert c.restricted and c.restriction_ts == T0 + 25
    m = money([c])
    assert (m.would_have_left, m.stopped, m.stopped_share) == (600.0, 500.0, pytest.approx(5 / 6))
    assert m.by_currency == {
        "EUR": {"would_have_left": 300.0, "stopped": 300.0},
        "USD": {"would_have_left": 300.0, "stopped": 200.0},
    }


def test_money_is_stopped_only_by_a_restriction_on_the_same_account_in_the_campaign():
    s = Stream()
    s.add("v", -100, disables=True, severity="high")  # before the campaign: not its restriction
    s.add("w", 0, campaign="k", disables=True, severity="high")  # another account of it
    s.add("v", 10, campaign="k", pay=(100.0, "USD", "transfer", "succeeded"))
    [c] = campaign_outcomes(s.records)
    assert c.money_left == {"USD": 100.0} and c.money_stopped == {}


def test_false_restrictions_count_honest_account_days_only():
    s = Stream()
    s.add("v", 0, campaign="c")  # v is a victim: never honest
    s.add("v", 100, disables=True, severity="high")  # unlabelled, but a victim's account
    s.add("h1", 10, disables=True, severity="high")
    s.add("h1", 20, restricts=True, severity="critical")  # same account, same UTC day
    s.add("h1", DAY + 5, disables=True, severity="high")  # next UTC day: a second pair
    s.add("h2", 30, severity="medium")  # an alert, not a restriction
    s.add("h3", 2 * DAY, severity="none")  # makes the stream span two days
    rates = honest_rates(s.records, {"v", "h1", "h2", "h3", "h4"}, T0, T0 + 2 * DAY)
    assert rates.honest_accounts == 4 and rates.days == 2.0
    assert rates.false_restrictions == 2 and rates.false_alerts == 3
    assert rates.false_restrictions_per_1000_per_day == pytest.approx(2 / (4 / 1000) / 2)
    assert rates.false_alerts_per_1000_per_day == pytest.approx(3 / (4 / 1000) / 2)
    assert (rates.attacked_accounts, rates.attacked_account_restrictions) == (1, 1)
    none = honest_rates(s.records, {"v"}, T0, T0)
    assert none.honest_accounts == 0 and none.false_restrictions_per_1000_per_day is None
    assert none.days == pytest.approx(1e-9)


def test_scenario_medians_rates_and_variants():
    s = Stream()
    for cid, delay, variant in (("a", 10, "far"), ("b", 30, "far"), ("c", 200, "local")):
        s.add(cid, 0, campaign=cid, variant=variant)
        s.add(cid, delay / 2, campaign=cid, variant=variant)
        s.add(cid, delay, campaign=cid, variant=variant, severity="high")
    s.add("d", 0, campaign="d", variant="local")  # never detected
    s.add("e", 0, campaign="e", scenario="brute_force", severity="medium")
    outcomes = campaign_outcomes(s.records)
    ato, bf = scenario_results(outcomes)
    assert (ato.scenario, ato.campaigns, ato.detected, ato.labelled_events) == (
        "account_takeover",
        4,
        3,
        10,
    )
    assert ato.detection_rate == 0.75 and ato.before_first_payment_rate == 0.75
    assert ato.median_time_to_detection_s == 30.0
    assert ato.median_events_to_detection == 3.0
    assert (bf.scenario, bf.median_time_to_detection_s, bf.median_events_to_detection) == (
        "brute_force",
        0.0,
        1.0,
    )
    far, local = variant_results(outcomes)
    assert (far.variant, far.campaigns, far.median_time_to_detection_s) == ("far", 2, 20.0)
    assert (local.variant, local.campaigns, local.detected) == ("local", 2, 1)


def test_precision_per_severity_and_per_rule():
    s = Stream()
    s.add("v", 0, campaign="c", severity="critical", sources=("r1",))
    s.add("v", 1, campaign="c", severity="high", sources=("r1", "anomaly"))
    s.add("v", 2, campaign="c", severity="low", sources=("anomaly",))
    s.add("v", 3, campaign="c")  # labelled, no alert: not in precision
    s.add("h", 4, severity="high", sources=("r1",))
    s.add("h", 5, severity="medium", sources=("r2",))
    s.add("h", 6, severity="low", sources=("anomaly",))
    got = {
        p.min_severity: (p.alerts, p.true_alerts, p.precision) for p in alert_precision(s.records)
    }
    assert got == {
        "low": (6, 3, 0.5),
        "medium": (4, 2, 0.5),
        "high": (3, 2, pytest.approx(2 / 3)),
        "critical": (1, 1, 1.0),
    }
    rules = {r.rule: (r.hits, r.true_hits, r.false_hits) for r in rule_results(s.records)}
    assert rules == {"r1": (3, 2, 1), "anomaly": (3, 2, 1), "r2": (1, 0, 1)}
    assert alert_precision([])[0].precision is None


def test_pr_curve_matches_a_brute_force_count_and_average_precision():
    rng = np.random.default_rng(3)
    scores = rng.choice([0.0, 0.3, 0.55, 0.8, 0.9], size=400)
    labels = rng.random(400) < scores * 0.8
    thresholds, precision, recall = pr_curve(scores, labels)
    assert thresholds.tolist() == [0.9, 0.8, 0.55, 0.3, 0.0]
    for t, p, r in zip(thresholds, precision, recall, strict=True):
        chosen = scores >= t
        assert p == pytest.approx((chosen & labels).sum() / chosen.sum())
        assert r == pytest.approx((chosen & labels).sum() / labels.sum())
    expected = sum(
        (r - r0) * p for p, r, r0 in zip(precision, recall, [0.0, *recall[:-1]], strict=True)
    )
    assert average_precision(precision, recall) == pytest.approx(expected)
    perfect = pr_summary([0.9, 0.9, 0.0, 0.0], [True, True, False, False])
    assert perfect.average_precision == 1.0 and perfect.malicious == 2
    assert pr_summary([0.5, 0.0], [False, False]).average_precision is None
    assert pr_summary([], []).average_precision is None


def test_targets_met_missed_and_not_measurable():
    s = Stream()
    ok = (1.0, "USD", "transfer", "succeeded")
    for i in range(20):  # 19 of 20 takeovers detected (95%), 15 before the money left (75%)
        cid = f"t{i}"
        s.add(cid, 0, campaign=cid)
        if i < 15:
            s.add(cid, 5, campaign=cid, pay=ok, severity="critical")  # on the payment: before
        else:
            s.add(cid, 5, campaign=cid, pay=ok)
            if i < 19:
                s.add(cid, 5, campaign=cid, severity="high")  # same time, later: after
    rates = honest_rates(s.records, {"h"}, T0, T0 + DAY)
    t = targets(scenario_results(campaign_outcomes(s.records)), rates)
    assert [x.met for x in t] == [True, False, True]
    assert (t[0].value, t[1].value, t[2].value) == (0.95, 0.75, 0.0)
    assert [x.met for x in targets([], honest_rates([], set(), 0.0, 0.0))] == [None, None, None]


def test_build_report_on_records_is_consistent():
    s = Stream()
    s.add("v", 0, campaign="c", severity="high", disables=True)
    s.add("v", 10, campaign="c", pay=(10.0, "USD", "transfer", "succeeded"))
    s.add("h", 20, severity="high", disables=True)
    s.add("h", DAY, severity="none")
    c = Collected(
        records=s.records,
        accounts={"v", "h"},
        events=5,
        first_ts=T0,
        last_ts=T0 + DAY,
        scores=np.array([0.8, 0.0, 0.8, 0.0, 0.0]),
        malicious=np.array([True, True, False, False, False]),
    )
    r = build_report(c)
    assert r.overall.alerts == 2 and r.overall.restrictions == 2
    assert r.overall.restriction_precision == 0.5
    assert r.overall.honest.false_restrictions_per_1000_per_day == pytest.approx(1000.0)
    assert r.overall.money.stopped == r.overall.money.would_have_left == 10.0
    assert [t.met for t in r.targets] == [True, True, False]
    assert r.run.first_event == "2026-01-05T00:00:00Z" and r.run.days == 1.0
