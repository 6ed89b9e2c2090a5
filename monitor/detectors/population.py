"""Seeing problems early: spikes across the whole population, raised as ``ops`` alerts for
the support team (never as an account restriction).

Two detectors share one event-time clock of tumbling buckets (5 min by default):

* **rates** — payment failures per failure reason and per channel, failed and pending
  (not credited) top-ups, failed logins and password-reset requests, each as a share of
  its bucket (failures of payments, resets of all events), compared with its own
  baseline: the mean and spread of the previous ``baseline_buckets`` buckets. A bucket
  fires when it has ``min_events`` or more of the counted thing and is at least ``ratio``
  times the baseline *and* ``z`` standard deviations above it (the spread is at least
  the sampling noise of a rate over that many events, so a quiet baseline does not turn
  every blip into an alert). A bucket that fires is kept out of the baseline, so an
  incident does not become "normal" by lasting — unless it lasts longer than the whole
  baseline window, which is then the new normal.
* **credential stuffing** — failed logins from one IP, or one /24 (IPv6: /64), on
  ``stuffing_accounts`` or more distinct accounts within ``stuffing_window_s``. A subnet
  is not reported while one IP inside it is reported on its own.

Everything is evaluated when a bucket closes, i.e. on the first event of a later bucket,
so the outcome does not depend on the order of events inside a bucket. An event older
than the open bucket is ignored and counted in ``late_events``. Alerts carry a
deterministic ``event_id`` (scope + bucket start), so a replay — or another partition
firing for the same bucket — is deduplicated by the store, and a ``(kind, key)`` alerts at
most once per ``cooldown_s``.

State belongs to one Kafka partition. Events are keyed by account, so a partition sees a
uniform sample of the population: ``min_events`` and ``stuffing_accounts`` count what
*this* partition sees (with P partitions, divide population-level counts by P). Memory is
bounded: at most ``max_reasons`` failure-reason labels (then ``"other"``), ``max_ips`` IPs
and ``max_subnets`` subnets (least recently hit dropped first), and
``max_accounts_per_key`` accounts per IP or subnet. The feature dict is not read.

>>> from monitor.events import decode
>>> from monitor.testing import login
>>> mon = PopulationMonitor(stuffing_accounts=3)
>>> for i in range(3):
...     raw = login(f"a{i}", f"2026-01-01T00:0{i}:00Z", success=False, ip="203.0.113.7")
...     assert mon.observe(decode(raw), {}) == []
>>> [alert] = mon.observe(decode(login("b", "2026-01-01T00:05:00Z")), {})
>>> alert.account_id, alert.event_id, alert.severity, alert.actions, alert.queue
('ops:ip:203.0.113.7', 'ops:ip:203.0.113.7:1767225600', 'high', ['alert_support'], 'ops')
>>> print(alert.reasons[0].text)
credential stuffing: failed logins on 3 different accounts from one IP (203.0.113.7) in 10 min
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections import OrderedDict, deque
from collections.abc import Collection, Mapping
from typing import Any

from monitor.decision import Decision, Reason, Severity
from monitor.events import Event, Login, Payment, Security, Topup

__all__ = ["PopulationMonitor"]

QUEUE = "ops"
ACTIONS = ("alert_support",)  # support outreach only: nothing here restricts a customer
_SCORE: dict[Severity, float] = {"medium": 0.5, "high": 0.8}
_MAX_LABEL = 64  # failure reasons are free text on the wire; scopes and ids stay short

# rate kind -> rule id (the reason code is "ops:<kind>")
RATE_RULES = {
    "payment_failure": "ops_payment_failure_spike",
    "payment_failure_channel": "ops_payment_failure_channel_spike",
    "topup_failure": "ops_topup_failure_spike",
    "topup_pending": "ops_topup_pending_spike",
    "login_failure": "ops_login_failure_spike",
    "password_reset": "ops_password_reset_spike",
}
STUFFING_RULES = {"ip": "ops_credential_stuffing_ip", "subnet": "ops_credential_stuffing_subnet"}


class _Bucket:
    """Counts of one open event-time bucket."""

    __slots__ = (
        "events",
        "failed_by_channel",
        "failed_by_reason",
        "index",
        "login_failed",
        "logins",
        "payments",
        "payments_by_channel",
        "resets",
        "topup_failed",
        "topup_pending",
        "topups",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.events = self.payments = self.topups = self.logins = self.resets = 0
        self.topup_failed = self.topup_pending = self.login_failed = 0
        self.failed_by_reason: dict[str, int] = {}
        self.payments_by_channel: dict[str, int] = {}
        self.failed_by_channel: dict[str, int] = {}


class _Series:
    """The baseline of one rate: its last values, and how many buckets in a row fired."""

    __slots__ = ("run", "window")

    def __init__(self, size: int, zeros: int) -> None:
        self.window: deque[float] = deque([0.0] * zeros, maxlen=size)
        self.run = 0


class _Hits:
    """Failed logins from one IP or subnet: account -> latest time (and, for a subnet,
    IP -> latest time), and the bucket of the latest hit."""

    __slots__ = ("accounts", "ips", "stamp")

    def __init__(self, stamp: int) -> None:
        self.accounts: dict[str, float] = {}
        self.ips: dict[str, float] = {}
        self.stamp = stamp


class PopulationMonitor:
    """Population-level spike and credential-stuffing detector for one partition.

    ``observe`` returns the ops alerts that the event's arrival completed (usually none).
    Pure: no I/O, no wall clock, no randomness; picklable with the partition's state."""

    def __init__(
        self,
        *,
        bucket_s: float = 300.0,
        baseline_buckets: int = 24,
        warmup_buckets: int = 6,
        min_events: int = 20,
        ratio: float = 3.0,
        z: float = 4.0,
        stuffing_accounts: int = 8,
        stuffing_window_s: float = 600.0,
        cooldown_s: float = 1800.0,
        max_reasons: int = 16,
        max_ips: int = 20_000,
        max_subnets: int = 20_000,
        max_accounts_per_key: int | None = None,
        ignore_ips: Collection[str] = (),
        partition: int | None = None,
    ) -> None:
        if bucket_s <= 0 or stuffing_window_s <= 0 or cooldown_s < 0:
            raise ValueError("bucket_s and stuffing_window_s must be > 0, cooldown_s >= 0")
        if not 2 <= warmup_buckets <= baseline_buckets:
            raise ValueError("need 2 <= warmup_buckets <= baseline_buckets")
        if ratio < 1 or z < 0 or min_events < 1:
            raise ValueError("need ratio >= 1, z >= 0, min_events >= 1")
        if stuffing_accounts < 2 or min(max_reasons, max_ips, max_subnets) < 1:
            raise ValueError("need stuffing_accounts >= 2 and positive caps")
        per_key = 4 * stuffing_accounts if max_accounts_per_key is None else max_accounts_per_key
        if per_key < stuffing_accounts:
            raise ValueError("max_accounts_per_key must be >= stuffing_accounts")
        self.bucket_s = bucket_s
        self.baseline_buckets = baseline_buckets
        self.warmup_buckets = warmup_buckets
        self.min_events = min_events
        self.ratio = ratio
        self.z = z
        self.stuffing_accounts = stuffing_accounts
        self.stuffing_window_s = stuffing_window_s
        self.cooldown_s = cooldown_s
        self.max_reasons = max_reasons
        self.max_ips = max_ips
        self.max_subnets = max_subnets
        self.max_accounts_per_key = per_key
        self.ignore_ips = frozenset(ignore_ips)  # IPs or subnets ("198.51.100.0/24"), exact
        self.partition = partition
        # learned state
        self.late_events = 0
        self.buckets_closed = 0
        self._bucket: _Bucket | None = None
        self._series: dict[tuple[str, str], _Series] = {}
        self._reasons: dict[str, None] = {}  # payment failure labels, in first-seen order
        self._payment_buckets = 0  # closed buckets that had payments
        self._ips: OrderedDict[str, _Hits] = OrderedDict()  # least recently hit first
        self._subnets: OrderedDict[str, _Hits] = OrderedDict()
        self._fired: dict[str, float] = {}  # scope -> end of the bucket it last alerted

    # -- per event ------------------------------------------------------------------------
    def observe(
        self, event: Event, features: Mapping[str, Any], ts: float | None = None
    ) -> list[Decision]:
        """Count ``event`` into its bucket; return the alerts of any bucket it closed.
        ``features`` is accepted for a uniform detector call and not read; ``ts`` is the
        event time if the caller has it already (``event.epoch``)."""
        if ts is None:
            ts = event.epoch
        index = math.floor(ts / self.bucket_s)
        bucket = self._bucket
        alerts: list[Decision] = []
        if bucket is None:
            bucket = self._bucket = _Bucket(index)
        elif index != bucket.index:
            if index < bucket.index:
                self.late_events += 1
                return alerts
            alerts = self._close(bucket)
            bucket = self._bucket = _Bucket(index)
        bucket.events += 1
        if isinstance(event, Payment):
            bucket.payments += 1
            channel = event.channel or "unknown"
            by_channel = bucket.payments_by_channel
            by_channel[channel] = by_channel.get(channel, 0) + 1
            if event.status == "failed":
                label = self._label(event.failure_reason)
                failed = bucket.failed_by_reason
                failed[label] = failed.get(label, 0) + 1
                failed = bucket.failed_by_channel
                failed[channel] = failed.get(channel, 0) + 1
        elif isinstance(event, Login):
            bucket.logins += 1
            if not event.success:
                bucket.login_failed += 1
                if event.ip:
                    self._failed_login(event.ip, event.account_id, ts)
        elif isinstance(event, Topup):
            bucket.topups += 1
            if event.status == "failed":
                bucket.topup_failed += 1
            elif event.status == "pending":
                bucket.topup_pending += 1
        elif isinstance(event, Security) and event.action == "password_reset_requested":
            bucket.resets += 1
        return alerts

    def _label(self, reason: str | None) -> str:
        label = (reason or "unknown")[:_MAX_LABEL]
        if label in self._reasons:
            return label
        if len(self._reasons) < self.max_reasons:
            self._reasons[label] = None
            return label
        self._reasons["other"] = None  # tracked from now on, like any other label
        return "other"

    def failed_accounts(self, ip: str | None, ts: float) -> tuple[int, int]:
        """Distinct accounts with failed logins from ``ip`` and from its /24 within the
        stuffing window before ``ts`` (this partition's sample) — a per-event feature
        for rules. Cheap when the IP never failed: two dict lookups."""
        if not ip:
            return 0, 0
        since = ts - self.stuffing_window_s
        per_ip = self._ips.get(ip)
        n_ip = sum(1 for t in per_ip.accounts.values() if t > since) if per_ip else 0
        n_subnet = 0
        if self._subnets and "." in ip and ":" not in ip:
            per_net = self._subnets.get(ip.rsplit(".", 1)[0] + ".0/24")
            if per_net is not None:
                n_subnet = sum(1 for t in per_net.accounts.values() if t > since)
        return n_ip, n_subnet

    def _failed_login(self, ip: str, account_id: str, ts: float) -> None:
        keys = _keys(ip)
        if keys is None:
            return  # not an address: nothing to group by
        key, subnet = keys
        if key not in self.ignore_ips:
            self._hit(self._ips, key, self.max_ips, account_id, ts)
        if subnet not in self.ignore_ips:
            hits = self._hit(self._subnets, subnet, self.max_subnets, account_id, ts)
            self._bump(hits.ips, key, ts)

    def _hit(
        self, table: OrderedDict[str, _Hits], key: str, cap: int, account_id: str, ts: float
    ) -> _Hits:
        index = self._bucket.index if self._bucket is not None else 0
        hits = table.get(key)
        if hits is None:
            hits = table[key] = _Hits(index)
            if len(table) > cap:
                table.popitem(last=False)
        else:
            hits.stamp = index
            table.move_to_end(key)
        self._bump(hits.accounts, account_id, ts)
        return hits

    def _bump(self, seen: dict[str, float], key: str, ts: float) -> None:
        if seen.get(key, -math.inf) < ts:
            seen[key] = ts
            if len(seen) > self.max_accounts_per_key:
                del seen[min(seen, key=seen.__getitem__)]

    # -- per closed bucket ----------------------------------------------------------------
    def _close(self, bucket: _Bucket) -> list[Decision]:
        start = bucket.index * self.bucket_s
        alerts: list[Decision] = []
        self._close_rates(bucket, start, alerts)
        self._close_stuffing(bucket.index, alerts)
        end = start + self.bucket_s
        for scope in [s for s, t in self._fired.items() if end - t >= self.cooldown_s]:
            del self._fired[scope]
        self.buckets_closed += 1
        return alerts

    def _close_rates(self, b: _Bucket, start: float, alerts: list[Decision]) -> None:
        if b.payments:
            for label in sorted(self._reasons):
                failed = b.failed_by_reason.get(label, 0)
                # a reason first seen now was 0 in every earlier bucket with payments
                self._check("payment_failure", label, failed, b.payments, start, alerts, True)
            self._payment_buckets += 1
            for channel in sorted(b.payments_by_channel):
                failed = b.failed_by_channel.get(channel, 0)
                total = b.payments_by_channel[channel]
                self._check("payment_failure_channel", channel, failed, total, start, alerts)
        if b.topups:
            self._check("topup_failure", "", b.topup_failed, b.topups, start, alerts)
            self._check("topup_pending", "", b.topup_pending, b.topups, start, alerts)
        if b.logins:
            self._check("login_failure", "", b.login_failed, b.logins, start, alerts)
        self._check("password_reset", "", b.resets, b.events, start, alerts)

    def _check(
        self,
        kind: str,
        label: str,
        count: int,
        total: int,
        start: float,
        alerts: list[Decision],
        zeros_before: bool = False,
    ) -> None:
        series = self._series.get((kind, label))
        if series is None:
            zeros = min(self._payment_buckets, self.baseline_buckets) if zeros_before else 0
            series = self._series[(kind, label)] = _Series(self.baseline_buckets, zeros)
        window = series.window
        rate = count / total
        n = len(window)
        if n < self.warmup_buckets or count < self.min_events:
            series.run = 0
            window.append(rate)
            return
        mean = math.fsum(window) / n
        spread = math.sqrt(math.fsum((x - mean) ** 2 for x in window) / (n - 1))
        std = max(spread, math.sqrt(mean * (1.0 - mean) / total))  # at least sampling noise
        if not (rate > mean and rate >= self.ratio * mean and rate >= mean + self.z * std):
            series.run = 0
            window.append(rate)
            return
        series.run += 1
        if series.run > self.baseline_buckets:  # outlasted the whole window: normal now
            window.append(rate)
        scope = f"ops:{kind}:{label}" if label else f"ops:{kind}"
        if not self._may_fire(scope, start + self.bucket_s):
            return
        text = _rate_text(kind, label, count, total, rate, mean, self.bucket_s)
        if series.run > 1:
            text += f" (for {_duration(series.run * self.bucket_s)})"
        values: dict[str, Any] = {
            "count": count,
            "total": total,
            "rate": round(rate, 4),
            "baseline_rate": round(mean, 4),
            "baseline_std": round(std, 4),
            "ratio": round(rate / mean, 1) if mean > 0 else None,
            "z": round((rate - mean) / std, 1) if std > 0 else None,
            "baseline_buckets": n,
            "ongoing_s": series.run * self.bucket_s,
        }
        alerts.append(self._alert(kind, scope, start, RATE_RULES[kind], "medium", text, values))

    def _close_stuffing(self, index: int, alerts: list[Decision]) -> None:
        # A table is in order of last hit, and hits come in bucket order (late events are
        # dropped): entries hit in the closing bucket are its tail, expired ones its head.
        start = index * self.bucket_s
        horizon = start + self.bucket_s - self.stuffing_window_s
        found: dict[str, list[tuple[str, _Hits]]] = {"ip": [], "subnet": []}
        for kind, table in (("ip", self._ips), ("subnet", self._subnets)):
            while table:
                oldest = next(iter(table))
                if (table[oldest].stamp + 1) * self.bucket_s > horizon:
                    break
                del table[oldest]
            for key in reversed(table):
                hits = table[key]
                if hits.stamp != index:
                    break
                hits.accounts = {a: t for a, t in hits.accounts.items() if t > horizon}
                hits.ips = {ip: t for ip, t in hits.ips.items() if t > horizon}
                if len(hits.accounts) >= self.stuffing_accounts:
                    found[kind].append((key, hits))
        # one IP on its own explains its subnet: report the subnet only for rotating IPs
        covered = {_subnet(ipaddress.ip_address(ip)) for ip, _ in found["ip"]}
        found["subnet"] = [(k, h) for k, h in found["subnet"] if k not in covered]
        for kind in ("ip", "subnet"):
            for key, hits in sorted(found[kind], key=lambda item: item[0]):
                scope = f"ops:{kind}:{key}"
                if self._may_fire(scope, start + self.bucket_s):
                    alerts.append(self._stuffing_alert(kind, key, hits, scope, start))

    def _stuffing_alert(
        self, kind: str, key: str, hits: _Hits, scope: str, start: float
    ) -> Decision:
        accounts = len(hits.accounts)
        many = f"at least {accounts}" if accounts >= self.max_accounts_per_key else f"{accounts}"
        where = (
            f"one IP ({key})"
            if kind == "ip"
            else f"{len(hits.ips)} {'IP' if len(hits.ips) == 1 else 'IPs'} in {key}"
        )
        text = (
            f"credential stuffing: failed logins on {many} different accounts from {where}"
            f" in {_duration(self.stuffing_window_s)}"
        )
        values: dict[str, Any] = {
            kind: key,
            "accounts": accounts,
            "window_s": self.stuffing_window_s,
            "first_ts": min(hits.accounts.values()),
            "last_ts": max(hits.accounts.values()),
            "accounts_sample": sorted(hits.accounts)[:5],
        }
        if kind == "subnet":
            values["ips"] = len(hits.ips)
        return self._alert(kind, scope, start, STUFFING_RULES[kind], "high", text, values)

    def _may_fire(self, scope: str, end: float) -> bool:
        """Cooldown per scope; records the alert if it may fire."""
        last = self._fired.get(scope)
        if last is not None and end - last < self.cooldown_s:
            return False
        self._fired.pop(scope, None)
        self._fired[scope] = end  # insertion order = firing order
        while len(self._fired) > self.max_ips + self.max_subnets + 4 * self.max_reasons:
            del self._fired[next(iter(self._fired))]
        return True

    def _alert(
        self,
        kind: str,
        scope: str,
        start: float,
        rule_id: str,
        severity: Severity,
        text: str,
        values: dict[str, Any],
    ) -> Decision:
        values["bucket_start"] = start
        values["bucket_s"] = self.bucket_s
        if self.partition is not None:
            values["partition"] = self.partition  # the numbers are this partition's sample
        return Decision(
            event_id=f"{scope}:{_epoch(start)}",
            account_id=scope,
            event_type="ops",
            event_ts=start + self.bucket_s,
            severity=severity,
            score=_SCORE[severity],
            anomaly_score=None,
            rule_ids=[rule_id],
            reasons=[Reason(code=f"ops:{kind}", text=text, rule_id=rule_id, values=values)],
            actions=list(ACTIONS),
            queue=QUEUE,
        )


def _rate_text(
    kind: str, label: str, count: int, total: int, rate: float, mean: float, bucket_s: float
) -> str:
    window, usual = _duration(bucket_s), _pct(mean)
    if kind == "password_reset":
        return (
            f"password-reset requests {count:,} in {window} ({_pct(rate)} of {total:,} events),"
            f" usual {usual}"
        )
    what, of = {
        "payment_failure": (f"payment failures ({label})", "payments"),
        "payment_failure_channel": (f"payment failures on {label}", f"{label} payments"),
        "topup_failure": ("failed top-ups", "top-ups"),
        "topup_pending": ("top-ups pending, not credited,", "top-ups"),
        "login_failure": ("failed logins", "logins"),
    }[kind]
    return f"{what} {_pct(rate)} of {total:,} {of} in {window}, usual {usual}"


def _pct(x: float) -> str:
    """A share in two significant digits: 0.18 -> '18%', 0.021 -> '2.1%', 0.004 -> '0.4%'."""
    v = x * 100.0
    return f"{v:.0f}%" if v >= 10 else f"{v:.2g}%"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _epoch(t: float) -> str:
    return str(int(t)) if t == int(t) else repr(t)


@functools.lru_cache(maxsize=8192)
def _keys(ip: str) -> tuple[str, str] | None:
    """The canonical text of address ``ip`` and of its subnet, or None if ``ip`` is not
    an address. Cached (a pure function): a stuffing attack repeats its IPs, and parsing
    one with ``ipaddress`` costs ~5 µs."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return str(addr), _subnet(addr)


def _subnet(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The /24 (IPv6: /64) an address is in, e.g. ``203.0.113.0/24``."""
    if addr.version == 4:
        return f"{ipaddress.IPv4Address(int(addr) & 0xFFFFFF00)}/24"
    return f"{ipaddress.IPv6Address(int(addr) >> 64 << 64)}/64"
