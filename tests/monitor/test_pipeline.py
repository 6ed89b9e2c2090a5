"""The pipeline core with the shipped rules: feed events, move the clock, read decisions."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from monitor.decision import Decision
from monitor.events import DecodeError, Event, decode
from monitor.features.codec import encode_states
from monitor.features.state import MAX_RECENT
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import RulePack, load_rules
from monitor.testing import LAGOS, ManualClock, at, login, payment, security, topup

RULES_DIR = Path(__file__).parents[2] / "rules"
T0 = "2026-03-02T09:00:00Z"


@pytest.fixture(scope="module")
def rules() -> RulePack:
    return load_rules(RULES_DIR)


def ev(raw: bytes) -> Event:
    event = decode(raw)
    assert not isinstance(event, DecodeError), event
    return event


def epoch(ts: str) -> float:
    return ev(login("x", ts)).epoch


def make(rules: RulePack, **kw) -> tuple[PartitionPipeline, ManualClock]:
    clock = ManualClock(epoch(T0))
    kw.setdefault("anomaly_warmup", 10_000)  # rules only, unless a test says otherwise
    return PartitionPipeline(partition=0, rules=rules, clock=clock, **kw), clock


def run(pipe: PartitionPipeline, clock: ManualClock, *raws: bytes) -> list[Decision]:
    """Process events in order, keeping the clock at each event's time (no lag)."""
    out = []
    for raw in raws:
        event = ev(raw)
        clock.now = max(clock.now, event.epoch)
        out.append(pipe.process(event))
    return out


def history(account: str, days: int = 5) -> list[bytes]:
    """A steady honest account: a morning login and two ~100 CNY purchases a day."""
    raws = []
    for day in range(days):
        base = at(T0, days=day - days)
        raws.append(login(account, base))
        raws.append(payment(account, at(base, minutes=20), 95.0 + day, payee_id="shop-1"))
        raws.append(payment(account, at(base, hours=6), 105.0 - day, payee_id="shop-2"))
    return raws


# --- brute force -------------------------------------------------------------------


def test_brute_force_fires_at_the_sixth_failed_login_in_ten_minutes(rules):
    pipe, clock = make(rules)
    ds = run(pipe, clock, *(login("a1", at(T0, minutes=m), success=False) for m in range(7)))
    assert [d.rule_ids for d in ds] == [[]] * 5 + [["brute_force"]] * 2
    assert [d.severity for d in ds[4:]] == ["none", "medium", "medium"]
    sixth = ds[5]
    assert sixth.score == 0.6
    assert sixth.reasons[0].text == "6 failed logins in 10 minutes"
    assert sixth.reasons[0].values == {"failed_logins_10m": 6}
    assert sixth.is_alert and not ds[4].is_alert


def test_failed_logins_spread_over_an_hour_do_not_fire(rules):
    pipe, clock = make(rules)
    raws = [login("a1", at(T0, minutes=m), success=False) for m in (0, 11, 22, 33, 44, 55, 66)]
    assert all(d.severity == "none" for d in run(pipe, clock, *raws))
    # five in ten minutes are still below the threshold
    burst = [login("a2", at(T0, minutes=m), success=False) for m in (0, 2, 4, 6, 8)]
    assert all(d.rule_ids == [] for d in run(pipe, clock, *burst))


def test_brute_force_counts_by_event_time_even_when_delivered_late(rules):
    pipe, clock = make(rules)
    clock.now = epoch(at(T0, hours=2))  # the burst arrives two hours after it happened
    # out of order, the latest attempt last: its window holds all six by event time
    ds = [
        pipe.process(ev(login("a1", at(T0, seconds=s), success=False)))
        for s in (10, 0, 30, 20, 40, 50)
    ]
    assert [d.rule_ids for d in ds] == [[]] * 5 + [["brute_force"]]
    assert ds[-1].reasons[0].values == {"failed_logins_10m": 6}
    assert "future_timestamp" not in [r.code for d in ds for r in d.reasons]


# --- account takeover ----------------------------------------------------------------


def test_account_takeover_sequence_is_critical_and_explained(rules):
    pipe, clock = make(rules)
    assert all(not d.is_alert for d in run(pipe, clock, *history("victim")))
    takeover = run(
        pipe,
        clock,
        login("victim", at(T0, minutes=-40)),  # the owner, at home in Shanghai
        login("victim", at(T0, minutes=0), device_id="evil", ip="6.6.6.6", geo=LAGOS),
        security("victim", at(T0, minutes=3), "password_changed", device_id="evil"),
        payment(
            "victim",
            at(T0, minutes=5),
            1000.0,
            kind="transfer",
            payee_id="mule-1",
            device_id="evil",
            geo=LAGOS,
        ),
    )
    owner, new_login, change, transfer = takeover
    assert owner.severity == "none"
    assert set(new_login.rule_ids) == {"impossible_travel", "new_device_new_country_login"}
    assert new_login.severity == "high"
    assert new_login.score == 0.75
    (travel,) = [r for r in new_login.reasons if r.rule_id == "impossible_travel"]
    assert travel.text == "new device 12,226 km from Shanghai at 18,338 km/h"
    assert change.severity == "none"
    assert transfer.severity == "critical"
    assert transfer.rule_ids == ["takeover_drain", "security_change_then_transfer"]
    assert transfer.score == 0.95
    (reason,) = [r for r in transfer.reasons if r.rule_id == "takeover_drain"]
    assert reason.code == "rule:takeover_drain"
    assert reason.text == (
        "transfer of 1,000.00 CNY to a new payee from a device first seen 5 min ago, "
        "2 min after a security change"
    )
    assert reason.values["kind"] == "transfer"
    assert reason.values["new_payee"] is True
    assert reason.values["minutes_since_security_change"] == pytest.approx(2.0)
    assert reason.values["minutes_since_new_device"] == pytest.approx(5.0)
    assert transfer.event_type == "payment" and transfer.account_id == "victim"
    assert transfer.actions[:3] == [
        "disable_payment_features",
        "force_password_reset",
        "alert_support",
    ]
    assert transfer.queue == "account_security" and transfer.restricts
    assert not change.restricts and change.actions == []


def test_transfer_long_after_a_security_change_is_not_critical(rules):
    pipe, clock = make(rules)
    run(pipe, clock, *history("acc"))
    ds = run(
        pipe,
        clock,
        security("acc", T0, "password_changed"),
        payment("acc", at(T0, hours=2), 1000.0, kind="transfer", payee_id="friend"),
    )
    assert ds[-1].severity == "none"


# --- card testing, top-up then withdrawal --------------------------------------------


def test_card_testing_fires_on_the_fifth_small_failed_payment(rules):
    pipe, clock = make(rules)
    raws = [
        payment("card", at(T0, minutes=m), 1.0 + m / 10, status="failed", payee_id=f"m{m}")
        for m in range(6)
    ]
    ds = run(pipe, clock, *raws)
    assert [d.rule_ids for d in ds] == [[]] * 4 + [["card_testing"]] * 2
    assert ds[4].severity == "high"
    assert ds[4].reasons[0].text == "5 small failed payments in 10 minutes"


def test_large_failed_payments_are_not_card_testing(rules):
    pipe, clock = make(rules)
    raws = [payment("c", at(T0, minutes=m), 50.0, status="failed") for m in range(6)]
    assert all(d.rule_ids == [] for d in run(pipe, clock, *raws))


def test_topup_from_a_new_source_then_withdrawal(rules):
    pipe, clock = make(rules)
    ds = run(
        pipe,
        clock,
        topup("mule", at(T0, days=-3), 200.0, source_id="own-card"),
        topup("mule", T0, 5000.0, source_id="stolen-card"),
        payment("mule", at(T0, minutes=7), 4500.0, kind="withdrawal", payee_id="bank-9"),
    )
    assert [d.severity for d in ds[:2]] == ["none", "none"]
    # the payment also comes from a device the account never used (topups carry none)
    assert ds[2].rule_ids == ["topup_then_withdrawal", "topup_cash_out_new_device"]
    assert ds[2].severity == "high" and ds[2].restricts
    assert ds[2].reasons[0].text == (
        "withdrawal of 4,500.00 7 min after a top-up of 5,000.00 from a new source"
    )


@pytest.mark.parametrize(
    ("source", "amount", "minutes"),
    [
        ("own-card", 4500.0, 7),  # the account's usual card
        ("new-card", 1000.0, 5),  # only a small share leaves
        ("new-card", 4500.0, 30),  # long after the top-up
    ],
)
def test_topup_then_withdrawal_needs_new_source_most_of_it_and_minutes(
    rules, source, amount, minutes
):
    pipe, clock = make(rules)
    ds = run(
        pipe,
        clock,
        topup("m", at(T0, days=-3), 200.0, source_id="own-card"),
        topup("m", T0, 5000.0, source_id=source),
        payment("m", at(T0, minutes=minutes), amount, kind="withdrawal"),
    )
    assert [d.rule_ids for d in ds] == [[], [], []]


# --- clock skew --------------------------------------------------------------------


def test_future_timestamp_adds_a_reason(rules):
    pipe, clock = make(rules)
    clock.now = epoch(T0) - 3 * 3600  # the broker's clock is 3 h behind the event
    d = pipe.process(ev(login("a1", T0)))
    assert d.severity == "low"
    assert [r.code for r in d.reasons] == ["future_timestamp"]
    assert d.reasons[0].text == "event time is 180 min in the future"
    assert d.reasons[0].values == {"skew_s": 10800.0}
    assert d.rule_ids == []


def test_small_skew_is_tolerated(rules):
    pipe, clock = make(rules)
    clock.now = epoch(T0) - 299
    assert pipe.process(ev(login("a1", T0))).reasons == []
    clock.advance(-2)
    assert [r.code for r in pipe.process(ev(login("a1", T0))).reasons] == ["future_timestamp"]


def test_future_timestamp_adds_to_rule_hits(rules):
    pipe, clock = make(rules)
    run(pipe, clock, *(login("a", at(T0, minutes=m), success=False) for m in range(5)))
    clock.now = epoch(T0) - 3600
    d = pipe.process(ev(login("a", at(T0, minutes=6), success=False)))
    assert d.severity == "medium"
    assert [r.code for r in d.reasons] == ["rule:brute_force", "future_timestamp"]


# --- honest traffic, partitions, determinism -------------------------------------------


def honest_stream(accounts: int = 20, days: int = 6, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    raws = []
    for day in range(days):
        for a in range(accounts):
            acc = f"honest-{a}"
            base = at(T0, days=day, hours=a % 10, minutes=rng.randint(0, 30))
            raws.append(login(acc, base, device_id=f"phone-{a}", ip=f"10.0.{a}.1"))
            for k in range(3):
                raws.append(
                    payment(
                        acc,
                        at(base, minutes=10 + 40 * k),
                        round(rng.uniform(80, 120), 2),
                        payee_id=f"shop-{k}",
                        device_id=f"phone-{a}",
                    )
                )
    raws.sort(key=lambda r: ev(r).epoch)
    return raws


def test_an_honest_steady_stream_raises_no_alerts(rules):
    raws = honest_stream()
    pipe, clock = make(rules, anomaly_warmup=100)
    ds = run(pipe, clock, *raws)
    assert len(ds) == 480
    alerts = [(d.event_id, d.severity, [r.text for r in d.reasons]) for d in ds if d.is_alert]
    assert alerts == []
    assert all(d.anomaly_score is not None for d in ds)
    assert len(pipe.accounts) == 20


def test_state_is_per_partition(rules):
    p0, c0 = make(rules)
    p1 = PartitionPipeline(partition=1, rules=rules, clock=c0, anomaly_warmup=10_000)
    fails = [login("shared", at(T0, minutes=m), success=False) for m in range(6)]
    d0 = run(p0, c0, *fails[:3])
    d1 = [p1.process(ev(raw)) for raw in fails[3:]]
    assert [d.rule_ids for d in d0 + d1] == [[]] * 6  # neither saw six
    assert list(p0.accounts) == list(p1.accounts) == ["shared"]
    assert p0.accounts["shared"] is not p1.accounts["shared"]
    assert p0.accounts["shared"].times != p1.accounts["shared"].times
    assert p0.detector is not p1.detector


def test_decisions_are_deterministic_including_anomaly_scores(rules):
    # enough events that HST is past its first window (scores are 0 before that)
    raws = [
        *honest_stream(accounts=30, days=10),
        login("honest-1", at(T0, days=11), device_id="evil", geo=LAGOS),
        security("honest-1", at(T0, days=11, minutes=2), "mfa_disabled", device_id="evil"),
        payment("honest-1", at(T0, days=11, minutes=4), 2000.0, kind="transfer", payee_id="mule"),
    ]

    def decisions(seed: int) -> list[Decision]:
        pipe, clock = make(rules, anomaly_warmup=50, anomaly_learn_every=1, seed=seed)
        return run(pipe, clock, *raws)

    first, second, other = decisions(7), decisions(7), decisions(8)
    # honest events score ~0 (all mass where they are); the attacker's login and
    # transfer score high (the lone security event's model is still warming up)
    honest = max(d.anomaly_score or 0.0 for d in first[:-3])
    assert min(first[-3].anomaly_score or 0.0, first[-1].anomaly_score or 0.0) > 0.9 > honest
    assert first == second
    assert [d.anomaly_score for d in first] == [d.anomaly_score for d in second]
    assert [d.anomaly_score for d in first] != [d.anomaly_score for d in other]
    assert first[-1].severity == "critical"
    assert first[-1].alert_id == second[-1].alert_id


def test_pipeline_does_not_read_the_clock_for_windows(rules):
    pipe, clock = make(rules)
    clock.now = epoch(T0) + 10 * 86400  # the monitor is ten days behind (replay)
    ds = [pipe.process(ev(login("a", at(T0, minutes=m), success=False))) for m in range(6)]
    assert ds[-1].rule_ids == ["brute_force"]
    assert ds[-1].event_ts == epoch(at(T0, minutes=5))


# --- redelivered copies ----------------------------------------------------------------


def _account(pipe: PartitionPipeline, account: str) -> bytes:
    return encode_states({account: pipe.accounts[account]})


def test_a_copy_is_a_duplicate_not_folded_in_nor_decided(rules):
    pipe, clock = make(rules)
    raw = login("a1", T0, success=False, event_id="e-1")
    (first,) = run(pipe, clock, raw)
    before = _account(pipe, "a1")
    (again,) = run(pipe, clock, raw)
    assert not first.duplicate and again.duplicate and not again.late
    assert again.event_id == "e-1" and not again.is_alert and again.rule_ids == []
    assert again.reasons[0].code == "duplicate_event"
    assert _account(pipe, "a1") == before  # no state change
    assert pipe.duplicate_events == 1 and pipe.late_events == 0


def test_copies_of_a_burst_raise_no_alert(rules):
    pipe, clock = make(rules)
    fails = [login("a1", at(T0, minutes=m), success=False, event_id=f"f{m}") for m in range(5)]
    ds = run(pipe, clock, *fails, *fails)  # folded again, the copies would make 6-10
    assert [d.duplicate for d in ds] == [False] * 5 + [True] * 5
    assert not any(d.is_alert for d in ds)
    (sixth,) = run(pipe, clock, login("a1", at(T0, minutes=6), success=False))
    assert sixth.rule_ids == ["brute_force"]
    assert sixth.reasons[0].values == {"failed_logins_10m": 6}


def test_a_copy_beyond_the_grace_period_is_late(rules):
    pipe, clock = make(rules)
    raw = login("a1", T0, event_id="e-1")
    run(pipe, clock, raw, login("a1", at(T0, minutes=6)))  # 360 s later: e-1 is behind
    (again,) = run(pipe, clock, raw)
    assert again.late and not again.duplicate
    assert pipe.late_events == 1 and pipe.duplicate_events == 0


def test_a_copy_pushed_out_by_the_cap_is_folded_in_again(rules):
    """Documented limit: at most MAX_RECENT events are remembered per account."""
    pipe, clock = make(rules)
    raws = [login("a1", at(T0, seconds=s), event_id=f"e{s}") for s in range(MAX_RECENT + 1)]
    run(pipe, clock, *raws)
    events = pipe.accounts["a1"].events
    oldest, newest = run(pipe, clock, raws[0], raws[-1])
    assert not oldest.duplicate and newest.duplicate
    assert pipe.accounts["a1"].events == events + 1


def test_a_copy_is_recognised_after_a_restore(rules):
    pipe, clock = make(rules)
    raw = login("a1", T0, success=False, event_id="e-1")
    run(pipe, clock, raw)
    restored, clock2 = make(rules)
    restored.restore(pipe.snapshot())
    (again,) = run(restored, clock2, raw)
    assert again.duplicate
    assert restored.duplicate_events == 1
