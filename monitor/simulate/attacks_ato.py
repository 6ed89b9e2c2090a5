"""Account takeover: a new device logs in, changes the security details, drains the wallet.

Two variants (``Label.variant``): ``far_away`` logs in from a city thousands of kilometres
from anywhere the owner has been; ``local_proxy`` goes through a residential or mobile proxy
in the victim's home city, with an address in the owner's ISP or mobile-carrier range, so
location and network look like the owner's and only the device (and what follows) does not.
"""

from __future__ import annotations

from monitor.events import Login, Security

from .actor import Actor
from .honest_base import money
from .model import Stream
from .population import Account, far_cities, new_id, public_ip

__all__ = ["account_takeover", "takeover_playbook"]


def account_takeover(x: Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]) -> Stream:
    """New device, far away or behind a local proxy, then security changes, then the drain."""
    rng = x.rng
    if x.variant == "local_proxy":
        x.city, x.spread = v.home, 0.1  # within a few tens of km of the owner's home
        isp = v.home_ip.rsplit(".", 2)[0]  # the owner's broadband /16, else their carrier's
        x.ip = public_ip(rng, isp if rng.random() < 0.5 else v.carrier_prefix)
        if x.ip == v.home_ip:
            x.ip = public_ip(rng, v.carrier_prefix)
    else:
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
    yield from takeover_playbook(x, v)


def takeover_playbook(x: Actor, v: Account) -> Stream:
    """Log in, change password/phone/email (maybe disable MFA), then one to four drains to
    payees and bank accounts never used by the owner, most of them succeeding."""
    rng = x.rng
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
