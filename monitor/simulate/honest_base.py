"""What honest sessions are built from: one account's running state, its clock and its events."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator

from monitor.events import Event, Payment, Topup

from .model import Draft, Stream
from .population import Account, geo_near, new_id, pick_merchant, ts

__all__ = ["Wallet", "money"]


def money(amount: float, fx: float) -> float:
    """Round to what the currency uses (no minor units for IDR, JPY, KRW ...)."""
    return max(1.0, float(round(amount))) if fx >= 100 else max(0.01, round(amount, 2))


class Wallet:
    """An account holder's state (balance, devices, payees) and clock; makes their events."""

    def __init__(
        self, acct: Account, rng: random.Random, merchants: tuple[str, ...], start: float
    ) -> None:
        self.a, self.rng, self.merchants = acct, rng, merchants
        self.devices = list(acct.devices)
        self.people = [p for p in acct.payees if p.startswith("payee-")]
        self.favourites = [p for p in acct.payees if not p.startswith("payee-")]
        self.paid: dict[str, None] = {}  # payees actually paid, in order (a dict: deterministic)
        self.sources = list(acct.sources)
        self.balance = acct.balance
        self.home_ip = acct.home_ip
        self.t = start
        # Session context, set when a session opens.
        self.device, self.ip, self.city = self.devices[0], self.home_ip, acct.home
        self.channel = "app"

    # -- payments every session may make ---------------------------------------------------------
    def _usual_payment(self, transfer: bool = False) -> Stream:
        """An everyday payment to a payee paid before in the stream: a transfer to a person
        (always if ``transfer`` and there is one), else a purchase at a shop."""
        rng, a = self.rng, self.a
        people = [p for p in self.paid if p.startswith("payee-")]
        if people and (transfer or rng.random() < 0.4):
            kind, payee, scale = "transfer", rng.choice(people), 1.5
        else:
            shops = [p for p in self.paid if p.startswith("merch-")] or self.favourites
            payee = rng.choice(shops) if shops else pick_merchant(rng, self.merchants)
            kind, scale = "purchase", 1.0
        amount = rng.lognormvariate(math.log(a.median_amount * scale), a.amount_sigma / 2)
        yield from self._pay_for_sure(money(amount, a.fx), kind, payee)

    def _pay_for_sure(self, amount: float, kind: str, payee: str) -> Stream:
        """Pay ``amount``, topping up from a known source first if the balance is short."""
        if amount > self.balance:
            need = amount - self.balance + self.a.median_amount * self.rng.uniform(1.0, 4.0)
            yield from self._topup(need, reliable=True)
            self._wait(20, 180)
        self.balance -= amount
        yield self._pay(amount, kind, payee, "succeeded")

    def _topup(self, amount: float, reliable: bool = False) -> Generator[Draft, None, bool]:
        """Yield a top-up (and maybe a retry); the generator's return value says if it worked."""
        rng, a = self.rng, self.a
        digits = max(0, len(str(int(amount))) - 2)  # people top up round amounts
        amount = money(max(round(amount, -digits), 10.0**digits), a.fx)
        if not reliable and rng.random() < 0.01:
            self.sources.append(new_id(rng, rng.choice(("card", "bank"))))
        source = rng.choice(self.sources)
        if not reliable and rng.random() < 0.04:
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
        if status == "succeeded" and payee not in self.paid and len(self.paid) < 64:
            self.paid[payee] = None
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
