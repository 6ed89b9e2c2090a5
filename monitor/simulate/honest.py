"""Honest behaviour of one account over the simulated period, as a lazy, time-ordered stream.

Sessions arrive as a Poisson process thinned by the local hour of day; a session is a login
(sometimes after a mistyped password or a forgotten-password reset) followed by a few
purchases, transfers, top-ups or withdrawals paid from a running balance, so payments fail
for insufficient balance the way they do for real people. Home IPs occasionally change.
Travellers fly: nothing happens between the way to the airport and landing, so no honest
account ever moves faster than a plane. The hard cases (new phones, big spends, forgotten
passwords) are in :mod:`.honest_hard`.
"""

from __future__ import annotations

import math
import random

from monitor.events import Login, Security

from .honest_base import money
from .honest_hard import HardCases
from .model import SimConfig, Stream
from .population import (
    HOURLY,
    HOURLY_MAX,
    HOURLY_MEAN,
    Account,
    City,
    local_hour,
    new_id,
    pick_merchant,
    public_ip,
)

__all__ = ["honest_stream"]

# (choices, cumulative weights) for random.choices
_METHODS = {
    "app": (("biometric", "password", "otp", "sms"), (55, 85, 95, 100)),
    "web": (("password", "otp", "sms"), (75, 95, 100)),
    "api": (("password",), (1,)),
}
_ACTIONS = (("purchase", "transfer", "topup", "withdrawal"), (55, 77, 92, 96))
_N_ACTIONS = ((0, 1, 2, 3, 4, 5), (20, 62, 82, 92, 97, 100))
_AIRPORT = 2.0 * 3600  # no session starts this long before a flight (getting there, boarding)


def honest_stream(acct: Account, cfg: SimConfig, merchants: tuple[str, ...]) -> Stream:
    rng = random.Random(f"vigil-sim:{cfg.seed}:honest:{acct.index}")
    return _Honest(acct, rng, merchants, cfg).run()


class _Honest(HardCases):
    def __init__(
        self, acct: Account, rng: random.Random, merchants: tuple[str, ...], cfg: SimConfig
    ) -> None:
        super().__init__(acct, rng, merchants, cfg)
        self.trip = acct.trip
        self.local_sim: str | None = None  # carrier prefix of a local SIM, while abroad with one

    def run(self) -> Stream:
        rng, a = self.rng, self.a
        rate = a.sessions_per_day / 86400.0 * HOURLY_MAX / HOURLY_MEAN  # thinning envelope
        t = self.start
        while True:
            t += rng.expovariate(rate)
            if t >= self.end:
                return
            where = self._where(t)
            if where is None:  # on the way or in the air
                continue
            if rng.random() * HOURLY_MAX > HOURLY[local_hour(t, where[0], a.hour_shift)]:
                continue
            self.t = t
            yield from self._session(where)
            t = self.t

    # -- session ---------------------------------------------------------------------------
    def _where(self, t: float) -> tuple[City, str | None] | None:
        """(city, hotel IP or None at home) at ``t``; None while travelling between them."""
        trip = self.trip
        if trip is None or t < trip.depart - _AIRPORT or t >= trip.back:
            return self.a.home, None
        if trip.begin <= t < trip.end - _AIRPORT:
            return trip.city, trip.ip
        return None

    def _open(self, where: tuple[City, str | None]) -> None:
        rng, a = self.rng, self.a
        self.city, trip_ip = where
        r = rng.random()
        self.channel = "web" if r < a.web_share else ("api" if r > 0.995 else "app")
        self.device = self.devices[0] if rng.random() < 0.8 else self.devices[-1]
        if rng.random() < 0.002:  # the ISP hands out a new address
            self.home_ip = public_ip(rng, ".".join(self.home_ip.split(".")[:2]))
        self.local_sim = None if trip_ip is None or self.trip is None else self.trip.sim_prefix
        carrier = self.local_sim or a.carrier_prefix
        if trip_ip is not None:  # hotel wifi, else roaming (or the local SIM)
            fixed, fixed_share = trip_ip, (0.4 if self.local_sim else 0.7)
            if self.travel_device is not None and rng.random() < 0.7:
                self.device = self.travel_device
        else:
            fixed, fixed_share = self.home_ip, (0.9 if self.channel == "web" else 0.55)
        self.ip = fixed if rng.random() < fixed_share else public_ip(rng, carrier)

    def _session(self, where: tuple[City, str | None]) -> Stream:
        rng = self.rng
        self._open(where)
        if self.t >= self.phone_change_at and self.city == self.a.home:
            self.phone_change_at = math.inf
            yield from self._phone_change()
        elif self.local_sim is not None and self.travel_device is None:
            yield from self._travel_phone()
        elif self.t >= self.forgot_at:
            self.forgot_at = math.inf
            yield from self._forgot_password()
        else:
            yield from self._login()
        n = rng.choices(_N_ACTIONS[0], cum_weights=_N_ACTIONS[1])[0]
        for _ in range(n):
            self._wait(10, 240)
            yield from self._action()
        if self.t >= self.big_spend_at:
            self.big_spend_at = math.inf
            self._wait(30, 600)
            yield from self._big_spend()
        if rng.random() < 0.001:  # people do update their contact details
            self._wait(10, 120)
            action = rng.choice(("email_changed", "phone_changed"))
            yield self._ev(Security, action=action, success=True)
        self._wait(30, 600)

    def _login(self) -> Stream:
        rng = self.rng
        method = rng.choices(_METHODS[self.channel][0], cum_weights=_METHODS[self.channel][1])[0]
        r = rng.random()
        if method == "password" and r < 0.05:  # typo, then right
            for _ in range(rng.randint(1, 2)):
                yield self._ev(Login, success=False, method=method, failure_reason="bad_password")
                self._wait(4, 30)
        elif method == "password" and r < 0.053:  # forgotten: reset it
            for _ in range(rng.randint(2, 4)):
                yield self._ev(Login, success=False, method=method, failure_reason="bad_password")
                self._wait(5, 40)
            yield self._ev(Security, action="password_reset_requested", success=True)
            self._wait(60, 400)
            yield self._ev(Security, action="password_changed", success=True)
            self._wait(10, 60)
        elif method in ("otp", "sms") and r < 0.03:
            yield self._ev(Login, success=False, method=method, failure_reason="otp_expired")
            self._wait(20, 120)
        elif method == "biometric" and r < 0.02:
            yield self._ev(Login, success=False, method=method, failure_reason="biometric_mismatch")
            self._wait(3, 15)
            method = "password"
        yield self._ev(Login, success=True, method=method)

    def _action(self) -> Stream:
        rng, a = self.rng, self.a
        kind = rng.choices(_ACTIONS[0], cum_weights=_ACTIONS[1])[0]
        if self.balance < a.median_amount * 1.2 and rng.random() < 0.5:
            kind = "topup"
        if kind == "withdrawal" and self.balance < a.median_amount * 3:
            kind = "purchase"
        if kind == "topup":
            yield from self._topup(a.median_amount * rng.uniform(2.0, 10.0))
            return
        if kind == "withdrawal":
            amount = money(self.balance * rng.uniform(0.3, 0.9), a.fx)
            status = "succeeded" if rng.random() < 0.85 else "pending"
            self.balance -= amount
            yield self._pay(amount, "withdrawal", a.bank_id, status)
            return
        if kind == "transfer" and self.people:
            payee = rng.choice(self.people)
            if rng.random() < 0.08:  # paying someone new
                payee = new_id(rng, "payee")
                self.people.append(payee)
                if rng.random() < 0.6:
                    yield self._ev(Security, action="payee_added", success=True)
                    self._wait(10, 90)
            scale = 1.5
        else:
            kind, scale = "purchase", 1.0
            if self.favourites and rng.random() < 0.8:
                payee = rng.choice(self.favourites)
            else:
                payee = pick_merchant(rng, self.merchants)
        amount = money(rng.lognormvariate(math.log(a.median_amount * scale), a.amount_sigma), a.fx)
        if amount > self.balance:
            yield self._pay(amount, kind, payee, "failed", "insufficient_balance")
            if rng.random() < 0.5:  # top up and try again
                self._wait(20, 180)
                ok = yield from self._topup(amount - self.balance + a.median_amount * 3)
                if ok:
                    self._wait(10, 60)
                    self.balance -= amount
                    yield self._pay(amount, kind, payee, "succeeded")
        elif rng.random() < 0.004:
            yield self._pay(amount, kind, payee, "failed", "risk_declined")
        else:
            self.balance -= amount
            yield self._pay(amount, kind, payee, "succeeded")
