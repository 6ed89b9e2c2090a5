"""Honest behaviour of one account over the simulated period, as a lazy, time-ordered stream.

Sessions arrive as a Poisson process thinned by the local hour of day; a session is a login
(sometimes after a mistyped password or a forgotten-password reset) followed by a few
purchases, transfers, top-ups or withdrawals paid from a running balance, so payments fail
for insufficient balance the way they do for real people. A few accounts travel, a few get a
new phone, home IPs occasionally change.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator

from monitor.events import Event, Login, Payment, Security, Topup

from .model import Draft, SimConfig, Stream
from .population import (
    HOURLY,
    HOURLY_MAX,
    HOURLY_MEAN,
    Account,
    City,
    geo_near,
    local_hour,
    new_id,
    pick_merchant,
    public_ip,
    ts,
)

__all__ = ["honest_stream", "money"]

# (choices, cumulative weights) for random.choices
_METHODS = {
    "app": (("biometric", "password", "otp", "sms"), (55, 85, 95, 100)),
    "web": (("password", "otp", "sms"), (75, 95, 100)),
    "api": (("password",), (1,)),
}
_ACTIONS = (("purchase", "transfer", "topup", "withdrawal"), (55, 77, 92, 96))
_N_ACTIONS = ((0, 1, 2, 3, 4, 5), (20, 62, 82, 92, 97, 100))


def money(amount: float, fx: float) -> float:
    """Round to what the currency uses (no minor units for IDR, JPY, KRW ...)."""
    return max(1.0, float(round(amount))) if fx >= 100 else max(0.01, round(amount, 2))


def honest_stream(acct: Account, cfg: SimConfig, merchants: tuple[str, ...]) -> Stream:
    rng = random.Random(f"vigil-sim:{cfg.seed}:honest:{acct.index}")
    return _Honest(acct, rng, merchants, cfg.start_epoch, cfg.end_epoch, cfg.days).run()


class _Honest:
    def __init__(
        self,
        acct: Account,
        rng: random.Random,
        merchants: tuple[str, ...],
        start: float,
        end: float,
        days: float,
    ) -> None:
        self.a, self.rng, self.merchants, self.start, self.end = acct, rng, merchants, start, end
        self.devices = list(acct.devices)
        self.people = [p for p in acct.payees if p.startswith("payee-")]
        self.favourites = [p for p in acct.payees if not p.startswith("payee-")]
        self.sources = list(acct.sources)
        self.balance = acct.balance
        self.home_ip = acct.home_ip
        self.t = start
        # Session context, set by _open().
        self.device, self.ip, self.city = self.devices[0], self.home_ip, acct.home
        self.channel = "app"
        self.trip = acct.trip
        self.phone_change = (
            rng.uniform(start, end) if rng.random() < 1 - math.exp(-0.004 * days) else math.inf
        )

    def run(self) -> Stream:
        rng, a = self.rng, self.a
        rate = a.sessions_per_day / 86400.0 * HOURLY_MAX / HOURLY_MEAN  # thinning envelope
        t = self.start
        while True:
            t += rng.expovariate(rate)
            if t >= self.end:
                return
            city = self._where(t)[0]
            if rng.random() * HOURLY_MAX > HOURLY[local_hour(t, city, a.hour_shift)]:
                continue
            self.t = t
            yield from self._session()
            t = self.t

    # -- session ---------------------------------------------------------------------------
    def _where(self, t: float) -> tuple[City, str | None]:
        trip = self.trip
        if trip is not None and trip.begin <= t < trip.end:
            return trip.city, trip.ip
        return self.a.home, None

    def _open(self) -> None:
        rng, a = self.rng, self.a
        self.city, trip_ip = self._where(self.t)
        r = rng.random()
        self.channel = "web" if r < a.web_share else ("api" if r > 0.995 else "app")
        self.device = self.devices[0] if rng.random() < 0.8 else self.devices[-1]
        if rng.random() < 0.002:  # the ISP hands out a new address
            self.home_ip = public_ip(rng, ".".join(self.home_ip.split(".")[:2]))
        if trip_ip is not None:
            fixed, fixed_share = trip_ip, 0.7  # hotel wifi, else roaming
        else:
            fixed, fixed_share = self.home_ip, (0.9 if self.channel == "web" else 0.55)
        self.ip = fixed if rng.random() < fixed_share else public_ip(rng, a.carrier_prefix)

    def _session(self) -> Stream:
        rng = self.rng
        self._open()
        if self.t >= self.phone_change:  # new phone: verify by SMS, then bind the device
            self.phone_change = math.inf
            self.device = new_id(rng, "dev", 48)
            self.devices = [self.device, *self.devices[:1]]
            self.channel = "app"
            yield self._ev(Login, success=True, method="sms")
            self._wait(20, 90)
            yield self._ev(Security, action="device_bound", success=True)
        else:
            yield from self._login()
        n = rng.choices(_N_ACTIONS[0], cum_weights=_N_ACTIONS[1])[0]
        for _ in range(n):
            self._wait(10, 240)
            yield from self._action()
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

    def _topup(self, amount: float) -> Generator[Draft, None, bool]:
        """Yield a top-up (and maybe a retry); the generator's return value says if it worked."""
        rng, a = self.rng, self.a
        digits = max(0, len(str(int(amount))) - 2)  # people top up round amounts
        amount = money(max(round(amount, -digits), 10.0**digits), a.fx)
        if rng.random() < 0.01:
            self.sources.append(new_id(rng, rng.choice(("card", "bank"))))
        source = rng.choice(self.sources)
        if rng.random() < 0.04:
            reason = rng.choice(("card_declined", "source_unavailable"))
            yield self._topup_ev(amount, source, "failed", reason)
            if rng.random() < 0.5:
                return False
            self._wait(20, 120)
            source = rng.choice(self.sources)
        self.balance += amount
        yield self._topup_ev(amount, source, "credited")
        return True

    # -- event construction ------------------------------------------------------------------
    def _wait(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def _ev(self, cls: Callable[..., Event], **fields: object) -> tuple[float, Event, None]:
        ev = cls(
            event_id="",
            account_id=self.a.account_id,
            ts=ts(self.t),
            device_id=self.device,
            ip=self.ip,
            geo=geo_near(self.city, self.rng),
            channel=self.channel,
            **fields,
        )
        return self.t, ev, None

    def _pay(
        self, amount: float, kind: str, payee: str, status: str, reason: str | None = None
    ) -> tuple[float, Event, None]:
        return self._ev(
            Payment,
            amount=amount,
            currency=self.a.currency,
            kind=kind,
            payee_id=payee,
            status=status,
            failure_reason=reason,
        )

    def _topup_ev(
        self, amount: float, source: str, status: str, reason: str | None = None
    ) -> tuple[float, Event, None]:
        return self._ev(
            Topup,
            amount=amount,
            currency=self.a.currency,
            source_id=source,
            status=status,
            failure_reason=reason,
        )
