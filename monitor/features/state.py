"""Per-account state, kept by event time, with bounded memory.

Windows are sorted lists of event times: an event that arrives out of order is
inserted in its place, so counts do not depend on arrival order. Novelty sets
(devices, IPs, countries, payees) are insertion-ordered dicts used as small LRUs.

>>> s = AccountState()
>>> seen = [("d1", 1.0), ("d2", 2.0), ("d1", 3.0), ("d3", 4.0)]
>>> [s.remember("devices", d, t, 2) for d, t in seen]
[True, True, False, True]
>>> list(s.devices)   # d2 was least recently used
['d1', 'd3']
>>> w: list[float] = []
>>> for t in (10.0, 30.0, 20.0):
...     add_to_window(w, t, horizon=1000.0)
>>> w, count_in_window(w, 30.0, 15.0)
([10.0, 20.0, 30.0], 2)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

# Sizes of the novelty LRUs: large enough for honest variety, small enough to bound memory.
MAX_DEVICES = 8
MAX_IPS = 16
MAX_COUNTRIES = 8
MAX_PAYEES = 32
MAX_SOURCES = 8


def add_to_window(window: list[float], ts: float, horizon: float) -> None:
    """Insert ``ts`` in order and drop entries older than ``newest - horizon``."""
    if not window or ts >= window[-1]:
        window.append(ts)
    else:
        insort(window, ts)
    cut = window[-1] - horizon
    if window[0] < cut:
        del window[: bisect_left(window, cut)]


def count_in_window(window: list[float], ts: float, width: float) -> int:
    """Entries in ``(ts - width, ts]``."""
    return bisect_right(window, ts) - bisect_right(window, ts - width)


class AccountState:
    """Everything Vigil remembers about one account. Plain slots, no per-account
    river objects: a few hundred bytes per account instead of kilobytes."""

    __slots__ = (
        "amount_m2",
        "amount_mean",
        "amount_n",
        "countries",
        "devices",
        "events",
        "failed_logins",
        "failed_payments",
        "ips",
        "last_geo",
        "last_security_change",
        "last_topup",
        "last_ts",
        "payees",
        "reset_requests",
        "small_failed_payments",
        "sources",
    )

    def __init__(self) -> None:
        self.events = 0
        self.last_ts = 0.0
        self.devices: dict[str, float] = {}
        self.ips: dict[str, float] = {}
        self.countries: dict[str, float] = {}
        self.payees: dict[str, float] = {}
        self.sources: dict[str, float] = {}  # top-up cards/bank accounts
        self.failed_logins: list[float] = []
        self.failed_payments: list[float] = []
        self.small_failed_payments: list[float] = []
        self.reset_requests: list[float] = []
        # Welford's running mean/variance of payment amounts (three floats per account;
        # a river ``stats.Var`` per account would cost ~1 KB each).
        self.amount_n = 0
        self.amount_mean = 0.0
        self.amount_m2 = 0.0
        self.last_geo: tuple[float, float, float, str] | None = None  # lat, lon, ts, city
        self.last_security_change: float | None = None
        self.last_topup: tuple[float, float, bool] | None = None  # ts, amount, new source

    def remember(self, attr: str, key: str, ts: float, limit: int) -> bool:
        """Mark ``key`` as seen in the LRU ``attr``; return True if it was new."""
        seen: dict[str, float] = getattr(self, attr)
        new = seen.pop(key, None) is None
        seen[key] = ts
        if len(seen) > limit:
            del seen[next(iter(seen))]
        return new

    def add_amount(self, amount: float) -> None:
        self.amount_n += 1
        delta = amount - self.amount_mean
        self.amount_mean += delta / self.amount_n
        self.amount_m2 += delta * (amount - self.amount_mean)

    @property
    def amount_std(self) -> float:
        return (self.amount_m2 / (self.amount_n - 1)) ** 0.5 if self.amount_n > 1 else 0.0
