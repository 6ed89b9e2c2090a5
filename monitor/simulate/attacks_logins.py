"""Attacks on the login: brute force, credential stuffing, and low-and-slow stuffing.

Low-and-slow stuffing is built to stay under per-account and per-IP thresholds: a rotating
set of addresses within one to three /24 networks, fresh device ids, one or two attempts per
account, a few hundred accounts over most of a day. Only the network it comes from, and how
many accounts that network touches in the long run, give it away.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from operator import itemgetter

from monitor.events import Login

from .actor import Actor
from .attacks_ato import takeover_playbook
from .model import Draft, Stream
from .population import Account, far_cities, new_id, public_ip

__all__ = ["brute_force", "credential_stuffing", "low_and_slow_stuffing"]


def brute_force(x: Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]) -> Stream:
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
    x: Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]
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


def low_and_slow_stuffing(
    x: Actor, v: Account, accounts: list[Account], _m: tuple[str, ...]
) -> Stream:
    """100-300 accounts, one or two attempts each, over 6-24 hours from a few /24s; in two
    campaigns out of five one password works and, minutes to hours later, a takeover drains
    that account (its stages are the takeover's: ``takeover_login``, ``drain_transfer`` ...)."""
    rng = x.rng
    x.channel = rng.choice(("web", "api", "api"))
    subnets = [public_ip(rng).rsplit(".", 1)[0] for _ in range(rng.randint(1, 3))]
    n = min(len(accounts), rng.randint(100, 300))
    others = [i for i in rng.sample(range(len(accounts)), n) if i != v.index][: n - 1]
    targets = [v.index, *others]
    rng.shuffle(targets)  # the order of the leaked list
    span = rng.uniform(6.5, 24.0) * 3600
    lo, hi = x.window
    x.t = max(lo, min(x.t, hi - span))  # fit the period where it can
    hit = rng.randrange(len(targets)) if rng.random() < 0.4 else -1
    attempts = _slow_attempts(x, accounts, targets, subnets, span, hit)
    for draft in attempts:
        yield draft
        if draft[2] is not None and draft[2][2] == "slow_success":
            y = x.accomplice(draft[0] + rng.uniform(600, 6 * 3600))
            if rng.random() < 0.5:  # the same infrastructure, a new device
                y.city, y.ip = x.city, public_ip(y.rng, rng.choice(subnets))
            else:
                y.city = rng.choice(far_cities(accounts[targets[hit]]))
            y.channel = rng.choice(("app", "web"))
            drain = takeover_playbook(y, accounts[targets[hit]])
            yield from heapq.merge(attempts, drain, key=itemgetter(0))
            return


def _slow_attempts(
    x: Actor,
    accounts: list[Account],
    targets: list[int],
    subnets: list[str],
    span: float,
    hit: int,
) -> Iterator[Draft]:
    """The attempts in time order: account k's first try at the k-th of ``len(targets)``
    sorted uniform times over ``span`` (drawn one by one), a second try minutes later."""
    rng = x.rng
    pool = [new_id(rng, "dev", 48) for _ in range(rng.randint(3, 8))]
    fresh_devices = rng.random() < 0.7
    t0, p, n = x.t, 0.0, len(targets)
    for k, index in enumerate(targets):
        p = 1.0 - (1.0 - p) * rng.random() ** (1.0 / (n - k))  # next order statistic
        x.t = max(x.t, t0 + p * span)
        tries = rng.randint(1, 2)
        for j in range(tries):
            x.ip = public_ip(rng, rng.choice(subnets))
            x.device = new_id(rng, "dev", 48) if fresh_devices else rng.choice(pool)
            if k == hit and j == tries - 1:  # a reused password
                yield x.ev(Login, accounts[index], "slow_success", success=True, method="password")
            else:
                yield x.ev(
                    Login,
                    accounts[index],
                    "slow_attempt",
                    success=False,
                    method="password",
                    failure_reason="bad_password",
                )
            x.wait(20, 300)
