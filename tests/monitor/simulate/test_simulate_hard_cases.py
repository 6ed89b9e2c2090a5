"""Honest hard cases: trips by plane, new phones, big spends, forgotten passwords — unlabelled,
and never physically impossible."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import pytest

from monitor.events import Event, Login, Payment, Security, encode
from monitor.simulate import Label, SimConfig, generate
from monitor.simulate.population import Account, build_population, distance_km, merchant_pool

# Hard cases ten times as often as by default, so a small run holds plenty of each.
CFG = SimConfig(
    accounts=600,
    days=7.0,
    seed=5,
    attack_share=0.02,
    travel_per_day=0.05,
    phone_change_per_day=0.05,
    big_spend_per_day=0.05,
    forgot_password_per_day=0.05,
)
NONE = replace(
    CFG, travel_per_day=0, phone_change_per_day=0, big_spend_per_day=0, forgot_password_per_day=0
)
Stream = list[tuple[Event, Label | None]]


def population(cfg: SimConfig) -> dict[str, Account]:
    accounts = build_population(
        cfg.accounts,
        cfg.seed,
        merchant_pool(cfg.seed),
        cfg.start_epoch,
        cfg.end_epoch,
        cfg.travel_per_day,
    )
    return {a.account_id: a for a in accounts}


def per_account(stream: Stream) -> dict[str, list[Event]]:
    """Each account's honest events, in time order."""
    out: defaultdict[str, list[Event]] = defaultdict(list)
    for e, label in stream:
        if label is None:
            out[e.account_id].append(e)
    return out


@pytest.fixture(scope="module")
def stream() -> Stream:
    return list(generate(CFG))


@pytest.fixture(scope="module")
def honest(stream: Stream) -> dict[str, list[Event]]:
    return per_account(stream)


@pytest.fixture(scope="module")
def without() -> dict[str, list[Event]]:
    return per_account(list(generate(NONE)))


def test_hard_cases_are_deterministic(stream):
    assert [encode(e) for e, _ in generate(CFG)] == [encode(e) for e, _ in stream]
    assert [lab for _, lab in generate(CFG)] == [lab for _, lab in stream]


def test_rates_change_behaviour_not_the_people():
    with_cases, without_cases = population(CFG), population(NONE)

    def traits(people: dict[str, Account]) -> list[tuple[object, ...]]:
        return [(a.home, a.devices, a.payees, a.median_amount) for a in people.values()]

    assert traits(with_cases) == traits(without_cases)
    assert any(a.trip for a in with_cases.values()) and not any(
        a.trip for a in without_cases.values()
    )


def test_hard_cases_are_never_labelled(stream, honest):
    labelled = {lab.account_id for _, lab in stream if lab is not None}
    assert labelled  # attacks are there too, on other events
    bound = [e for evs in honest.values() for e in evs if isinstance(e, Security)]
    assert {e.action for e in bound} >= {"device_bound", "password_changed", "phone_changed"}


def test_no_honest_account_moves_faster_than_a_plane(honest):
    long_haul = 0
    for evs in honest.values():
        for a, b in pairwise(evs):
            assert a.geo is not None and b.geo is not None
            if a.geo.city == b.geo.city:
                continue
            km = distance_km(a.geo.lat, a.geo.lon, b.geo.lat, b.geo.lon)
            assert b.ts - a.ts >= timedelta(hours=km / 900), (a, b)
            long_haul += km >= 4000
    assert long_haul >= 20  # there and back again, on long-haul flights


def test_travel_can_be_switched_off(without):
    for evs in without.values():
        assert len({e.geo.city for e in evs if e.geo}) == 1


def test_new_devices_are_bound_before_their_first_login(honest):
    cfg_pop = population(CFG)
    abroad = 0
    for account_id, evs in honest.items():
        owner = cfg_pop[account_id]
        first: dict[str, Event] = {}
        for e in evs:
            if e.device_id is not None:
                first.setdefault(e.device_id, e)
        for device, e in first.items():
            if device in owner.devices:
                continue
            assert isinstance(e, Security) and e.action == "device_bound", e
            login = next(x for x in evs if isinstance(x, Login) and x.device_id == device)
            assert login.success and login.method == "sms"
            assert timedelta(0) < login.ts - e.ts < timedelta(minutes=1)
            abroad += e.geo is not None and e.geo.country != owner.home.country
    assert abroad >= 5  # a local phone bought on a trip


def test_phone_changes_are_often_followed_by_a_transfer_to_a_known_payee(honest):
    owners = population(CFG)
    changes = followed = 0
    for account_id, evs in honest.items():
        paid: set[str] = set()
        bound_at = None
        for e in evs:
            at_home = e.geo is not None and e.geo.city == owners[account_id].home.name
            if isinstance(e, Security) and e.action == "device_bound" and at_home:
                bound_at = e.ts
                changes += 1
            if isinstance(e, Payment):
                if bound_at is not None:  # the first payment after the new phone
                    recent = e.ts - bound_at < timedelta(hours=1)
                    followed += recent and e.kind == "transfer" and e.payee_id in paid
                    bound_at = None
                if e.status == "succeeded":
                    paid.add(e.payee_id)
    assert changes >= 100
    assert followed >= 0.2 * changes  # about one in ten by chance alone


def big_ones(by_account: dict[str, list[Event]], kind: str, ratio: float) -> list[Payment]:
    owners = population(CFG)  # the same people: the rates change behaviour, not the population
    return [
        e
        for account_id, evs in by_account.items()
        for e in evs
        if isinstance(e, Payment)
        and e.kind == kind
        and e.status == "succeeded"
        and e.amount >= ratio * owners[account_id].median_amount
    ]


def test_big_purchases_and_big_transfers_to_known_payees_happen_unlabelled(honest, without):
    # Everyday amounts are lognormal, so a few big ones happen anyway; the planned ones add many.
    assert len(big_ones(honest, "purchase", 10)) >= len(big_ones(without, "purchase", 10)) + 80
    rent = big_ones(honest, "transfer", 7.5)
    assert len(rent) >= len(big_ones(without, "transfer", 7.5)) + 20
    known = 0
    for e in rent:
        before = [p for p in honest[e.account_id] if isinstance(p, Payment) and p.ts < e.ts]
        known += any(p.payee_id == e.payee_id and p.status == "succeeded" for p in before)
    assert known >= 10


def test_forgotten_password_then_an_ordinary_payment_within_the_hour(honest):
    flows = 0
    for evs in honest.values():
        for i, e in enumerate(evs):
            if not (isinstance(e, Security) and e.action == "password_changed"):
                continue
            after = [x for x in evs[i + 1 :] if x.ts - e.ts < timedelta(hours=1)]
            payments = [x for x in after if isinstance(x, Payment) and x.status == "succeeded"]
            flows += bool(payments) and isinstance(after[0], Login) and after[0].success
    assert flows >= 100


@pytest.mark.parametrize(
    "kwargs", [{"travel_per_day": -0.1}, {"big_spend_per_day": 2.0}, {"ato_local_share": 1.5}]
)
def test_hard_case_rates_are_validated(kwargs):
    with pytest.raises(ValueError):
        SimConfig(**kwargs)
