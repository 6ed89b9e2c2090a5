"""The simulator's public value types: its configuration, ground-truth labels and run statistics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from monitor.events import Event

__all__ = [
    "ATO_VARIANTS",
    "DEFAULT_START",
    "SCENARIOS",
    "Draft",
    "Label",
    "SimConfig",
    "SimStats",
    "Stream",
    "Tag",
]

SCENARIOS: tuple[str, ...] = (
    "account_takeover",
    "credential_stuffing",
    "brute_force",
    "card_testing",
    "topup_withdrawal",
    "low_and_slow_stuffing",
)
# Variants of one scenario, told apart by Label.variant (None where a scenario has one form).
ATO_VARIANTS: tuple[str, ...] = ("far_away", "local_proxy")
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


_SHARES = (
    "ato_local_share",
    "travel_per_day",
    "phone_change_per_day",
    "big_spend_per_day",
    "forgot_password_per_day",
)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Equal configs produce byte-identical streams."""

    accounts: int = 1000
    days: float = 1.0
    seed: int = 7
    start: datetime | None = None  # tz-aware UTC; None -> 2026-01-05T00:00:00Z
    attack_share: float = 0.02  # fraction of accounts that get an attack campaign
    scenarios: tuple[str, ...] = SCENARIOS
    ato_local_share: float = 0.3  # account takeovers through a proxy in the victim's home city
    # Honest hard cases: the chance, per account and day, that each one happens.
    travel_per_day: float = 0.03  # a trip (domestic, regional or long-haul), flights included
    phone_change_per_day: float = 0.005  # a new phone bound at home
    big_spend_per_day: float = 0.005  # one purchase 10-30x usual, or rent/tuition to a known payee
    forgot_password_per_day: float = 0.005  # a reset, then a normal payment within the hour

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError(f"accounts must be at least 1, got {self.accounts}")
        if not self.days > 0:
            raise ValueError(f"days must be positive, got {self.days}")
        if not 0.0 <= self.attack_share <= 1.0:
            raise ValueError(f"attack_share must be within [0, 1], got {self.attack_share}")
        for name in _SHARES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        unknown = sorted(set(self.scenarios) - set(SCENARIOS))
        if unknown:
            raise ValueError(f"unknown scenarios {unknown}; known: {list(SCENARIOS)}")
        if self.attack_share > 0 and not self.scenarios:
            raise ValueError("attack_share > 0 needs at least one scenario")

    @property
    def start_epoch(self) -> float:
        return (self.start or DEFAULT_START).timestamp()

    @property
    def end_epoch(self) -> float:
        return self.start_epoch + self.days * 86400.0


class Label(msgspec.Struct, frozen=True):
    """Ground truth for one malicious event (published apart from the events)."""

    event_id: str
    account_id: str
    campaign_id: str
    scenario: str
    stage: str  # e.g. "recon_login", "password_change", "drain_transfer"
    variant: str | None = None  # e.g. account_takeover: "far_away" | "local_proxy"


@dataclass
class SimStats:
    events: int = 0
    malicious: int = 0
    campaigns: dict[str, int] = field(default_factory=dict)  # scenario -> campaigns seen
    accounts: int = 0


# (campaign_id, scenario, stage, variant) for a malicious draft, None for an honest one.
Tag = tuple[str, str, str, str | None] | None
# A draft event: (event time in epoch seconds, event with a placeholder id, tag).
Draft = tuple[float, Event, Tag]
Stream = Iterator[Draft]
