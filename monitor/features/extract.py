"""Turn one event plus its account's state into the feature dict rules and models read.

Features describe the event against what the account did *before* it (novelty,
deviation), then the state is updated with the event. All times are event times; the
caller passes ``ts`` (``event.epoch``) so it is computed once per event.

>>> from monitor.events import decode
>>> from monitor.testing import login
>>> st = AccountState()
>>> e1 = decode(login("a", "2026-01-01T00:00:00Z", success=False, device_id="d1"))
>>> f = extract(st, e1, e1.epoch)
>>> f["failed_logins_10m"], f["new_device"]
(1, False)
>>> e2 = decode(login("a", "2026-01-01T00:01:00Z", device_id="d2"))
>>> f = extract(st, e2, e2.epoch)
>>> f["failed_logins_10m"], f["new_device"], f["account_events"], f["logins_1h"]
(1, True, 1, 1)
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

from monitor.events import Event, Login, Payment, Security, Topup
from monitor.features.geo import haversine_km
from monitor.features.state import (
    AccountState,
    add_to_window,
    count_in_window,
    key_of,
)
from monitor.features.table import NEVER

__all__ = ["AccountState", "extract"]

TEN_MIN = 600.0
HOUR = 3600.0
DAY = 86400.0
SMALL_AMOUNT = 5.0
LARGE_FACTOR = 3.0  # an outflow this many times the account's median is "large"
# security actions -> the "last change" slot they update
CHANGES = {
    "password_changed": "password",
    "phone_changed": "contact",
    "email_changed": "contact",
    "mfa_disabled": "mfa",
    "device_bound": "device",
}


def extract(state: AccountState, event: Event, ts: float) -> dict[str, Any]:
    """Compute the features of ``event`` (at event time ``ts``) and fold it into ``state``."""
    known = state.events > 0
    if not known:
        state.first_ts = ts
    geo = event.geo
    f: dict[str, Any] = {
        "type": event.type,
        "channel": event.channel or "",
        "country": geo.country if geo else "",
        "city": (geo.city or geo.country) if geo else "",
        "account_events": state.events,
        "account_age_days": max(0.0, ts - state.first_ts) / DAY,
    }
    _novelty(state, event, ts, known, f)
    _geography(state, event, ts, f)

    if isinstance(event, Login):
        f["success"] = event.success
        f["method"] = event.method
        f["failure_reason"] = event.failure_reason or ""
        f["method_changed"] = (
            event.success and state.last_method is not None and event.method != state.last_method
        )
        if event.success:
            add_to_window(state.window("logins"), ts, HOUR)
            state.last_method = event.method
        else:
            add_to_window(state.window("failed_logins"), ts, HOUR)
    elif isinstance(event, Payment):
        _payment(state, event, ts, f)
    elif isinstance(event, Topup):
        _topup(state, event, ts, f)
    elif isinstance(event, Security):
        f["success"] = event.success
        f["action"] = event.action
        kind = CHANGES.get(event.action)
        if event.success and kind is not None:
            changes = state.last_change
            if changes is None:
                changes = state.last_change = {}
            changes[kind] = max(ts, changes.get(kind, ts))
        if event.success and event.action == "device_bound" and event.device_id is not None:
            state.remember("bound_devices", event.device_id)
        if event.action == "password_reset_requested":
            add_to_window(state.window("reset_requests"), ts, HOUR)

    f["failed_logins_10m"] = count_in_window(state.failed_logins, ts, TEN_MIN)
    f["failed_logins_1h"] = count_in_window(state.failed_logins, ts, HOUR)
    f["logins_1h"] = count_in_window(state.logins, ts, HOUR)
    f["reset_requests_1h"] = count_in_window(state.reset_requests, ts, HOUR)
    _since_changes(state, ts, f)
    state.events += 1
    return f


def _novelty(state: AccountState, event: Event, ts: float, known: bool, f: dict[str, Any]) -> None:
    device, ip = event.device_id, event.ip
    new_device = new_ip = new_subnet = False
    if device is not None and device != state.last_device:  # same as last time: not new
        new_device = state.remember("devices", device)
        state.last_device = device
    if ip is not None and ip != state.last_ip:
        new_ip = state.remember("ips", ip)
        new_subnet = state.remember("subnets", _subnet(ip))
        state.last_ip = ip
    geo = event.geo
    new_country = geo is not None and state.remember("countries", geo.country)
    f["new_device"] = new_device = known and new_device
    f["new_ip"] = known and new_ip
    f["new_subnet"] = new_subnet = known and new_subnet
    f["new_country"] = new_country = known and new_country
    if new_device and ts > state.last_new_device:
        state.last_new_device = ts
    if new_subnet and ts > state.last_new_subnet:
        state.last_new_subnet = ts
    if new_country and ts > state.last_new_country:
        state.last_new_country = ts
    bound = state.bound_devices
    f["device_bound"] = (
        event.device_id is not None and bound is not None and key_of(event.device_id) in bound
    )
    f["minutes_since_new_device"] = _since(state.last_new_device, ts)
    f["minutes_since_new_subnet"] = _since(state.last_new_subnet, ts)
    f["minutes_since_new_country"] = _since(state.last_new_country, ts)


def _since(at: float, ts: float) -> float:
    """Minutes from event time ``at`` (0 = never) to ``ts``; NEVER if not before ``ts``."""
    return (ts - at) / 60.0 if 0.0 < at <= ts else NEVER


def _subnet(ip: str) -> str:
    """/24 for IPv4, /48 for IPv6 — the granularity of a home or mobile network."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3])
    return ip.rsplit(".", 1)[0]


def _geography(state: AccountState, event: Event, ts: float, f: dict[str, Any]) -> None:
    distance = speed = 0.0
    minutes = NEVER
    prev_city = ""
    geo = event.geo
    if geo is not None:
        last = state.last_geo
        if last is not None:
            distance = haversine_km(last[0], last[1], geo.lat, geo.lon)
            gap = abs(ts - last[2])
            speed = distance / (max(gap, 60.0) / HOUR)  # a minute's floor: GPS jitter
            minutes = gap / 60.0
            prev_city = last[3]
        if last is None or ts >= last[2]:
            state.last_geo = (geo.lat, geo.lon, ts, geo.city or geo.country)
    f["distance_km"] = distance
    f["speed_kmh"] = speed
    f["prev_city"] = prev_city
    f["minutes_since_prev_location"] = minutes


_NO_CHANGES = {
    f"minutes_since_{kind}_change": NEVER
    for kind in ("password", "contact", "mfa", "device", "security")
}


def _since_changes(state: AccountState, ts: float, f: dict[str, Any]) -> None:
    changes = state.last_change
    if changes is None:  # most accounts: no security change ever
        f.update(_NO_CHANGES)
        return
    latest = NEVER
    for kind in ("password", "contact", "mfa", "device"):
        at = changes.get(kind)
        minutes = NEVER if at is None or at > ts else (ts - at) / 60.0
        f[f"minutes_since_{kind}_change"] = minutes
        latest = min(latest, minutes)
    f["minutes_since_security_change"] = latest


def _add_pair(
    times: array[float], values: array[float], ts: float, value: float, horizon: float
) -> None:
    """Insert (ts, value) into parallel windows, keeping them sorted by time."""
    if not times or ts >= times[-1]:
        times.append(ts)
        values.append(value)
    else:
        i = bisect_right(times, ts)
        times.insert(i, ts)
        values.insert(i, value)
    cut = times[-1] - horizon
    if times[0] < cut:
        n = bisect_right(times, cut)
        del times[:n]
        del values[:n]


def _sum_in_window(
    times: array[float] | None, values: array[float] | None, ts: float, width: float
) -> float:
    if not times or values is None:
        return 0.0
    hi = bisect_right(times, ts)
    return float(sum(values[bisect_right(times, ts - width) : hi]))


def _money(state: AccountState, amount: float, f: dict[str, Any]) -> None:
    median = state.amount_median
    n = state.amount_n
    mean, std = state.amount_mean, state.amount_std
    usual = median.get() if median is not None and n >= 1 else None
    f["amount"] = amount
    f["amount_n"] = n
    f["amount_mean"] = mean
    f["amount_std"] = std
    f["amount_z"] = (amount - mean) / std if n >= 5 and std > 0 else 0.0
    f["amount_ratio"] = amount / mean if n >= 1 and mean > 0 else 1.0
    f["amount_median"] = usual or 0.0
    f["amount_vs_median"] = amount / usual if usual and n >= 3 else 1.0
    f["amount_max_before"] = state.amount_max


def _payment(state: AccountState, event: Payment, ts: float, f: dict[str, Any]) -> None:
    amount = event.amount
    _money(state, amount, f)
    f["currency"] = event.currency
    f["kind"] = event.kind
    f["status"] = event.status
    f["failure_reason"] = event.failure_reason or ""
    # new to a known account: its first payment ever is to a new payee too
    f["new_payee"] = state.remember("payees", event.payee_id) and state.events > 0
    outflow = event.kind != "purchase"
    if event.status == "failed":
        add_to_window(state.window("failed_payments"), ts, DAY)
        if amount < SMALL_AMOUNT:
            add_to_window(state.window("small_failed_payments"), ts, TEN_MIN)
    else:
        _add_pair(state.window("payments"), state.window("payment_amounts"), ts, amount, DAY)
        if outflow:
            _add_pair(state.window("outflows"), state.window("outflow_amounts"), ts, amount, HOUR)
            if f["amount_vs_median"] >= LARGE_FACTOR:
                add_to_window(state.window("large_outflows"), ts, HOUR)
        state.add_amount(amount)
    f["payments_1h"] = count_in_window(state.payments, ts, HOUR)
    f["payments_24h"] = count_in_window(state.payments, ts, DAY)
    f["payment_amount_1h"] = _sum_in_window(state.payments, state.payment_amounts, ts, HOUR)
    f["payment_amount_24h"] = _sum_in_window(state.payments, state.payment_amounts, ts, DAY)
    f["outflow_amount_1h"] = _sum_in_window(state.outflows, state.outflow_amounts, ts, HOUR)
    f["large_outflows_1h"] = count_in_window(state.large_outflows, ts, HOUR)
    f["failed_payments_10m"] = count_in_window(state.failed_payments, ts, TEN_MIN)
    f["failed_payments_24h"] = count_in_window(state.failed_payments, ts, DAY)
    f["small_failed_payments_10m"] = count_in_window(state.small_failed_payments, ts, TEN_MIN)
    topup = state.last_topup
    f["minutes_since_topup"] = NEVER if topup is None or topup[0] > ts else (ts - topup[0]) / 60
    f["last_topup_amount"] = topup[1] if topup else 0.0
    f["last_topup_new_source"] = topup[2] if topup else False


def _topup(state: AccountState, event: Topup, ts: float, f: dict[str, Any]) -> None:
    f["amount"] = event.amount
    f["currency"] = event.currency
    f["status"] = event.status
    f["failure_reason"] = event.failure_reason or ""
    known_sources = state.sources is not None
    new_source = state.remember("sources", event.source_id) and known_sources
    f["new_source"] = new_source
    if event.status == "failed":
        add_to_window(state.window("failed_topups"), ts, DAY)
    else:
        add_to_window(state.window("topups"), ts, DAY)
    if event.status == "credited" and (state.last_topup is None or ts >= state.last_topup[0]):
        state.last_topup = (ts, event.amount, new_source)
    f["topups_24h"] = count_in_window(state.topups, ts, DAY)
    f["failed_topups_24h"] = count_in_window(state.failed_topups, ts, DAY)
