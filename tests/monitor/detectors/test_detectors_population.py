"""Population-level ops alerts: rate spikes against their own baseline, credential stuffing
by IP and by subnet, and the detector contract (determinism, snapshots, bounded memory, no
input mutation, event time only)."""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import cache
from typing import Any

import msgspec
import pytest

from monitor.decision import Decision
from monitor.detectors.population import PopulationMonitor
from monitor.events import DecodeError, Event, Login, Payment, Topup, decode
from monitor.testing import at, login, payment, security, topup

T0 = "2026-03-02T09:00:00Z"  # on a 5-minute boundary
BUCKET = 300.0
STEADY = 30  # honest buckets before anything happens


def ev(raw: bytes) -> Event:
    event = decode(raw)
    assert not isinstance(event, DecodeError), event
    return event


def when(bucket: int, frac: float = 0.0) -> str:
    return at(T0, seconds=(bucket + frac) * BUCKET)


def start_of(bucket: int) -> float:
    return ev(login("x", when(bucket))).epoch


def home_ip(account: int) -> str:
    """Every honest account has its own address in its own /24."""
    return f"198.{account % 200}.{account // 200}.7"


def pay(account: int, ts: str, reason: str | None = None, channel: str = "app") -> Event:
    status = "failed" if reason else "succeeded"
    event = ev(payment(f"acct-{account}", ts, 25.0, status=status))
    assert isinstance(event, Payment)
    return msgspec.structs.replace(event, failure_reason=reason, channel=channel)


@cache
def bucket(
    b: int,
    *,
    payments: int = 400,
    network: float = 0.01,
    insufficient: float = 0.06,
    logins: int = 150,
    login_fail: float = 0.03,
    topups: int = 50,
    topup_fail: float = 0.04,
    resets: int = 2,
    seed: int = 0,
) -> tuple[Event, ...]:
    """One 5-minute bucket of honest traffic, in event-time order (cached: events are
    immutable)."""
    rng = random.Random(f"{seed}:{b}")
    out: list[Event] = []
    for _ in range(payments):
        u, account = rng.random(), rng.randrange(5000)
        reason = "network" if u < network else None
        if reason is None and u < network + insufficient:
            reason = "insufficient_balance"
        channel = "web" if rng.random() < 0.3 else "app"
        out.append(pay(account, when(b, rng.random()), reason, channel))
    for _ in range(logins):
        account = rng.randrange(5000)
        raw = login(
            f"acct-{account}",
            when(b, rng.random()),
            success=rng.random() >= login_fail,
            ip=home_ip(account),
        )
        out.append(ev(raw))
    for _ in range(topups):
        status = "failed" if rng.random() < topup_fail else "credited"
        out.append(
            ev(topup(f"acct-{rng.randrange(5000)}", when(b, rng.random()), 50, status=status))
        )
    for _ in range(resets):
        raw = security(
            f"acct-{rng.randrange(5000)}", when(b, rng.random()), "password_reset_requested"
        )
        out.append(ev(raw))
    out.sort(key=lambda e: (e.epoch, e.event_id))
    return tuple(out)


def steady(first: int, last: int, **kw: Any) -> list[Event]:
    return [e for b in range(first, last) for e in bucket(b, **kw)]


def closer(b: int) -> Event:
    """The first event of bucket ``b``: it closes the bucket before."""
    return ev(login("acct-closer", when(b), ip="192.0.2.1"))


def run(mon: PopulationMonitor, events: Iterable[Event]) -> list[Decision]:
    return [d for e in events for d in mon.observe(e, {})]


def per_event(mon: PopulationMonitor, events: Iterable[Event]) -> list[list[Decision]]:
    return [mon.observe(e, {}) for e in events]


def network_rate(events: Sequence[Event]) -> tuple[int, int]:
    pays = [e for e in events if isinstance(e, Payment)]
    return sum(e.failure_reason == "network" for e in pays), len(pays)


def assert_ops(d: Decision, scope: str, severity: str, rule_id: str) -> None:
    assert d.event_type == "ops"
    assert d.account_id == scope
    assert d.severity == severity
    assert d.rule_ids == [rule_id]
    assert d.actions == ["alert_support"]
    assert d.queue == "ops"
    assert not d.restricts
    assert d.learn_input is None
    assert d.is_alert


# --- rate spikes ---------------------------------------------------------------------


def test_network_failure_spike_raises_one_ops_alert_with_words_and_values():
    mon = PopulationMonitor()
    before = per_event(mon, steady(0, STEADY))
    assert [d for ds in before for d in ds] == []  # nothing during the steady part
    spike = bucket(STEADY, network=0.10)
    assert run(mon, spike) == []  # decided when the bucket closes
    [alert] = mon.observe(closer(STEADY + 1), {})

    assert_ops(alert, "ops:payment_failure:network", "medium", "ops_payment_failure_spike")
    start = start_of(STEADY)
    assert alert.event_id == f"ops:payment_failure:network:{int(start)}"
    assert alert.event_ts == start + BUCKET
    count, total = network_rate(spike)
    rates = [network_rate(bucket(b))[0] / network_rate(bucket(b))[1] for b in range(6, STEADY)]
    usual = sum(rates) / len(rates)  # the last 24 buckets
    [reason] = alert.reasons
    assert reason.code == "ops:payment_failure"
    assert reason.rule_id == "ops_payment_failure_spike"
    assert (count, total, round(usual, 4)) == (34, 400, 0.0091)
    assert reason.text == "payment failures (network) 8.5% of 400 payments in 5 min, usual 0.91%"
    v = reason.values
    assert (v["count"], v["total"]) == (count, total)
    assert v["rate"] == round(count / total, 4)
    assert v["baseline_rate"] == pytest.approx(usual, abs=1e-4)
    assert v["baseline_buckets"] == 24
    assert v["ratio"] >= 3 and v["z"] >= 4
    assert (v["bucket_start"], v["bucket_s"], v["ongoing_s"]) == (start, BUCKET, BUCKET)
    msgspec.json.encode(alert)  # storable as JSON (no inf / nan)
    # back to normal: no more alerts
    assert run(mon, steady(STEADY + 1, STEADY + 10)) == []


def test_a_smaller_rise_does_not_fire():
    mon = PopulationMonitor()
    assert run(mon, [*steady(0, STEADY), *bucket(STEADY, network=0.025), closer(STEADY + 1)]) == []


def test_spike_below_min_events_does_not_fire():
    small = {"payments": 100, "logins": 20, "topups": 5}
    events = [*steady(0, STEADY, **small), *bucket(STEADY, **small, network=0.15), closer(99)]
    assert 10 <= network_rate(bucket(STEADY, **small, network=0.15))[0] < 20
    assert run(PopulationMonitor(), events) == []
    # the same stream on a sampled partition with a lower minimum count fires
    [alert] = run(PopulationMonitor(min_events=5), events)
    assert alert.account_id == "ops:payment_failure:network"


def test_nothing_fires_during_warm_up():
    early = [*steady(0, 3), *bucket(3, network=0.10), *steady(4, 12)]
    assert run(PopulationMonitor(warmup_buckets=6), early) == []
    later = [*steady(0, 8), *bucket(8, network=0.10), closer(9)]
    [alert] = run(PopulationMonitor(warmup_buckets=6), later)
    assert alert.reasons[0].values["baseline_buckets"] == 8


def test_a_failure_reason_never_seen_before_is_compared_with_zero():
    mon = PopulationMonitor()
    run(mon, steady(0, 10))
    spike = [
        *bucket(10),
        *(pay(i, when(10, i / 100), "merchant_unsupported") for i in range(30)),
    ]
    [alert] = run(mon, [*spike, closer(11)])
    assert alert.account_id == "ops:payment_failure:merchant_unsupported"
    assert alert.reasons[0].values["baseline_rate"] == 0.0
    assert alert.reasons[0].values["ratio"] is None
    assert alert.reasons[0].text.endswith("usual 0%")


def test_a_rise_inside_the_usual_spread_does_not_fire():
    # network failures swing between 0.5% and 5% per bucket: a 9% bucket is 3x the mean
    # but inside 4 standard deviations
    noisy = [e for b in range(STEADY) for e in bucket(b, network=0.05 if b % 2 else 0.005)]
    events = [*noisy, *bucket(STEADY, network=0.09), closer(STEADY + 1)]
    assert run(PopulationMonitor(), events) == []
    [alert] = run(PopulationMonitor(z=2.0), events)
    assert alert.account_id == "ops:payment_failure:network"
    assert alert.reasons[0].values["ratio"] >= 3
    assert 2 <= alert.reasons[0].values["z"] < 4


def exactly(b: int, failures: int, payments: int = 100) -> list[Event]:
    return [
        pay(i, when(b, i / payments), "network" if i < failures else None) for i in range(payments)
    ]


def test_a_flat_baseline_does_not_turn_sampling_noise_into_an_alert():
    # exactly 1 failure in 100 payments every bucket: the spread is 0, the noise is not
    flat = [e for b in range(STEADY) for e in exactly(b, 1)]
    mon = PopulationMonitor(min_events=3)
    assert run(mon, [*flat, *exactly(STEADY, 4), closer(STEADY + 1)]) == []
    alerts = run(PopulationMonitor(min_events=3), [*flat, *exactly(STEADY, 6), closer(99)])
    # all of them on the app: the channel's failure rate rose the same way
    assert [a.account_id for a in alerts] == [
        "ops:payment_failure:network",
        "ops:payment_failure_channel:app",
    ]
    assert alerts[0].reasons[0].values["baseline_std"] == pytest.approx(0.00995, abs=1e-4)


def test_failure_reasons_beyond_the_cap_are_watched_as_other():
    mon = PopulationMonitor(max_reasons=2)  # network and insufficient_balance
    run(mon, steady(0, 10))
    odd = [pay(i, when(10, i / 100), f"gateway-{i % 7}") for i in range(30)]
    [alert] = run(mon, [*bucket(10), *odd, closer(11)])
    assert alert.account_id == "ops:payment_failure:other"
    assert alert.reasons[0].values["count"] == 30


def test_a_long_incident_alerts_once_per_cooldown():
    mon = PopulationMonitor(cooldown_s=1800.0)
    run(mon, steady(0, STEADY))
    incident = [e for b in range(STEADY, STEADY + 20) for e in bucket(b, network=0.10)]
    alerts = run(mon, [*incident, closer(STEADY + 20)])
    assert [a.account_id for a in alerts] == ["ops:payment_failure:network"] * 4
    assert [a.event_ts - alerts[0].event_ts for a in alerts] == [0.0, 1800.0, 3600.0, 5400.0]
    assert len({a.event_id for a in alerts}) == 4
    # the incident stays out of the baseline, and the reminders say how long it has lasted
    assert alerts[-1].reasons[0].values["baseline_rate"] < 0.015
    assert alerts[1].reasons[0].text.endswith("(for 35 min)")
    assert alerts[1].reasons[0].values["ongoing_s"] == 7 * BUCKET


def test_an_incident_longer_than_the_baseline_becomes_the_new_normal():
    mon = PopulationMonitor(baseline_buckets=12, cooldown_s=0.0)
    run(mon, steady(0, 12))
    alerts = run(mon, [e for b in range(12, 60) for e in bucket(b, network=0.10)])
    assert 12 <= len(alerts) < 24
    assert max(a.event_ts for a in alerts) < start_of(40)


def test_topups_not_credited_spike():
    mon = PopulationMonitor()
    run(mon, steady(0, STEADY))
    spike = bucket(STEADY, topups=60, topup_fail=0.5)
    [alert] = run(mon, [*spike, closer(STEADY + 1)])
    assert_ops(alert, "ops:topup_failure", "medium", "ops_topup_failure_spike")
    failed = sum(isinstance(e, Topup) and e.status == "failed" for e in spike)
    assert alert.reasons[0].values["count"] == failed
    assert alert.reasons[0].text.startswith(
        f"failed top-ups {failed / 60:.0%} of 60 top-ups in 5 min"
    )


def test_pending_topups_spike():
    mon = PopulationMonitor()
    run(mon, steady(0, STEADY))
    pending = [ev(topup(f"p{i}", when(STEADY, i / 40), 50, status="pending")) for i in range(25)]
    [alert] = run(mon, [*bucket(STEADY), *pending, closer(STEADY + 1)])
    assert_ops(alert, "ops:topup_pending", "medium", "ops_topup_pending_spike")


def test_password_reset_spike():
    mon = PopulationMonitor()
    run(mon, steady(0, STEADY))
    spike = bucket(STEADY, resets=60)
    [alert] = run(mon, [*spike, closer(STEADY + 1)])
    assert_ops(alert, "ops:password_reset", "medium", "ops_password_reset_spike")
    assert alert.reasons[0].values["count"] == 60
    assert alert.reasons[0].values["total"] == len(spike)
    assert alert.reasons[0].text == (
        "password-reset requests 60 in 5 min (9.1% of 660 events), usual 0.33%"
    )


def test_failed_login_and_channel_spikes():
    mon = PopulationMonitor()
    run(mon, steady(0, STEADY))
    web_outage = [pay(i, when(STEADY, i / 90), "network", channel="web") for i in range(90)]
    spike = [*bucket(STEADY, login_fail=0.4), *web_outage]
    alerts = run(mon, [*spike, closer(STEADY + 1)])
    scopes = [a.account_id for a in alerts]
    assert scopes == [
        "ops:payment_failure:network",
        "ops:payment_failure_channel:web",
        "ops:login_failure",
    ]
    web = alerts[1].reasons[0]
    assert web.rule_id == "ops_payment_failure_channel_spike"
    assert web.text.startswith("payment failures on web ")
    assert " web payments in 5 min, usual " in web.text


# --- credential stuffing -------------------------------------------------------------


def stuffing(b: int, ips: Sequence[str], accounts: int) -> list[Event]:
    """Failed logins on ``accounts`` different accounts within bucket ``b``, cycling ips."""
    return [
        ev(login(f"victim-{i}", when(b, 0.9 * i / accounts), success=False, ip=ips[i % len(ips)]))
        for i in range(accounts)
    ]


def test_one_ip_failing_on_many_accounts_is_credential_stuffing():
    mon = PopulationMonitor()
    alerts = run(mon, [*steady(0, 2), *stuffing(2, ["203.0.113.7"], 10), *steady(3, 4)])
    [alert] = alerts  # the /24 is explained by the one IP: no second alert
    assert_ops(alert, "ops:ip:203.0.113.7", "high", "ops_credential_stuffing_ip")
    assert alert.event_id == f"ops:ip:203.0.113.7:{int(start_of(2))}"
    assert alert.event_ts == start_of(3)
    reason = alert.reasons[0]
    assert reason.text == (
        "credential stuffing: failed logins on 10 different accounts "
        "from one IP (203.0.113.7) in 10 min"
    )
    assert reason.values["ip"] == "203.0.113.7"
    assert reason.values["accounts"] == 10
    assert reason.values["accounts_sample"] == [f"victim-{i}" for i in (0, 1, 2, 3, 4)]
    assert reason.values["window_s"] == 600.0


def test_many_failures_on_one_account_is_not_stuffing():
    mon = PopulationMonitor()
    brute = [
        ev(login("victim", when(2, i / 12), success=False, ip="203.0.113.7")) for i in range(10)
    ]
    assert run(mon, [*steady(0, 2), *brute, *steady(3, 4)]) == []


def test_stuffing_needs_enough_accounts_within_the_window():
    mon = PopulationMonitor(stuffing_accounts=8, stuffing_window_s=600.0)
    slow = [  # 10 accounts, one every 3 minutes: never 8 within 10 minutes
        ev(login(f"v{i}", at(T0, minutes=3 * i), success=False, ip="203.0.113.7"))
        for i in range(10)
    ]
    assert run(mon, [*slow, closer(20)]) == []
    assert run(PopulationMonitor(stuffing_accounts=3), [*slow, closer(20)]) != []


def test_rotating_ips_in_one_subnet_is_credential_stuffing():
    mon = PopulationMonitor()
    ips = [f"203.0.113.{10 + i}" for i in range(12)]
    [alert] = run(mon, [*steady(0, 2), *stuffing(2, ips, 12), *steady(3, 4)])
    assert_ops(alert, "ops:subnet:203.0.113.0/24", "high", "ops_credential_stuffing_subnet")
    assert alert.reasons[0].text == (
        "credential stuffing: failed logins on 12 different accounts "
        "from 12 IPs in 203.0.113.0/24 in 10 min"
    )
    assert alert.reasons[0].values["ips"] == 12


def test_ipv6_subnet_is_a_64():
    ips = [f"2001:db8:0:1::{i + 1:x}" for i in range(9)]
    [alert] = run(PopulationMonitor(), [*stuffing(0, ips, 9), closer(1)])
    assert alert.account_id == "ops:subnet:2001:db8:0:1::/64"


def test_ignored_ips_and_bad_addresses_are_not_tracked():
    mon = PopulationMonitor(ignore_ips={"203.0.113.7", "203.0.113.0/24"})
    assert run(mon, [*stuffing(0, ["203.0.113.7"], 10), closer(1)]) == []
    assert run(PopulationMonitor(), [*stuffing(0, ["not-an-ip"], 10), closer(1)]) == []


def test_alerts_of_one_bucket_come_in_a_fixed_order():
    a, b = stuffing(0, ["203.0.113.9"], 10), stuffing(0, ["192.0.2.200"], 10)
    first = run(PopulationMonitor(), [*a, *b, closer(1)])
    second = run(PopulationMonitor(), [*b, *a, closer(1)])
    assert [d.account_id for d in first] == ["ops:ip:192.0.2.200", "ops:ip:203.0.113.9"]
    assert first == second


def test_ongoing_stuffing_alerts_once_per_cooldown():
    mon = PopulationMonitor(cooldown_s=1800.0)
    attack = [e for b in range(12) for e in stuffing(b, ["203.0.113.7"], 10)]
    alerts = run(mon, [*attack, closer(12)])
    assert [a.event_ts - start_of(0) for a in alerts] == [300.0, 2100.0]


# --- the detector contract -----------------------------------------------------------


def scenario() -> list[Event]:
    return [
        *steady(0, STEADY),
        *bucket(STEADY, network=0.10, resets=60),
        *stuffing(STEADY + 1, ["203.0.113.7"], 10),
        *stuffing(STEADY + 1, [f"198.51.100.{i}" for i in range(9)], 9),
        *steady(STEADY + 1, STEADY + 4),
    ]


@pytest.fixture(scope="module")
def expected() -> list[list[Decision]]:
    out = per_event(PopulationMonitor(), scenario())
    assert [d.account_id for ds in out for d in ds] == [
        "ops:payment_failure:network",
        "ops:password_reset",
        "ops:login_failure",  # the 19 stuffing attempts also lift the population's rate
        "ops:ip:203.0.113.7",
        "ops:subnet:198.51.100.0/24",
    ]
    return out


def test_same_stream_same_alerts(expected):
    assert per_event(PopulationMonitor(), scenario()) == expected


def test_pickled_monitor_continues_identically(expected):
    events = scenario()
    mon = PopulationMonitor()
    half = len(events) // 2 + len(bucket(0)) * 5 // 2  # inside a bucket
    head = per_event(mon, events[:half])
    restored = pickle.loads(pickle.dumps(mon))
    tail = per_event(restored, events[half:])
    assert head + tail == expected
    assert per_event(mon, events[half:]) == tail  # the original is unaffected


def test_copied_monitor_is_independent(expected):
    events = scenario()
    mon = PopulationMonitor()
    per_event(mon, events[:1000])
    snapshot = copy.deepcopy(mon)
    assert per_event(mon, events[1000:]) == per_event(snapshot, events[1000:])


def test_shuffled_order_within_a_bucket_gives_the_same_alerts(expected):
    events = scenario()
    by_bucket: dict[int, list[Event]] = {}
    for e in events:
        by_bucket.setdefault(int(e.epoch // BUCKET), []).append(e)
    rng = random.Random(5)
    shuffled: list[Event] = []
    for b in sorted(by_bucket):
        chunk = by_bucket[b][:]
        rng.shuffle(chunk)
        shuffled.extend(chunk)
    assert shuffled != events
    assert run(PopulationMonitor(), shuffled) == [d for ds in expected for d in ds]


def test_late_events_are_counted_and_ignored():
    mon = PopulationMonitor()
    run(mon, steady(0, STEADY))
    late = [pay(i, when(STEADY - 2, 0.5), "network") for i in range(50)]
    assert run(mon, [*bucket(STEADY), *late, closer(STEADY + 1)]) == []
    assert mon.late_events == 50


def test_observe_does_not_mutate_its_inputs():
    mon = PopulationMonitor(stuffing_accounts=2)
    features: dict[str, Any] = {"type": "login", "failed_logins_10m": 3, "tags": ["x"]}
    for e in [*stuffing(0, ["203.0.113.7"], 5), *bucket(1)[:50], closer(2)]:
        raw, before = msgspec.json.encode(e), copy.deepcopy(features)
        mon.observe(e, features)
        assert msgspec.json.encode(e) == raw
        assert features == before


def test_ops_alerts_never_restrict(expected):
    alerts = [d for ds in expected for d in ds]
    assert {d.severity for d in alerts} == {"medium", "high"}
    assert all(not d.restricts and d.actions == ["alert_support"] for d in alerts)


def test_memory_stays_bounded_under_100k_distinct_ips():
    mon = PopulationMonitor(max_ips=2_000, max_subnets=1_000, max_reasons=8)
    template = ev(login("a", T0, success=False))
    assert isinstance(template, Login)
    for i in range(100_000):
        ip = f"{11 + i % 200}.{(i // 200) % 256}.{(i // 51_200) % 256}.{1 + i % 250}"
        mon.observe(
            msgspec.structs.replace(
                template,
                account_id=f"a{i % 5000}",
                ip=ip,
                ts=template.ts + timedelta(seconds=i * 0.001),  # all in one bucket
            ),
            {},
        )
        if i % 5_000 == 0:
            assert len(mon._ips) <= 2_000 and len(mon._subnets) <= 1_000
    assert len(mon._ips) == 2_000 and len(mon._subnets) == 1_000
    # one IP on 1,000 accounts keeps at most max_accounts_per_key of them
    for i in range(1_000):
        mon.observe(msgspec.structs.replace(template, account_id=f"b{i}", ip="203.0.113.7"), {})
    assert len(mon._ips["203.0.113.7"].accounts) == mon.max_accounts_per_key == 32
    # free-text failure reasons fold into "other" after max_reasons labels
    for i in range(100):
        mon.observe(pay(i, T0, f"reason-{i}"), {})
    assert list(mon._reasons) == [*(f"reason-{i}" for i in range(8)), "other"]
    # and everything tracked for stuffing expires with event time
    mon.observe(closer(10), {})
    mon.observe(closer(11), {})
    assert len(mon._ips) == len(mon._subnets) == 0
    assert len(pickle.dumps(mon)) < 20_000


@pytest.mark.parametrize(
    "kw",
    [
        {"bucket_s": 0},
        {"warmup_buckets": 1},
        {"warmup_buckets": 30},
        {"ratio": 0.5},
        {"min_events": 0},
        {"stuffing_accounts": 1},
        {"max_accounts_per_key": 3},
    ],
)
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError):
        PopulationMonitor(**kw)


def test_partition_is_named_in_the_values():
    mon = PopulationMonitor(partition=3)
    [alert] = run(mon, [*stuffing(0, ["203.0.113.7"], 10), closer(1)])
    assert alert.reasons[0].values["partition"] == 3
