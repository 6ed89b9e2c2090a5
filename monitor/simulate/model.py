"""The simulator's public value types: its configuration, ground-truth labels and run statistics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from monitor.events import Event

__all__ = ["DEFAULT_START", "SCENARIOS", "Draft", "Label", "SimConfig", "SimStats", "Stream", "Tag"]

SCENARIOS: tuple[str, ...] = (
    "account_takeover",
    "credential_stuffing",
    "brute_force",
    "card_testing",
    "topup_withdrawal",
)
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Equal configs produce byte-identical streams."""

    accounts: int = 1000
    days: float = 1.0
    seed: int = 7
    start: datetime | None = None  # tz-aware UTC; None -> 2026-01-05T00:00:00Z
    attack_share: float = 0.02  # fraction of accounts that get an attack campaign
    scenarios: tuple[str, ...] = SCENARIOS

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError(f"accounts must be at least 1, got {self.accounts}")
        if not self.days > 0:
            raise ValueError(f"days must be positive, got {self.days}")
        if not 0.0 <= self.attack_share <= 1.0:
            raise ValueError(f"attack_share must be within [0, 1], got {self.attack_share}")
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


@dataclass
class SimStats:
    events: int = 0
    malicious: int = 0
    campaigns: dict[str, int] = field(default_factory=dict)  # scenario -> campaigns seen
    accounts: int = 0


# (campaign_id, scenario, stage) for a malicious draft, None for an honest one.
Tag = tuple[str, str, str] | None
# A draft event: (event time in epoch seconds, event with a placeholder id, tag).
Draft = tuple[float, Event, Tag]
Stream = Iterator[Draft]
