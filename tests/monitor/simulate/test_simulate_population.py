"""The honest population: determinism, ordering, contract round-trip, realistic habits."""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from monitor.events import Event, Login, Payment, Security, Topup, decode, encode
from monitor.simulate import Label, SimConfig, generate
from monitor.simulate.population import CITIES, local_hour

CFG = SimConfig(accounts=300, days=2.0, seed=11, attack_share=0.0)
CITY = {c.name: c for c in CITIES}


@pytest.fixture(scope="module")
def honest() -> list[tuple[Event, Label | None]]:
    return list(generate(CFG))


def test_same_seed_gives_byte_identical_stream(honest):
    again = [encode(e) for e, _ in generate(CFG)]
    assert again == [encode(e) for e, _ in honest]


def test_other_seed_gives_other_stream(honest):
    other = [encode(e) for e, _ in generate(SimConfig(accounts=300, days=2.0, seed=12))]
    assert other[:50] != [encode(e) for e, _ in honest][:50]


def test_stream_is_time_ordered_with_unique_ids_in_the_period(honest):
    times = [e.ts for e, _ in honest]
    assert times == sorted(times)
    assert all(t.utcoffset() == timedelta(0) for t in times)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    assert start <= times[0] and times[-1] < start + timedelta(days=2, hours=1)
    ids = [e.event_id for e, _ in honest]
    assert len(set(ids)) == len(ids)


def test_every_event_round_trips_through_the_contract(honest):
    for event, _ in honest:
        assert decode(encode(event)) == event


def test_honest_only_config_has_no_labels(honest):
    assert all(label is None for _, label in honest)


def test_start_is_configurable():
    start = datetime(2025, 6, 1, 12, tzinfo=UTC)
    first, _ = next(iter(generate(SimConfig(accounts=20, days=1, start=start))))
    assert start <= first.ts < start + timedelta(days=1)


def test_volume_for_a_thousand_accounts_a_day():
    began = time.perf_counter()
    n = sum(1 for _ in generate(SimConfig(accounts=1000, days=1.0)))
    assert 5_000 <= n <= 20_000
    assert time.perf_counter() - began < 5


def test_generation_is_lazy():
    # Ten years of 2,000 accounts would be millions of events; the first few come at once.
    began = time.perf_counter()
    head = list(itertools.islice(generate(SimConfig(accounts=2000, days=3650)), 100))
    assert len(head) == 100
    assert time.perf_counter() - began < 5


def test_nights_are_quiet(honest):
    hours = Counter(
        local_hour(e.epoch, CITY[e.geo.city]) for e, _ in honest if e.geo and e.geo.city
    )
    night = sum(hours[h] for h in range(1, 6))
    assert night / sum(hours.values()) < 0.08
    assert hours[20] > 4 * hours[3]


def test_accounts_have_home_usual_devices_and_channels(honest):
    by_account: defaultdict[str, list[Event]] = defaultdict(list)
    for e, _ in honest:
        by_account[e.account_id].append(e)
    assert all(a.startswith("acct-") for a in by_account)
    busy = [evs for evs in by_account.values() if len(evs) >= 10]
    assert len(busy) > 50
    for evs in busy:
        devices = Counter(e.device_id for e in evs)
        assert devices.most_common(1)[0][1] >= len(evs) // 2  # a primary device
        cities = Counter(e.geo.city for e in evs if e.geo)
        assert cities.most_common(1)[0][1] >= len(evs) // 3  # a home city
    channels = Counter(e.channel for e, _ in honest)
    assert channels["app"] > channels["web"] > channels["api"] > 0


def test_honest_mistakes_happen(honest):
    failures = Counter(
        (e.type, e.failure_reason) for e, _ in honest if getattr(e, "failure_reason", None)
    )
    assert failures["login", "bad_password"] > 0
    assert failures["payment", "insufficient_balance"] > 0
    assert failures["topup", "card_declined"] + failures["topup", "source_unavailable"] > 0
    # A mistyped password is followed by a successful login on the same account.
    last_failed: dict[str, bool] = {}
    recovered = 0
    for e, _ in honest:
        if isinstance(e, Login):
            if e.success and last_failed.get(e.account_id):
                recovered += 1
            last_failed[e.account_id] = not e.success
    assert recovered > 0


def test_honest_payments_and_topups_look_like_money(honest):
    payments = [e for e, _ in honest if isinstance(e, Payment)]
    topups = [e for e, _ in honest if isinstance(e, Topup)]
    assert {p.kind for p in payments} == {"purchase", "transfer", "withdrawal"}
    assert all(p.amount > 0 and len(p.currency) == 3 for p in payments)
    assert sum(p.status == "succeeded" for p in payments) > 0.85 * len(payments)
    assert sum(t.status == "credited" for t in topups) > 0.9 * len(topups)
    assert len({p.currency for p in payments}) >= 5


def test_some_accounts_travel_and_some_get_a_new_phone():
    stream = [e for e, _ in generate(SimConfig(accounts=400, days=7, seed=5, attack_share=0))]
    home: dict[str, str] = {}
    for e in stream:
        home.setdefault(e.account_id, (e.geo.city if e.geo else None) or "")
    abroad = {e.account_id for e in stream if e.geo and e.geo.city != home[e.account_id]}
    assert 0.03 * 400 < len(abroad) < 0.5 * 400
    bound = [e for e in stream if isinstance(e, Security) and e.action == "device_bound"]
    assert bound


@pytest.mark.parametrize(
    "kwargs",
    [
        {"accounts": 0},
        {"days": 0},
        {"attack_share": 1.5},
        {"scenarios": ("phishing",)},
        {"start": datetime(2026, 1, 1)},  # naive
    ],
)
def test_invalid_config_is_refused(kwargs):
    with pytest.raises(ValueError):
        SimConfig(**kwargs)
