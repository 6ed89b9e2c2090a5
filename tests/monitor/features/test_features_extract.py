"""Per-account features by event time: windows, novelty, geography, amounts, "time since"."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.events import DecodeError, Event, decode, encode
from monitor.features import FEATURES, AccountState
from monitor.features import extract as _extract
from monitor.features.state import (
    COUNTRY,
    DEVICE,
    HORIZON,
    IP,
    LIMITS,
    LOGIN_FAILED,
    MAX_MARKS,
    PAYEE,
    SOURCE,
)
from monitor.features.table import NEVER
from monitor.testing import LAGOS, SHANGHAI, at, login, payment, security, topup

T0 = "2026-01-01T00:00:00Z"
MAX_COUNTRIES, MAX_DEVICES, MAX_IPS = LIMITS[COUNTRY], LIMITS[DEVICE], LIMITS[IP]
MAX_PAYEES, MAX_SOURCES = LIMITS[PAYEE], LIMITS[SOURCE]
KINDS = {"devices": DEVICE, "ips": IP, "countries": COUNTRY}


def extract(state: AccountState, event: Event) -> dict[str, Any]:
    return _extract(state, event, event.epoch)


PY_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


def ev(raw: bytes) -> Event:
    event = decode(raw)
    assert not isinstance(event, DecodeError), event
    return event


def feed(state: AccountState, *raws: bytes) -> list[dict[str, Any]]:
    return [extract(state, ev(r)) for r in raws]


def failed_login(minutes: float = 0.0, **kw: Any) -> bytes:
    return login("a", at(T0, minutes=minutes), success=False, **kw)


def geo(country: str, lat: float = 10.0, lon: float = 10.0) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "country": country, "city": f"city-{country}"}


# --- the feature table and the extractor agree ---------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        login("a", T0),
        payment("a", T0, 10.0),
        topup("a", T0, 10.0),
        security("a", T0, "password_changed"),
    ],
    ids=["login", "payment", "topup", "security"],
)
def test_extract_provides_every_table_name_for_its_event_type_with_its_type(raw):
    state = AccountState()
    feed(state, login("a", at(T0, minutes=-5)))  # some history, so nothing is "first"
    event = ev(raw)
    f = extract(state, event)
    declared = {n for n, spec in FEATURES.items() if event.type in spec.event_types}
    assert declared <= f.keys()
    for name in declared:
        value = f[name]
        want = PY_TYPES[FEATURES[name].type]
        assert isinstance(value, want), (name, value)
        if want is not bool:
            assert not isinstance(value, bool), (name, value)


def test_every_event_of_a_type_gets_every_name_set_in_one_order():
    """extract() fills a copy of its type's first feature dict: no name may be left
    from the copy (None) nor differ from event to event, whatever path an event takes."""
    from monitor.simulate import SimConfig, generate

    first: dict[str, list[str]] = {}
    states: dict[str, AccountState] = {}
    for event, _ in generate(SimConfig(accounts=300, days=1.0, seed=5)):
        state = states.setdefault(event.account_id, AccountState())
        f = extract(state, event)
        names = first.setdefault(event.type, list(f))
        assert list(f) == names, event
        left = [n for n, v in f.items() if v is None and not FEATURES[n].optional]
        assert not left, (event, left)
    assert set(first) == {"login", "payment", "topup", "security"}


def test_extract_does_not_mutate_the_event():
    event = ev(payment("a", T0, 42.0, kind="transfer", payee_id="p9"))
    before = encode(event)
    extract(AccountState(), event)
    assert encode(event) == before
    assert event == ev(before)


# --- windows by event time -------------------------------------------------------------


def test_failed_logins_count_in_ten_minutes_and_one_hour():
    state = AccountState()
    feats = feed(state, *(failed_login(m) for m in range(6)))
    assert [f["failed_logins_10m"] for f in feats] == [1, 2, 3, 4, 5, 6]
    assert [f["failed_logins_1h"] for f in feats] == [1, 2, 3, 4, 5, 6]


def test_successful_logins_are_not_counted_as_failures():
    state = AccountState()
    feed(state, failed_login(0))
    (f,) = feed(state, login("a", at(T0, minutes=1), success=True))
    assert f["failed_logins_10m"] == 1


def test_ten_minute_window_excludes_an_event_exactly_ten_minutes_old():
    state = AccountState()
    feed(state, failed_login(0))
    (inside,) = feed(state, login("a", at(T0, seconds=599), success=False))
    assert inside["failed_logins_10m"] == 2
    (edge,) = feed(state, login("a", at(T0, seconds=600), success=False))
    # (ts - 10 min, ts]: the first failure (exactly 600 s old) has left the window
    assert edge["failed_logins_10m"] == 2
    assert edge["failed_logins_1h"] == 3


def test_one_hour_window_boundary():
    state = AccountState()
    feed(state, failed_login(0), failed_login(30))
    (f,) = feed(state, failed_login(59.99))
    assert f["failed_logins_1h"] == 3
    assert f["failed_logins_10m"] == 1
    (g,) = feed(state, failed_login(60))
    assert g["failed_logins_1h"] == 3  # 0 min is exactly an hour old: out
    (h,) = feed(state, failed_login(95))
    assert h["failed_logins_1h"] == 3  # 59.99, 60, 95


def test_windows_use_event_time_not_arrival_order():
    state = AccountState()
    # six failures spread over an hour arrive in a burst: they must not count as a burst
    feats = feed(state, *(failed_login(m) for m in (0, 12, 24, 36, 48, 60)))
    assert [f["failed_logins_10m"] for f in feats] == [1, 1, 1, 1, 1, 1]
    # a late failure from half an hour earlier counts in its own window, not the current one
    (late,) = feed(state, failed_login(30))
    assert late["failed_logins_10m"] == 2  # 24 and 30
    assert late["failed_logins_1h"] == 4  # 0, 12, 24 and 30
    assert state.count(LOGIN_FAILED, state.times[-1], 600.0) == 1


def test_late_event_inside_the_window_is_counted():
    state = AccountState()
    feed(state, failed_login(0), failed_login(5))
    (late,) = feed(state, failed_login(3))
    assert late["failed_logins_10m"] == 2  # at 3 min: failures at 0 and 3
    assert list(state.times) == sorted(state.times)
    assert state.count(LOGIN_FAILED, state.times[-1], 600.0) == 3


def test_marks_keep_at_most_their_horizon_and_cap():
    state = AccountState()
    for ts in range(0, 200_000, 600):
        state.mark(float(ts), LOGIN_FAILED)
    assert state.times[0] >= state.times[-1] - HORIZON
    assert len(state.times) == len(state.marks) == len(state.amounts) == 145
    flood = AccountState()
    for ts in range(5_000):
        flood.mark(float(ts), LOGIN_FAILED, 1.0)
    assert len(flood.times) == len(flood.marks) == len(flood.amounts) == MAX_MARKS
    assert flood.times[-1] == 4_999.0


def _brute(times: list[float], ts: float, width: float) -> int:
    return sum(1 for x in times if ts - width < x <= ts)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3 * 3600), min_size=1, max_size=25).flatmap(
        lambda xs: st.tuples(st.just(xs), st.permutations(xs))
    )
)
def test_out_of_order_arrival_gives_the_same_window_counts(pair):
    secs, shuffled = pair
    sorted_state, shuffled_state = AccountState(), AccountState()
    for s in sorted(secs):
        extract(sorted_state, ev(login("a", at(T0, seconds=s), success=False)))
    for s in shuffled:
        extract(shuffled_state, ev(login("a", at(T0, seconds=s), success=False)))
    latest = ev(login("a", at(T0, seconds=max(secs)))).epoch
    times = [ev(login("a", at(T0, seconds=s))).epoch for s in secs]
    for width in (600.0, 3600.0):
        want = _brute(times, latest, width)
        assert sorted_state.count(LOGIN_FAILED, latest, width) == want
        assert shuffled_state.count(LOGIN_FAILED, latest, width) == want
    assert sorted_state.times == shuffled_state.times
    assert sorted_state.marks == shuffled_state.marks


# --- novelty ------------------------------------------------------------------------


def test_nothing_is_new_on_the_very_first_event():
    (f,) = feed(AccountState(), login("a", T0, device_id="d1", ip="1.1.1.1", geo=SHANGHAI))
    assert (f["new_device"], f["new_ip"], f["new_country"]) == (False, False, False)
    assert f["account_events"] == 0


def test_unseen_values_are_new_and_seen_values_are_not():
    state = AccountState()
    feed(state, login("a", T0, device_id="d1", ip="1.1.1.1", geo=SHANGHAI))
    (f,) = feed(state, login("a", at(T0, minutes=1), device_id="d2", ip="2.2.2.2", geo=LAGOS))
    assert (f["new_device"], f["new_ip"], f["new_country"]) == (True, True, True)
    assert f["account_events"] == 1
    (g,) = feed(state, login("a", at(T0, minutes=2), device_id="d1", ip="2.2.2.2", geo=SHANGHAI))
    assert (g["new_device"], g["new_ip"], g["new_country"]) == (False, False, False)
    (h,) = feed(state, login("a", at(T0, minutes=3), device_id="d2", ip="3.3.3.3", geo=LAGOS))
    assert (h["new_device"], h["new_ip"], h["new_country"]) == (False, True, False)


def test_novelty_is_per_account_state():
    a, b = AccountState(), AccountState()
    feed(a, login("a", T0, device_id="d1"))
    feed(b, login("b", T0, device_id="d9"))
    (f,) = feed(b, login("b", at(T0, minutes=1), device_id="d1"))
    assert f["new_device"] is True


def test_new_payee_false_on_first_payment_then_true_for_unseen():
    state = AccountState()
    feeds = feed(
        state,
        payment("a", T0, 10.0, payee_id="p1"),
        payment("a", at(T0, minutes=1), 10.0, payee_id="p1"),
        payment("a", at(T0, minutes=2), 10.0, payee_id="p2"),
        payment("a", at(T0, minutes=3), 10.0, payee_id="p2"),
    )
    assert [f["new_payee"] for f in feeds] == [False, False, True, False]


def test_new_source_false_on_first_topup_then_true_for_unseen():
    state = AccountState()
    feeds = feed(
        state,
        login("a", at(T0, minutes=-1)),  # history, but no top-up yet
        topup("a", T0, 100.0, source_id="card-1"),
        topup("a", at(T0, minutes=1), 100.0, source_id="card-1"),
        topup("a", at(T0, minutes=2), 100.0, source_id="card-2", status="failed"),
        topup("a", at(T0, minutes=3), 100.0, source_id="card-3"),
        topup("a", at(T0, minutes=4), 100.0, source_id="card-2"),
    )
    assert [f["new_source"] for f in feeds[1:]] == [False, False, True, True, False]


def test_last_topup_new_source_follows_the_last_credited_topup():
    state = AccountState()
    feed(state, topup("a", T0, 100.0, source_id="card-1"))
    (known,) = feed(state, payment("a", at(T0, minutes=1), 90.0, kind="withdrawal"))
    assert known["last_topup_new_source"] is False
    feed(state, topup("a", at(T0, minutes=2), 900.0, source_id="card-9"))
    (new,) = feed(state, payment("a", at(T0, minutes=3), 800.0, kind="withdrawal"))
    assert new["last_topup_new_source"] is True
    assert new["last_topup_amount"] == 900.0
    feed(state, topup("a", at(T0, minutes=4), 50.0, source_id="card-8", status="pending"))
    (pending,) = feed(state, payment("a", at(T0, minutes=5), 10.0))
    assert pending["last_topup_amount"] == 900.0  # a pending top-up is not "the last top-up"
    (none,) = feed(AccountState(), payment("b", T0, 10.0))
    assert none["last_topup_new_source"] is False


def test_source_lru_never_exceeds_its_limit():
    state = AccountState()
    for i in range(MAX_SOURCES * 3):
        feed(state, topup("a", at(T0, minutes=i), 10.0, source_id=f"card-{i}"))
        assert state.count_known(SOURCE) <= MAX_SOURCES
    assert state.count_known(SOURCE) == MAX_SOURCES
    assert len(state.seen) == 4 * MAX_SOURCES  # 4-byte keys, sources only
    assert state.knows(SOURCE, f"card-{MAX_SOURCES * 3 - 1}")
    assert not state.knows(SOURCE, "card-0")


@pytest.mark.parametrize(
    ("attr", "limit"),
    [("devices", MAX_DEVICES), ("ips", MAX_IPS), ("countries", MAX_COUNTRIES)],
)
def test_novelty_lrus_never_exceed_their_limit(attr, limit):
    state = AccountState()
    for i in range(limit * 3):
        country = "A" + chr(ord("A") + i % 26) if attr == "countries" else "CN"
        raw = login(
            "a",
            at(T0, minutes=i),
            device_id=f"d{i}" if attr == "devices" else "d0",
            ip=f"10.0.0.{i}" if attr == "ips" else "10.0.0.0",
            geo=geo(country),
        )
        feed(state, raw)
        assert state.count_known(KINDS[attr]) <= limit
    assert state.count_known(KINDS[attr]) == min(limit, 26 if attr == "countries" else limit * 3)


def test_payee_lru_never_exceeds_its_limit():
    state = AccountState()
    for i in range(MAX_PAYEES * 2):
        feed(state, payment("a", at(T0, minutes=i), 5.0, payee_id=f"p{i}"))
        assert state.count_known(PAYEE) <= MAX_PAYEES
    assert [state.knows(PAYEE, f"p{i}") for i in range(MAX_PAYEES * 2)] == [False] * MAX_PAYEES + [
        True
    ] * MAX_PAYEES


def test_lru_keeps_recently_seen_devices_and_evicts_the_oldest():
    state = AccountState()
    feed(state, login("a", T0, device_id="home"))
    for i in range(1, MAX_DEVICES * 2):
        # the home device comes back between every new one, so it is never the oldest
        feed(state, login("a", at(T0, minutes=2 * i), device_id=f"d{i}"))
        feed(state, login("a", at(T0, minutes=2 * i + 1), device_id="home"))
    assert state.knows(DEVICE, "home")
    assert not state.knows(DEVICE, "d1")
    (f,) = feed(state, login("a", at(T0, hours=5), device_id="d1"))
    assert f["new_device"] is True  # evicted, so new again
    (g,) = feed(state, login("a", at(T0, hours=5, minutes=1), device_id="home"))
    assert g["new_device"] is False


# --- geography -----------------------------------------------------------------------


def test_impossible_travel_shanghai_then_lagos_in_forty_minutes():
    state = AccountState()
    (first,) = feed(state, login("a", T0, geo=SHANGHAI))
    assert (first["distance_km"], first["speed_kmh"], first["prev_city"]) == (0.0, 0.0, "")
    (f,) = feed(state, login("a", at(T0, minutes=40), geo=LAGOS, device_id="dx"))
    assert f["distance_km"] > 10_000
    assert f["speed_kmh"] > 10_000
    assert f["speed_kmh"] == pytest.approx(f["distance_km"] / (40 / 60))
    assert f["prev_city"] == "Shanghai"
    assert f["country"] == "NG"


def test_travel_speed_has_a_one_minute_floor():
    state = AccountState()
    feed(state, login("a", T0, geo=geo("CN", 31.0, 121.0)))
    (f,) = feed(state, login("a", at(T0, seconds=1), geo=geo("CN", 31.1, 121.0)))
    assert 10 < f["distance_km"] < 12
    assert f["speed_kmh"] == pytest.approx(f["distance_km"] * 60)


def test_late_located_event_does_not_move_the_last_position():
    state = AccountState()
    feed(state, login("a", T0, geo=SHANGHAI))
    feed(state, login("a", at(T0, minutes=-30), geo=LAGOS))  # arrives late
    (f,) = feed(state, login("a", at(T0, minutes=5), geo=SHANGHAI))
    assert f["distance_km"] == 0.0
    assert f["prev_city"] == "Shanghai"


# --- amounts ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=2,
        max_size=30,
    )
)
def test_welford_mean_and_std_match_statistics(amounts):
    state = AccountState()
    for i, amount in enumerate(amounts):
        extract(state, ev(payment("a", at(T0, minutes=i), amount)))
    assert state.amount_n == len(amounts)
    assert math.isclose(state.amount_mean, statistics.mean(amounts), rel_tol=1e-9)
    assert math.isclose(
        state.amount_std, statistics.stdev(amounts), rel_tol=1e-6, abs_tol=1e-6 * max(amounts)
    )


def test_amount_features_describe_the_payment_against_previous_ones():
    state = AccountState()
    amounts = [100.0, 110.0, 90.0, 105.0, 95.0]
    feeds = feed(state, *(payment("a", at(T0, minutes=i), a) for i, a in enumerate(amounts)))
    assert [f["amount_z"] for f in feeds] == [0.0] * 5  # fewer than 5 payments before each
    assert feeds[0]["amount_ratio"] == 1.0
    assert feeds[1]["amount_mean"] == 100.0
    assert feeds[1]["amount_ratio"] == pytest.approx(1.1)
    assert feeds[2]["amount_std"] == pytest.approx(statistics.stdev([100.0, 110.0]))
    (f,) = feed(state, payment("a", at(T0, minutes=10), 1000.0, kind="transfer"))
    mean, std = statistics.mean(amounts), statistics.stdev(amounts)
    assert f["amount_mean"] == pytest.approx(mean)
    assert f["amount_std"] == pytest.approx(std)
    assert f["amount_z"] == pytest.approx((1000.0 - mean) / std)
    assert f["amount_ratio"] == pytest.approx(10.0)


def test_amount_z_is_zero_with_fewer_than_five_payments():
    state = AccountState()
    feed(state, *(payment("a", at(T0, minutes=i), 10.0 + i) for i in range(4)))
    (f,) = feed(state, payment("a", at(T0, minutes=5), 5000.0))
    assert f["amount_z"] == 0.0
    (g,) = feed(state, payment("a", at(T0, minutes=6), 5000.0))
    assert g["amount_z"] > 1.0


def test_failed_payments_do_not_count_in_amount_statistics():
    state = AccountState()
    feed(state, payment("a", T0, 100.0), payment("a", at(T0, minutes=1), 200.0))
    feed(state, *(payment("a", at(T0, minutes=2 + i), 9000.0, status="failed") for i in range(3)))
    assert state.amount_n == 2
    assert state.amount_mean == 150.0
    (f,) = feed(state, payment("a", at(T0, minutes=10), 150.0))
    assert f["amount_ratio"] == 1.0


def test_failed_and_small_failed_payments_are_windowed():
    state = AccountState()
    feeds = feed(
        state,
        payment("a", T0, 1.0, status="failed"),
        payment("a", at(T0, minutes=1), 50.0, status="failed"),
        payment("a", at(T0, minutes=2), 4.99, status="failed"),
        payment("a", at(T0, minutes=3), 2.0),
        payment("a", at(T0, minutes=11), 3.0, status="failed"),
    )
    # at 11 min the window is (1 min, 11 min]: the failures at 0 and 1 min have left it
    assert [f["failed_payments_10m"] for f in feeds] == [1, 2, 3, 3, 2]
    assert [f["small_failed_payments_10m"] for f in feeds] == [1, 1, 2, 2, 2]


# --- time since ----------------------------------------------------------------------


def test_minutes_since_security_change():
    state = AccountState()
    (before,) = feed(state, login("a", T0))
    assert before["minutes_since_security_change"] == NEVER
    (change,) = feed(state, security("a", at(T0, minutes=1), "password_changed"))
    assert change["minutes_since_security_change"] == 0.0
    (f,) = feed(state, payment("a", at(T0, minutes=31), 10.0))
    assert f["minutes_since_security_change"] == pytest.approx(30.0)
    (late,) = feed(state, login("a", at(T0, minutes=-5)))  # before the change in event time
    assert late["minutes_since_security_change"] == NEVER


@pytest.mark.parametrize(
    ("action", "success"),
    [
        ("password_changed", False),
        ("password_reset_requested", True),
        ("payee_added", True),
    ],
)
def test_non_changes_do_not_start_the_security_clock(action, success):
    state = AccountState()
    feed(state, security("a", T0, action, success=success))
    (f,) = feed(state, payment("a", at(T0, minutes=5), 10.0))
    assert f["minutes_since_security_change"] == NEVER


@pytest.mark.parametrize(
    "action", ["password_changed", "phone_changed", "email_changed", "mfa_disabled", "device_bound"]
)
def test_each_security_change_starts_the_clock(action):
    state = AccountState()
    feed(state, security("a", T0, action))
    (f,) = feed(state, payment("a", at(T0, minutes=7), 10.0))
    assert f["minutes_since_security_change"] == pytest.approx(7.0)


def test_minutes_since_topup_and_last_topup_amount():
    state = AccountState()
    (none,) = feed(state, payment("a", T0, 10.0))
    assert (none["minutes_since_topup"], none["last_topup_amount"]) == (NEVER, 0.0)
    feed(state, topup("a", at(T0, minutes=1), 800.0, status="pending"))
    (pending,) = feed(state, payment("a", at(T0, minutes=2), 10.0))
    assert pending["minutes_since_topup"] == NEVER
    feed(state, topup("a", at(T0, minutes=3), 1000.0))
    (f,) = feed(state, payment("a", at(T0, minutes=15), 900.0, kind="withdrawal"))
    assert f["minutes_since_topup"] == pytest.approx(12.0)
    assert f["last_topup_amount"] == 1000.0


def test_topups_do_not_count_in_payment_amount_statistics():
    state = AccountState()
    feed(state, topup("a", T0, 5000.0), payment("a", at(T0, minutes=1), 10.0))
    assert (state.amount_n, state.amount_mean) == (1, 10.0)


def test_late_older_topup_does_not_replace_the_latest_one():
    state = AccountState()
    feed(state, topup("a", at(T0, minutes=10), 1000.0))
    feed(state, topup("a", T0, 50.0))  # older top-up, delivered late
    (f,) = feed(state, payment("a", at(T0, minutes=12), 900.0, kind="withdrawal"))
    assert f["last_topup_amount"] == 1000.0
    assert f["minutes_since_topup"] == pytest.approx(2.0)


def test_reset_requests_in_the_last_hour():
    state = AccountState()
    feeds = feed(
        state,
        *(security("a", at(T0, minutes=m), "password_reset_requested") for m in (0, 10, 20)),
    )
    assert [f["reset_requests_1h"] for f in feeds] == [1, 2, 3]
    (f,) = feed(state, security("a", at(T0, minutes=65), "password_reset_requested"))
    assert f["reset_requests_1h"] == 3  # 10, 20, 65: the first has aged out
    (g,) = feed(state, security("a", at(T0, minutes=66), "password_changed"))
    assert g["reset_requests_1h"] == 3
    (h,) = feed(state, login("a", at(T0, minutes=200)))
    assert h["reset_requests_1h"] == 0
