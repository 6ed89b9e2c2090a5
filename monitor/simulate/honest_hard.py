"""Honest hard cases: what real customers do that looks like fraud, and must not be restricted.

A new phone bound at home (sometimes with a new number, sometimes followed within the hour by
a transfer to a known payee), a new local phone bound abroad, one big purchase (or rent and
tuition to a known payee), a forgotten password reset and then an ordinary payment. They stay
unlabelled: they are the negatives that keep false-restriction rates honest.
"""

from __future__ import annotations

import math
import random

from monitor.events import Login, Security

from .honest_base import Wallet, money
from .model import SimConfig, Stream
from .population import Account, new_id

__all__ = ["HardCases"]


class HardCases(Wallet):
    """The hard cases' schedule (one planned moment each, or never) and their event flows."""

    def __init__(
        self, acct: Account, rng: random.Random, merchants: tuple[str, ...], cfg: SimConfig
    ) -> None:
        super().__init__(acct, rng, merchants, cfg.start_epoch)
        self.start, self.end = cfg.start_epoch, cfg.end_epoch
        self.phone_change_at = self._plan(cfg.phone_change_per_day)
        self.big_spend_at = self._plan(cfg.big_spend_per_day)
        self.forgot_at = self._plan(cfg.forgot_password_per_day)
        self.travel_device: str | None = None  # a local phone bound on a trip

    def _plan(self, per_day: float) -> float:
        """When the case happens: uniform over the period, with chance 1 - exp(-rate * days).
        Two draws whatever the rate, so changing one rate leaves the rest of the stream alone."""
        days = (self.end - self.start) / 86400.0
        r, when = self.rng.random(), self.rng.uniform(self.start, self.end)
        return when if r < 1 - math.exp(-per_day * days) else math.inf

    def _bind_new_device(self) -> Stream:
        """A phone never seen: verified by SMS and bound, then the first login on it."""
        self.device, self.channel = new_id(self.rng, "dev", 48), "app"
        yield self._ev(Security, action="device_bound", success=True)
        self._wait(3, 20)
        yield self._ev(Login, success=True, method="sms")

    def _phone_change(self) -> Stream:
        """A new phone at home; it becomes the primary device, the old one the spare."""
        rng = self.rng
        bound = self.t
        yield from self._bind_new_device()
        self.devices = [self.device, *self.devices[:1]]
        if rng.random() < 0.3:  # a new number as well
            self._wait(20, 120)
            yield self._ev(Security, action="phone_changed", success=True)
        if rng.random() < 0.4:  # pays someone they know within the hour
            self.t = max(self.t, bound + rng.uniform(120, 3000))
            yield from self._usual_payment(transfer=True)

    def _travel_phone(self) -> Stream:
        """A local SIM in a second phone on arrival abroad: bound, used for most of the trip."""
        yield from self._bind_new_device()
        self.travel_device = self.device

    def _forgot_password(self) -> Stream:
        """Wrong passwords, a reset, the new password, then an ordinary payment within the hour."""
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            yield self._ev(Login, success=False, method="password", failure_reason="bad_password")
            self._wait(5, 40)
        yield self._ev(Security, action="password_reset_requested", success=True)
        self._wait(60, 400)
        changed = self.t
        yield self._ev(Security, action="password_changed", success=True)
        self._wait(10, 60)
        yield self._ev(Login, success=True, method="password")
        self.t = max(self.t, changed + rng.uniform(120, 3000))
        yield from self._usual_payment()

    def _big_spend(self) -> Stream:
        """One purchase 10-30x usual (a phone, a flight), or rent/tuition 5-15x usual to a
        person already paid; topped up first from a known source when the balance is short."""
        rng, a = self.rng, self.a
        people = [p for p in self.paid if p.startswith("payee-")]
        if people and rng.random() < 0.3:
            kind, payee = "transfer", rng.choice(people)
            amount = a.median_amount * 1.5 * rng.uniform(5.0, 15.0)
        else:
            kind, amount = "purchase", a.median_amount * rng.uniform(10.0, 30.0)
            shops = [p for p in self.paid if p.startswith("merch-")] or self.favourites
            if shops and rng.random() < 0.5:
                payee = rng.choice(shops)
            else:  # a shop never used before (electronics, an airline)
                payee = rng.choice(self.merchants)
        yield from self._pay_for_sure(money(amount, a.fx), kind, payee)
