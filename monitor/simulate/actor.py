"""The attacker's side of a campaign: where it acts from, its clock, and how it tags events.

Every event a campaign yields is malicious and carries a tag
``(campaign_id, scenario, stage, variant)``; the tag becomes a
:class:`~monitor.simulate.model.Label` and never enters the event itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from monitor.events import Event, Payment

from .model import Draft, Stream
from .population import CITIES, Account, City, geo_near, new_id, public_ip, ts

__all__ = ["Actor", "Scenario"]


class Actor:
    """The attacker's context (where, from what) and clock for one campaign.

    ``window`` is the part of the simulated period campaigns may use (after the detectors'
    warm-up); long campaigns move their start so they fit in it where they can.
    """

    def __init__(
        self,
        campaign_id: str,
        scenario: str,
        rng: random.Random,
        t: float,
        window: tuple[float, float] = (float("-inf"), float("inf")),
        variant: str | None = None,
    ) -> None:
        self.campaign_id, self.scenario, self.rng, self.t = campaign_id, scenario, rng, t
        self.window, self.variant = window, variant
        self.city: City = rng.choice(CITIES)
        self.ip = public_ip(rng)
        self.device = new_id(rng, "dev", 48)
        self.channel = "app"
        self.spread = 0.05  # geo jitter around self.city, degrees

    def accomplice(self, t: float) -> Actor:
        """Another attacker of the same campaign (own clock, device and randomness)."""
        rng = random.Random(self.rng.getrandbits(64))
        return Actor(self.campaign_id, self.scenario, rng, t, self.window, self.variant)

    def wait(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def ev(self, cls: Callable[..., Event], acct: Account, stage: str, **fields: object) -> Draft:
        ev = cls(
            event_id="",
            account_id=acct.account_id,
            ts=ts(self.t),
            device_id=self.device,
            ip=self.ip,
            geo=geo_near(self.city, self.rng, self.spread),
            channel=self.channel,
            **fields,
        )
        return self.t, ev, (self.campaign_id, self.scenario, stage, self.variant)

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


# A scenario: (actor, victim, whole population, merchant pool) -> the campaign's drafts.
Scenario = Callable[[Actor, Account, list[Account], tuple[str, ...]], Stream]
