"""Labelled attack campaigns, one lazy time-ordered stream each (see the support article).

Every event a campaign yields is malicious and carries a tag ``(campaign_id, scenario, stage)``;
the tag becomes a :class:`~monitor.simulate.model.Label` and never enters the event itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from monitor.events import Event, Login, Payment, Security, Topup

from .honest import money
from .model import Draft, SimConfig, Stream
from .population import (
    CITIES,
    Account,
    City,
    far_cities,
    geo_near,
    new_id,
    pick_merchant,
    public_ip,
    ts,
)

__all__ = ["plan_campaigns"]


class _Actor:
    """The attacker's context (where, from what) and clock for one campaign."""

    def __init__(self, campaign_id: str, scenario: str, rng: random.Random, t: float) -> None:
        self.campaign_id, self.scenario, self.rng, self.t = campaign_id, scenario, rng, t
        self.city: City = rng.choice(CITIES)
        self.ip = public_ip(rng)
        self.device = new_id(rng, "dev", 48)
        self.channel = "app"

    def wait(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def ev(self, cls: Callable[..., Event], acct: Account, stage: str, **fields: object) -> Draft:
        ev = cls(
            event_id="",
            account_id=acct.account_id,
            ts=ts(self.t),
            device_id=self.device,
            ip=self.ip,
            geo=geo_near(self.city, self.rng),
            channel=self.channel,
            **fields,
        )
        return self.t, ev, (self.campaign_id, self.scenario, stage)

    def pay(
        self,
        acct: Account,
        stage: str,
        amount: float,
        kind: str,
        payee: str,
        status: str,
        reason: str | None = None,
    ) -> Draft:
        return self.ev(
            Payment,
            acct,
            stage,
            amount=amount,
            currency=acct.currency,
            kind=kind,
            payee_id=payee,
            status=status,
            failure_reason=reason,
        )


def account_takeover(x: _Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]) -> Stream:
    """New device, far-away login, then security changes, then draining to new payees."""
    rng = x.rng
    x.city = rng.choice(far_cities(v))
    x.channel = rng.choice(("app", "app", "web"))
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            yield x.ev(
                Login,
                v,
                "recon_login",
                success=False,
                method="password",
                failure_reason="bad_password",
            )
            x.wait(15, 120)
    yield x.ev(Login, v, "takeover_login", success=True, method=rng.choice(("password", "sms")))
    x.wait(30, 300)
    for action in rng.sample(
        ("password_changed", "phone_changed", "email_changed"), rng.randint(1, 2)
    ):
        yield x.ev(Security, v, action.replace("_changed", "_change"), action=action, success=True)
        x.wait(20, 180)
    if rng.random() < 0.4:
        yield x.ev(Security, v, "mfa_disabled", action="mfa_disabled", success=True)
        x.wait(10, 90)
    for k in range(rng.randint(1, 4)):
        kind = rng.choice(("transfer", "transfer", "withdrawal"))
        payee = new_id(rng, "payee" if kind == "transfer" else "bank")
        if kind == "transfer" and rng.random() < 0.6:
            yield x.ev(Security, v, "payee_added", action="payee_added", success=True)
            x.wait(10, 60)
        amount = money(v.median_amount * rng.uniform(8, 60), v.fx)
        r = rng.random()
        if (k == 0 and r < 0.8) or r < 0.5:
            yield x.pay(v, f"drain_{kind}", amount, kind, payee, "succeeded")
        else:
            reason = "risk_declined" if r > 0.85 else "insufficient_balance"
            yield x.pay(v, f"drain_{kind}", amount, kind, payee, "failed", reason)
        x.wait(30, 400)


def brute_force(x: _Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]) -> Stream:
    """Many wrong passwords on one account from one device and IP, maybe a hit at the end."""
    rng = x.rng
    x.channel = rng.choice(("web", "api"))
    for _ in range(rng.randint(8, 40)):
        yield x.ev(
            Login, v, "guess_login", success=False, method="password", failure_reason="bad_password"
        )
        x.wait(1.5, 20)
    if rng.random() < 0.25:
        yield x.ev(Login, v, "guess_success", success=True, method="password")


def credential_stuffing(
    x: _Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]
) -> Stream:
    """Leaked credentials tried on many different accounts from one IP or one /24."""
    rng = x.rng
    x.channel = rng.choice(("api", "api", "web"))
    subnet = x.ip.rsplit(".", 1)[0]
    rotate_ip, rotate_device = rng.random() < 0.5, rng.random() < 0.5
    n = min(len(accounts), rng.randint(10, 60))
    others = [i for i in rng.sample(range(len(accounts)), n) if i != v.index][: n - 1]
    targets = [v, *(accounts[i] for i in others)]
    span = rng.uniform(300, 2700)
    attempts = sorted(
        (x.t + rng.uniform(0, span), acct.index)
        for acct in targets
        for _ in range(rng.randint(1, 2))
    )
    for t, index in attempts:
        x.t = t
        if rotate_ip:
            x.ip = public_ip(rng, subnet)
        if rotate_device:
            x.device = new_id(rng, "dev", 48)
        if rng.random() < 0.03:  # a reused password
            yield x.ev(Login, accounts[index], "stuffing_success", success=True, method="password")
        else:
            yield x.ev(
                Login,
                accounts[index],
                "stuffing_attempt",
                success=False,
                method="password",
                failure_reason="bad_password",
            )


def card_testing(
    x: _Actor, v: Account, accounts: list[Account], merchants: tuple[str, ...]
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


def topup_withdrawal(x: _Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]) -> Stream:
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


_SCENARIOS: dict[str, Callable[[_Actor, Account, list[Account], tuple[str, ...]], Stream]] = {
    "account_takeover": account_takeover,
    "credential_stuffing": credential_stuffing,
    "brute_force": brute_force,
    "card_testing": card_testing,
    "topup_withdrawal": topup_withdrawal,
}


def plan_campaigns(
    cfg: SimConfig, accounts: list[Account], merchants: tuple[str, ...]
) -> list[Stream]:
    """One stream per campaign: victims drawn without replacement, scenarios dealt evenly,
    start times uniform over the period after its first 10% (the detectors' warm-up)."""
    if cfg.attack_share <= 0 or not cfg.scenarios:
        return []
    rng = random.Random(f"vigil-sim:{cfg.seed}:campaigns")
    n = min(len(accounts), max(1, round(cfg.attack_share * len(accounts))))
    victims = rng.sample(accounts, n)
    scenarios = [cfg.scenarios[i % len(cfg.scenarios)] for i in range(n)]
    rng.shuffle(scenarios)
    span = cfg.end_epoch - cfg.start_epoch
    streams = []
    for i, (victim, scenario) in enumerate(zip(victims, scenarios, strict=True)):
        t0 = cfg.start_epoch + rng.uniform(0.1, 0.95) * span
        crng = random.Random(f"vigil-sim:{cfg.seed}:campaign:{i}")
        actor = _Actor(f"camp-{i + 1:04d}", scenario, crng, t0)
        streams.append(_SCENARIOS[scenario](actor, victim, accounts, merchants))
    return streams
