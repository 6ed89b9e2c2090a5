"""Labelled attack campaigns: ground truth is consistent and each scenario looks like itself."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from monitor.events import Event, Login, Payment, Security, Topup, encode
from monitor.simulate import SCENARIOS, Label, SimConfig, generate
from monitor.simulate.model import ATO_VARIANTS
from monitor.simulate.population import build_population, distance_km, merchant_pool

CFG = SimConfig(accounts=1200, days=2.0, seed=21, attack_share=0.035)  # 42 campaigns, 7 each
Stream = list[tuple[Event, Label | None]]


@pytest.fixture(scope="module")
def stream() -> Stream:
    return list(generate(CFG))


@pytest.fixture(scope="module")
def campaigns(stream: Stream) -> dict[str, list[tuple[Event, Label]]]:
    out: defaultdict[str, list[tuple[Event, Label]]] = defaultdict(list)
    for event, label in stream:
        if label is not None:
            out[label.campaign_id].append((event, label))
    return out


def by_scenario(campaigns, scenario):
    found = [evs for evs in campaigns.values() if evs[0][1].scenario == scenario]
    assert found, f"no {scenario} campaign"
    return found


@pytest.fixture(scope="module")
def population():
    merchants = merchant_pool(CFG.seed)
    accounts = build_population(CFG.accounts, CFG.seed, merchants, CFG.start_epoch, CFG.end_epoch)
    return {a.account_id: a for a in accounts}


def history(stream: Stream, account_id: str, before) -> list[Event]:
    return [e for e, lab in stream if lab is None and e.account_id == account_id and e.ts < before]


def test_labels_point_at_existing_malicious_events(stream):
    labels = [(e, lab) for e, lab in stream if lab is not None]
    assert labels
    assert all(lab.event_id == e.event_id and lab.account_id == e.account_id for e, lab in labels)
    assert len({lab.event_id for _, lab in labels}) == len(labels)
    assert len(labels) < 0.2 * len(stream)


def test_ground_truth_never_leaks_into_events(stream):
    for event, _ in stream:
        raw = encode(event)
        assert b"camp-" not in raw
        assert not any(s.encode() in raw for s in SCENARIOS + ATO_VARIANTS)


def test_every_scenario_appears_evenly(campaigns):
    per: defaultdict[str, int] = defaultdict(int)
    for evs in campaigns.values():
        assert len({lab.scenario for _, lab in evs}) == 1
        per[evs[0][1].scenario] += 1
    assert per == dict.fromkeys(SCENARIOS, 7)


def test_scenarios_can_be_chosen():
    cfg = SimConfig(accounts=100, days=1, attack_share=0.1, scenarios=("brute_force",))
    assert {lab.scenario for _, lab in generate(cfg) if lab} == {"brute_force"}


def test_campaigns_start_after_the_warm_up(campaigns):
    warm_up_end = CFG.start_epoch + 0.1 * CFG.days * 86400
    assert all(evs[0][0].epoch >= warm_up_end for evs in campaigns.values())


def test_account_takeover_variants_are_dealt_and_labelled(campaigns):
    variants = Counter()
    for evs in campaigns.values():
        labels = {(lab.scenario, lab.variant) for _, lab in evs}
        assert len(labels) == 1  # one variant per campaign
        ((scenario, variant),) = labels
        assert (variant in ATO_VARIANTS) == (scenario == "account_takeover")
        variants[variant] += scenario == "account_takeover"
    assert variants == {"far_away": 5, "local_proxy": 2, None: 0}  # 30% of 7, rounded down


def test_account_takeover_new_device_then_security_change_then_drain(stream, campaigns):
    for evs in by_scenario(campaigns, "account_takeover"):
        victim = evs[0][0].account_id
        assert {e.account_id for e, _ in evs} == {victim}
        stages = [lab.stage for _, lab in evs]
        login = next(e for e, lab in evs if lab.stage == "takeover_login")
        assert isinstance(login, Login) and login.success
        before = history(stream, victim, evs[0][0].ts)
        assert login.device_id not in {e.device_id for e in before}
        first_drain = min(i for i, s in enumerate(stages) if s.startswith("drain_"))
        changes = {"password_change", "phone_change", "email_change"}
        assert any(s in changes for s in stages[:first_drain])
        assert stages.index("takeover_login") < first_drain
        drains = [e for e, lab in evs if lab.stage.startswith("drain_")]
        assert 1 <= len(drains) <= 4
        known = {e.payee_id for e in before if isinstance(e, Payment)}
        usual = [e.amount for e in before if isinstance(e, Payment)] or [0.0]
        for d in drains:
            assert isinstance(d, Payment) and d.kind in ("transfer", "withdrawal")
            assert d.payee_id not in known
            assert d.amount > 2 * statistics.median(usual)
        assert evs[-1][0].ts - evs[0][0].ts < timedelta(hours=2)


def test_far_away_takeover_logs_in_far_from_anywhere_the_owner_has_been(stream, campaigns):
    found = [evs for evs in by_scenario(campaigns, "account_takeover")
             if evs[0][1].variant == "far_away"]  # fmt: skip
    assert found
    for evs in found:
        login = next(e for e, lab in evs if lab.stage == "takeover_login")
        before = history(stream, login.account_id, evs[0][0].ts)
        assert login.ip not in {e.ip for e in before}
        assert login.geo is not None
        for seen in {e.geo for e in before if e.geo}:
            assert distance_km(seen.lat, seen.lon, login.geo.lat, login.geo.lon) > 2000


def test_local_proxy_takeover_looks_local_but_comes_from_a_new_device(
    stream, campaigns, population
):
    found = [evs for evs in by_scenario(campaigns, "account_takeover")
             if evs[0][1].variant == "local_proxy"]  # fmt: skip
    assert found
    for evs in found:
        owner = population[evs[0][0].account_id]
        before = history(stream, owner.account_id, evs[0][0].ts)
        local_nets = {owner.home_ip.rsplit(".", 2)[0], owner.carrier_prefix}
        for e, _ in evs:
            assert e.geo is not None and e.geo.country == owner.home.country
            assert distance_km(owner.home.lat, owner.home.lon, e.geo.lat, e.geo.lon) < 100
            assert e.device_id not in {b.device_id for b in before}
            assert e.ip is not None and e.ip.rsplit(".", 2)[0] in local_nets
            assert e.ip != owner.home_ip


def test_brute_force_hammers_one_account_from_one_place(campaigns):
    for evs in by_scenario(campaigns, "brute_force"):
        logins = [e for e, _ in evs]
        assert all(isinstance(e, Login) for e in logins)
        failed = [e for e in logins if not e.success]
        assert 8 <= len(failed) <= 40
        assert {e.failure_reason for e in failed} == {"bad_password"}
        assert len({(e.account_id, e.ip, e.device_id) for e in logins}) == 1
        assert logins[-1].ts - logins[0].ts < timedelta(minutes=15)


def test_credential_stuffing_tries_many_accounts_from_one_subnet(campaigns):
    for evs in by_scenario(campaigns, "credential_stuffing"):
        assert all(isinstance(e, Login) for e, _ in evs)
        assert 10 <= len({e.account_id for e, _ in evs}) <= 60
        assert len({e.ip.rsplit(".", 1)[0] for e, _ in evs if e.ip}) == 1
        assert sum(not e.success for e, _ in evs) > 0.8 * len(evs)
        assert evs[-1][0].ts - evs[0][0].ts < timedelta(hours=1)


def test_low_and_slow_stuffing_stays_under_short_windows(campaigns):
    drained = 0
    for evs in by_scenario(campaigns, "low_and_slow_stuffing"):
        tries = [e for e, lab in evs if lab.stage in ("slow_attempt", "slow_success")]
        assert all(isinstance(e, Login) and e.method == "password" for e in tries)
        per_account = Counter(e.account_id for e in tries)
        assert len(per_account) >= 100 and max(per_account.values()) <= 2
        assert len({e.ip.rsplit(".", 1)[0] for e in tries if e.ip}) <= 3  # one to three /24s
        assert len({e.ip for e in tries}) > 0.5 * len(tries)  # rotating addresses
        assert tries[-1].ts - tries[0].ts >= timedelta(hours=6)
        busiest = max(sum(0 <= (o.ts - e.ts).total_seconds() < 600 for o in tries) for e in tries)
        assert busiest <= 15  # never a burst: at most a handful of tries in any 10 minutes
        hits = [e for e in tries if e.success]
        assert len(hits) <= 1
        rest = [(e, lab) for e, lab in evs if lab.stage not in ("slow_attempt", "slow_success")]
        if rest:  # a takeover of the one account whose password worked
            (hit,) = hits
            assert all(e.account_id == hit.account_id and e.ts > hit.ts for e, _ in rest)
            stages = [lab.stage for _, lab in rest]
            assert stages[0] == "takeover_login" and any(s.startswith("drain_") for s in stages)
            assert rest[0][0].device_id != hit.device_id
            drained += 1
    assert drained > 0


def test_card_testing_is_a_burst_of_small_mostly_failed_payments(campaigns):
    for evs in by_scenario(campaigns, "card_testing"):
        payments = [e for e, lab in evs if lab.stage == "test_payment"]
        assert 5 <= len(payments) <= 30
        assert all(isinstance(p, Payment) and 0.5 <= p.amount <= 5 for p in payments)
        assert len({p.payee_id for p in payments}) == 1
        assert sum(p.status == "failed" for p in payments) >= 0.75 * len(payments)
        assert payments[-1].ts - payments[0].ts < timedelta(minutes=10)


def test_topup_then_immediate_withdrawal(stream, campaigns):
    for evs in by_scenario(campaigns, "topup_withdrawal"):
        topup = next(e for e, lab in evs if lab.stage == "topup")
        cash_out = [e for e, lab in evs if lab.stage == "cash_out"]
        assert isinstance(topup, Topup) and topup.status == "credited"
        before = history(stream, topup.account_id, evs[0][0].ts)
        assert topup.source_id not in {e.source_id for e in before if isinstance(e, Topup)}
        assert cash_out and all(isinstance(p, Payment) for p in cash_out)
        assert cash_out[0].ts - topup.ts <= timedelta(minutes=10)
        out = sum(p.amount for p in cash_out if isinstance(p, Payment))
        assert 0.7 * topup.amount <= out <= topup.amount


def test_security_events_are_labelled_only_when_malicious(campaigns):
    stages = {lab.stage for evs in campaigns.values() for e, lab in evs if isinstance(e, Security)}
    assert stages <= {"password_change", "phone_change", "email_change", "mfa_disabled",
                      "payee_added"}  # fmt: skip
