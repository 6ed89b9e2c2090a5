"""Attack campaigns and their planning: one lazy, time-ordered, labelled stream each.

Scenarios follow the support article; account takeover lives in :mod:`.attacks_ato`, the
attacks on the login in :mod:`.attacks_logins`, the money-movement ones here. Each event is
tagged ``(campaign_id, scenario, stage, variant)`` (see :mod:`.actor`); the tag becomes a
:class:`~monitor.simulate.model.Label` and never enters the event itself.
"""

from __future__ import annotations

import random

from monitor.events import Login, Topup

from .actor import Actor, Scenario
from .attacks_ato import account_takeover
from .attacks_logins import brute_force, credential_stuffing, low_and_slow_stuffing
from .honest_base import money
from .model import SimConfig, Stream
from .population import Account, far_cities, new_id, pick_merchant

__all__ = ["plan_campaigns"]


def card_testing(
    x: Actor, v: Account, accounts: list[Account], merchants: tuple[str, ...]
) -> Stream:
    """A burst of tiny payments to one merchant from a new device, most of them declined."""
    rng = x.rng
    x.city = rng.choice(far_cities(v)) if rng.random() < 0.5 else v.home
    x.channel = rng.choice(("app", "web", "api"))
    yield x.ev(Login, v, "tester_login", success=True, method="password")
    x.wait(20, 200)
    merchant = pick_merchant(rng, merchants) if rng.random() < 0.5 else rng.choice(merchants)
    n = rng.randint(5, 30)
    hits = set(rng.sample(range(n), rng.randint(0, max(1, n // 5))))  # a few cards work
    for i in range(n):
        amount = round(rng.uniform(0.5, 5.0), 2)
        if i not in hits:
            reason = rng.choice(("risk_declined", "insufficient_balance", "card_declined"))
            yield x.pay(v, "test_payment", amount, "purchase", merchant, "failed", reason)
        else:
            yield x.pay(v, "test_payment", amount, "purchase", merchant, "succeeded")
        x.wait(1, 15)


def topup_withdrawal(x: Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]) -> Stream:
    """Money in from a new funding source, straight back out within minutes."""
    rng = x.rng
    if rng.random() < 0.5:  # a mule on the owner's own phone and network
        x.city, x.ip, x.device = v.home, v.home_ip, v.devices[0]
    else:
        yield x.ev(Login, v, "mule_login", success=True, method=rng.choice(("password", "sms")))
        x.wait(30, 300)
    amount = money(v.median_amount * rng.uniform(10, 50), v.fx)
    if rng.random() < 0.3:
        yield x.ev(
            Topup,
            v,
            "topup_attempt",
            amount=amount,
            currency=v.currency,
            source_id=new_id(rng, "card"),
            status="failed",
            failure_reason="card_declined",
        )
        x.wait(20, 120)
    yield x.ev(
        Topup,
        v,
        "topup",
        amount=amount,
        currency=v.currency,
        source_id=new_id(rng, "card"),
        status="credited",
    )
    x.wait(60, 600)
    parts = rng.choice((1, 1, 2))
    for _ in range(parts):
        kind = rng.choice(("withdrawal", "transfer"))
        payee = new_id(rng, "bank" if kind == "withdrawal" else "payee")
        out = money(amount * rng.uniform(0.8, 1.0) / parts, v.fx)
        yield x.pay(v, "cash_out", out, kind, payee, "succeeded")
        x.wait(20, 180)


_SCENARIOS: dict[str, Scenario] = {
    "account_takeover": account_takeover,
    "credential_stuffing": credential_stuffing,
    "brute_force": brute_force,
    "card_testing": card_testing,
    "topup_withdrawal": topup_withdrawal,
    "low_and_slow_stuffing": low_and_slow_stuffing,
}


def plan_campaigns(
    cfg: SimConfig, accounts: list[Account], merchants: tuple[str, ...]
) -> list[Stream]:
    """One stream per campaign: victims drawn without replacement, scenarios dealt evenly,
    start times uniform over the period after its first 10% (the detectors' warm-up).
    Account takeovers are dealt their variant the same way: ``ato_local_share`` of them,
    rounded down, are ``local_proxy``, the rest ``far_away``."""
    if cfg.attack_share <= 0 or not cfg.scenarios:
        return []
    rng = random.Random(f"vigil-sim:{cfg.seed}:campaigns")
    n = min(len(accounts), max(1, round(cfg.attack_share * len(accounts))))
    victims = rng.sample(accounts, n)
    scenarios = [cfg.scenarios[i % len(cfg.scenarios)] for i in range(n)]
    rng.shuffle(scenarios)
    span = cfg.end_epoch - cfg.start_epoch
    window = (cfg.start_epoch + 0.1 * span, cfg.end_epoch)
    streams, takeovers, share = [], 0, cfg.ato_local_share
    for i, (victim, scenario) in enumerate(zip(victims, scenarios, strict=True)):
        t0 = cfg.start_epoch + rng.uniform(0.1, 0.95) * span
        crng = random.Random(f"vigil-sim:{cfg.seed}:campaign:{i}")
        variant = None
        if scenario == "account_takeover":
            takeovers += 1
            local = int(takeovers * share) > int((takeovers - 1) * share)
            variant = "local_proxy" if local else "far_away"
        actor = Actor(f"camp-{i + 1:04d}", scenario, crng, t0, window, variant)
        streams.append(_SCENARIOS[scenario](actor, victim, accounts, merchants))
    return streams
