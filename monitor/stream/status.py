"""What the running stream knows about its own health, for ``/readyz`` and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StreamStatus:
    assigned: set[int] = field(default_factory=set)
    started: bool = False
    store_ok: bool = True
    last_store_error: str = ""
    lag: dict[int, int] = field(default_factory=dict)
    decided: int = 0
    commits: int = 0

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())
