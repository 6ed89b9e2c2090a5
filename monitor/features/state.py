"""Per-account state, kept by event time, in a few compact containers.

Memory is the constraint (≤ 2 KB per tracked account at a million accounts), so the
state is three parallel containers for every event-time mark plus one byte string for
every novelty set, instead of a Python list or set per feature:

- ``times`` (``array('d')``, sorted), ``marks`` (``bytearray``: what happened) and
  ``amounts`` (``array('f')``: money, 0 for non-payments) hold the last 24 hours. An
  event that arrives out of order is inserted in its place, so counts do not depend on
  arrival order. A window is found by bisecting ``times``; the extractor then counts
  every kind it needs in one compiled pass over its marks (:meth:`count` counts one).
- ``seen`` holds 4-byte keys (3 bits of kind, 29 bits of CRC-32 of the value) of the
  devices, IPs, subnets, countries, payees, top-up sources and bound devices seen,
  least recently used first; a lookup is ``bytes.find``. CRC-32 rather than ``hash()``:
  the same after a restart, so checkpoints stay valid.
- ``recent`` holds the events folded in within the grace period, so a redelivered copy
  is recognised (:meth:`AccountState.admit`): 16-byte records (event time as a double,
  then a 64-bit key of the event id: CRC-32 and Adler-32, stable across restarts) in
  event-time order, in one immutable ``bytes`` (``b""`` when empty, shared). Most
  accounts hold one record (their newest event): 56 bytes.

>>> s = AccountState()
>>> [s.remember(DEVICE, d) for d in ("d1", "d2", "d1", "d1", "d3")]
[True, True, False, False, True]
>>> s.knows(DEVICE, "d2"), s.knows(PAYEE, "d2"), s.count_known(DEVICE)
(True, False, 3)
>>> for t in (10.0, 30.0, 20.0):
...     s.mark(t, LOGIN_FAILED)
>>> list(s.times), s.count(LOGIN_FAILED, 30.0, 15.0)
([10.0, 20.0, 30.0], 2)
>>> s.admit("e1", 100.0, -200.0), s.admit("e2", 150.0, -150.0), s.admit("e1", 100.0, -150.0)
(True, True, False)
>>> s.admit("e3", 500.0, 200.0), s.recent_count()   # e1 and e2 are beyond the grace
(True, 1)
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from struct import Struct
from typing import Final
from zlib import adler32, crc32

from river import stats

# --- what a mark records (one byte each) ---
# Final: mypyc inlines Final constants instead of looking each up in the module dict
LOGIN_OK: Final = 1
LOGIN_FAILED: Final = 2
RESET_REQUEST: Final = 3
PURCHASE: Final = 4  # succeeded or pending
OUTFLOW: Final = 5
LARGE_OUTFLOW: Final = 6
PAYMENT_FAILED: Final = 7
SMALL_PAYMENT_FAILED: Final = 8
TOPUP: Final = 9
TOPUP_FAILED: Final = 10

HORIZON: Final = 86400.0  # marks older than a day behind the newest are dropped
MAX_MARKS: Final = 512  # ... and at most this many: a flood cannot grow state without bound

# --- novelty kinds and how many of each are remembered (LRU) ---
DEVICE: Final = 0
IP: Final = 1
SUBNET: Final = 2
COUNTRY: Final = 3
PAYEE: Final = 4
SOURCE: Final = 5
BOUND_DEVICE: Final = 6
LIMITS = (8, 16, 8, 8, 32, 8, 4)
_HASH: Final = (1 << 29) - 1
_BITS: Final = 6  # per-kind counters packed in one int (limits < 64)

# --- recent event ids (redelivered copies) ---
MAX_RECENT: Final = 64  # records kept at most: a flood cannot grow state without bound
_record = Struct("<dII").pack  # event time, CRC-32 and Adler-32 of the event id: 16 bytes
_ts_at = Struct("<d").unpack_from


def _key(kind: int, value: str) -> bytes:
    return ((kind << 29) | (crc32(value.encode()) & _HASH)).to_bytes(4, "little")


def _find(seen: bytearray, key: bytes) -> int:
    """Offset of ``key`` on a 4-byte boundary, or -1."""
    i = seen.find(key)
    while i != -1 and i % 4:
        i = seen.find(key, i + 1)
    return i


# every attribute of an account state (the codec and the tests walk them); the class
# is compiled by mypyc (setup.py), whose classes do not expose ``__slots__``
FIELDS = (
    "amount_m2",
    "amount_max",
    "amount_mean",
    "amount_median",
    "amount_n",
    "amounts",
    "cooldowns",
    "events",
    "first_ts",
    "last_change",
    "last_city",
    "last_geo",
    "last_method",
    "last_new",
    "last_topup",
    "last_ts",
    "marks",
    "novelty_fp",
    "recent",
    "seen",
    "seen_counts",
    "times",
)


class AccountState:
    """Everything Vigil remembers about one account. The payment-amount median is
    river's ``stats.Quantile`` (robust to the odd huge purchase); mean and variance are
    Welford's three numbers in slots (a river ``stats.Var`` per account costs ~265 B)."""

    __slots__ = FIELDS

    def __init__(self) -> None:
        self.events = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.times: array[float] = array("d")
        self.marks = bytearray()
        self.amounts: array[float] = array("f")
        self.seen = bytearray()
        self.seen_counts = 0
        self.novelty_fp = 0  # hash of the last (device, ip, country) remembered
        self.amount_n = 0
        self.amount_mean = 0.0
        self.amount_m2 = 0.0
        self.amount_max = 0.0
        self.amount_median: stats.Quantile | None = None
        self.last_geo: array[float] | None = None  # lat, lon, event time
        self.last_city = ""  # interned: shared by every account in the same city
        self.last_method: str | None = None
        # event time a never-seen device, subnet, country last appeared (0: never)
        self.last_new: array[float] | None = None
        # event time of the last security change by kind (password, contact, mfa, device)
        self.last_change: dict[str, float] | None = None
        self.last_topup: tuple[float, float, bool] | None = None  # ts, amount, new source
        self.cooldowns: dict[str, float] | None = None  # rule id -> event time it last fired
        self.recent = b""  # events folded in lately: see admit()

    # -- redelivered copies ---------------------------------------------------------
    def admit(self, event_id: str, ts: float, cutoff: float) -> bool:
        """Remember event ``event_id`` at event time ``ts`` and return True, or return
        False (and change nothing) if it was remembered before: a copy, already folded in.

        Records older than ``cutoff`` (the account's newest event time after this one,
        minus the grace period) are dropped: a copy that old is late, never a duplicate.
        At most :data:`MAX_RECENT` records are kept, the newest by event time; a copy of
        an event dropped by that cap is not recognised. A copy carries its original's
        event time, so an event newer than every record is new without a search (the
        common case)."""
        b = event_id.encode()
        record = _record(ts, crc32(b), adler32(b))
        recent = self.recent
        if not recent:
            self.recent = record
            return True
        n = len(recent)
        newest = _ts_at(recent, n - 16)[0]  # records are in event-time order
        if newest < cutoff:  # common: nothing remembered within the grace period
            self.recent = record
            return True
        if ts <= newest:  # a copy has its original's event time: never newer than all
            key = record[8:]
            i = recent.find(key, 8)
            while i != -1 and i & 15 != 8:  # keys sit at 8 mod 16
                i = recent.find(key, i + 1)
            if i != -1:
                return False
        if n > 16 and _ts_at(recent, 0)[0] < cutoff:  # drop what is beyond the grace
            lo = 16
            while _ts_at(recent, lo)[0] < cutoff:  # stops: the newest is not
                lo += 16
            recent = recent[lo:]
        if ts >= newest:  # in order (most events)
            recent += record
        else:
            hi = len(recent) - 16
            while hi > 0 and _ts_at(recent, hi - 16)[0] > ts:
                hi -= 16
            recent = recent[:hi] + record + recent[hi:]
        if len(recent) > MAX_RECENT * 16:  # the oldest by event time goes (maybe this one)
            recent = recent[16:]
        self.recent = recent
        return True

    def recent_count(self) -> int:
        """Events remembered for :meth:`admit`."""
        return len(self.recent) // 16

    # -- novelty -------------------------------------------------------------------
    def remember(self, kind: int, value: str) -> bool:
        """Mark ``value`` as seen (most recently used); return True if it was new."""
        # _key and _find inlined: ~4 calls per event on the hot path
        key = ((kind << 29) | (crc32(value.encode()) & _HASH)).to_bytes(4, "little")
        seen = self.seen
        i = seen.find(key)
        while i != -1 and i & 3:
            i = seen.find(key, i + 1)
        if i != -1:  # known: now the most recently used
            if i != len(seen) - 4:
                del seen[i : i + 4]
                seen += key
            return False
        seen += key
        shift = kind * _BITS
        if (self.seen_counts >> shift) & 63 < LIMITS[kind]:
            self.seen_counts += 1 << shift
        else:  # full: forget the least recently used of this kind
            for j in range(0, len(seen), 4):
                if seen[j + 3] >> 5 == kind:
                    del seen[j : j + 4]
                    break
        return True

    def knows(self, kind: int, value: str) -> bool:
        return _find(self.seen, _key(kind, value)) != -1

    def count_known(self, kind: int) -> int:
        return (self.seen_counts >> (kind * _BITS)) & 63

    # -- event-time marks ---------------------------------------------------------------
    def mark(self, ts: float, what: int, amount: float = 0.0) -> None:
        """Record that ``what`` happened at event time ``ts``."""
        times = self.times
        if not times or ts >= times[-1]:
            times.append(ts)
            self.marks.append(what)
            self.amounts.append(amount)
        else:
            i = bisect_right(times, ts)
            times.insert(i, ts)
            self.marks.insert(i, what)
            self.amounts.insert(i, amount)
        cut = times[-1] - HORIZON
        n = bisect_left(times, cut) if times[0] < cut else 0
        n = max(n, len(times) - MAX_MARKS)
        if n > 0:
            del times[:n]
            del self.marks[:n]
            del self.amounts[:n]

    def span(self, ts: float, width: float) -> tuple[int, int]:
        """Index range of the marks in ``(ts - width, ts]``."""
        times = self.times
        return bisect_right(times, ts - width), bisect_right(times, ts)

    def count(self, what: int, ts: float, width: float) -> int:
        lo, hi = self.span(ts, width)
        return self.marks.count(what, lo, hi) if hi > lo else 0

    # -- amounts ------------------------------------------------------------------
    def add_amount(self, amount: float) -> None:
        if self.amount_median is None:
            self.amount_median = stats.Quantile(0.5)
        self.amount_median.update(amount)
        self.amount_n += 1
        delta = amount - self.amount_mean
        self.amount_mean += delta / self.amount_n
        self.amount_m2 += delta * (amount - self.amount_mean)
        if amount > self.amount_max:
            self.amount_max = amount

    @property
    def amount_std(self) -> float:
        n = self.amount_n
        return (self.amount_m2 / (n - 1)) ** 0.5 if n > 1 else 0.0
