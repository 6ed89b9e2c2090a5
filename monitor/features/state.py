"""Per-account state, kept by event time, with bounded memory.

Windows are sorted ``array('d')`` of event times: an event that arrives out of order is
inserted in its place, so counts do not depend on arrival order. Windows are created on
first use (most accounts never fail a login), and dropped past their horizon.

Novelty sets (devices, IPs, subnets, countries, payees, top-up sources) keep stable
32-bit CRCs of the values in small ``array('I')`` LRUs: 4 bytes an entry instead of a
string and a dict slot (~100 bytes), and the same after a restart (``hash()`` is not).

>>> s = AccountState()
>>> seen = [("d1", 1.0), ("d2", 2.0), ("d1", 3.0), ("d3", 4.0)]
>>> [s.remember("devices", d, 2) for d, _ in seen]
[True, True, False, True]
>>> len(s.devices)   # d2 was least recently used and dropped
2
>>> w = new_window()
>>> for t in (10.0, 30.0, 20.0):
...     add_to_window(w, t, horizon=1000.0)
>>> list(w), count_in_window(w, 30.0, 15.0)
([10.0, 20.0, 30.0], 2)
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from zlib import crc32

from river import stats

# Sizes of the novelty LRUs: large enough for honest variety, small enough to bound memory.
LIMITS = {
    "devices": 8,
    "ips": 16,
    "subnets": 8,
    "countries": 8,
    "payees": 32,
    "sources": 8,
    "bound_devices": 4,
}
MAX_WINDOW = 512  # entries kept per window at most (a flood cannot grow state unbounded)


def new_window() -> array[float]:
    return array("d")


def add_to_window(window: array[float], ts: float, horizon: float) -> None:
    """Insert ``ts`` in order; drop entries older than ``newest - horizon``."""
    if not window or ts >= window[-1]:
        window.append(ts)
    else:
        insort(window, ts)
    cut = window[-1] - horizon
    if window[0] < cut:
        del window[: bisect_left(window, cut)]
    if len(window) > MAX_WINDOW:
        del window[: len(window) - MAX_WINDOW]


def count_in_window(window: array[float] | None, ts: float, width: float) -> int:
    """Entries in ``(ts - width, ts]``."""
    if not window:
        return 0
    return bisect_right(window, ts) - bisect_right(window, ts - width)


def key_of(value: str) -> int:
    return crc32(value.encode())


class AccountState:
    """Everything Vigil remembers about one account: plain slots, arrays created on
    first use. Amount statistics are river's (``stats.Var`` for mean and variance,
    ``stats.Quantile`` for the median), created with the first payment."""

    __slots__ = (
        "amount_max",
        "amount_median",
        "amount_var",
        "bound_devices",
        "countries",
        "devices",
        "events",
        "failed_logins",
        "failed_payments",
        "failed_topups",
        "first_ts",
        "ips",
        "large_outflows",
        "last_change",
        "last_device",
        "last_geo",
        "last_ip",
        "last_method",
        "last_new_country",
        "last_new_device",
        "last_new_subnet",
        "last_topup",
        "last_ts",
        "logins",
        "outflow_amounts",
        "outflows",
        "payees",
        "payment_amounts",
        "payments",
        "reset_requests",
        "small_failed_payments",
        "sources",
        "subnets",
        "topups",
    )

    def __init__(self) -> None:
        self.events = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.devices: array[int] | None = None
        self.ips: array[int] | None = None
        self.subnets: array[int] | None = None
        self.countries: array[int] | None = None
        self.payees: array[int] | None = None
        self.sources: array[int] | None = None
        self.bound_devices: array[int] | None = None  # bound by a device_bound event
        # the last device and IP as given: most events repeat them, and comparing two
        # strings is ~10x cheaper than hashing one into the LRU (see _novelty)
        self.last_device: str | None = None
        self.last_ip: str | None = None
        # event-time windows (sorted times), created on first use
        self.logins: array[float] | None = None
        self.failed_logins: array[float] | None = None
        self.payments: array[float] | None = None
        self.payment_amounts: array[float] | None = None  # parallel to ``payments``
        self.outflows: array[float] | None = None  # transfers and withdrawals
        self.outflow_amounts: array[float] | None = None
        self.large_outflows: array[float] | None = None
        self.failed_payments: array[float] | None = None
        self.small_failed_payments: array[float] | None = None
        self.topups: array[float] | None = None
        self.failed_topups: array[float] | None = None
        self.reset_requests: array[float] | None = None
        # amounts (succeeded and pending payments)
        self.amount_var: stats.Var | None = None
        self.amount_median: stats.Quantile | None = None
        self.amount_max = 0.0
        self.last_geo: tuple[float, float, float, str] | None = None  # lat, lon, ts, city
        self.last_method: str | None = None
        self.last_new_device = 0.0  # event time a never-seen device last appeared (0: never)
        self.last_new_subnet = 0.0
        self.last_new_country = 0.0
        # event time of the last security change by kind (password, contact, mfa, device)
        self.last_change: dict[str, float] | None = None
        self.last_topup: tuple[float, float, bool] | None = None  # ts, amount, new source

    def remember(self, attr: str, value: str, limit: int | None = None) -> bool:
        """Mark ``value`` as seen in the LRU ``attr``; return True if it was new."""
        seen: array[int] | None = getattr(self, attr)
        key = key_of(value)
        if seen and seen[-1] == key:  # the usual case: same device/IP as last time
            return False
        if seen is None:
            setattr(self, attr, array("I", (key,)))
            return True
        try:
            seen.remove(key)
        except ValueError:
            seen.append(key)
            if len(seen) > (limit or LIMITS[attr]):
                del seen[0]
            return True
        seen.append(key)
        return False

    def window(self, attr: str) -> array[float]:
        """The window ``attr``, created if missing."""
        w: array[float] | None = getattr(self, attr)
        if w is None:
            w = array("d")
            setattr(self, attr, w)
        return w

    def add_amount(self, amount: float) -> None:
        if self.amount_var is None:
            self.amount_var = stats.Var()
            self.amount_median = stats.Quantile(0.5)
        self.amount_var.update(amount)
        assert self.amount_median is not None
        self.amount_median.update(amount)
        self.amount_max = max(self.amount_max, amount)

    @property
    def amount_n(self) -> int:
        return int(self.amount_var.mean.n) if self.amount_var is not None else 0

    @property
    def amount_mean(self) -> float:
        return self.amount_var.mean.get() if self.amount_var is not None else 0.0

    @property
    def amount_std(self) -> float:
        var = self.amount_var
        return var.get() ** 0.5 if var is not None and var.mean.n > 1 else 0.0
