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

import sys
from array import array
from bisect import bisect_right
from typing import Any, Final

from monitor.events import Event, Login, Payment, Security, Topup
from monitor.features.geo import haversine_km
from monitor.features.state import (
    BOUND_DEVICE,
    COUNTRY,
    DEVICE,
    IP,
    LARGE_OUTFLOW,
    LOGIN_FAILED,
    LOGIN_OK,
    OUTFLOW,
    PAYEE,
    PAYMENT_FAILED,
    PURCHASE,
    RESET_REQUEST,
    SMALL_PAYMENT_FAILED,
    SOURCE,
    SUBNET,
    TOPUP,
    TOPUP_FAILED,
    AccountState,
)
from monitor.features.table import NEVER

__all__ = ["AccountState", "extract"]

TEN_MIN: Final = 600.0
HOUR: Final = 3600.0
DAY: Final = 86400.0
SMALL_AMOUNT: Final = 5.0
LARGE_FACTOR: Final = 3.0  # an outflow this many times the account's median is "large"
# security actions -> the "last change" slot they update
CHANGES = {
    "password_changed": "password",
    "phone_changed": "contact",
    "email_changed": "contact",
    "mfa_disabled": "mfa",
    "device_bound": "device",
}
# slots of AccountState.last_new
_NEW_DEVICE: Final = 0
_NEW_SUBNET: Final = 1
_NEW_COUNTRY: Final = 2


# Per event class, its feature names in the order extract() sets them (learnt from the
# first event of the class; every event of a class gets the same names). A copy of this
# pre-sized dict is filled in place: building the ~45-key dict key by key resized it
# four times per event (~7 % of the extractor's instructions under callgrind).
_TEMPLATES: dict[type, dict[str, Any]] = {}


def extract(state: AccountState, event: Event, ts: float) -> dict[str, Any]:
    """Compute the features of ``event`` (at event time ``ts``) and fold it into ``state``."""
    known = state.events > 0
    if not known:
        state.first_ts = ts
    geo = event.geo
    template = _TEMPLATES.get(type(event))
    f: dict[str, Any] = {} if template is None else template.copy()
    f["type"] = event.type
    f["channel"] = event.channel or ""
    f["country"] = geo.country if geo else ""
    f["ip"] = event.ip or ""
    f["city"] = (geo.city or geo.country) if geo else ""
    f["account_events"] = state.events
    f["account_age_days"] = max(0.0, ts - state.first_ts) / DAY
    f["anomaly_score"] = 0.0  # the pipeline puts the model's view here before the rules
    f["anomaly_flagged"] = False
    _novelty(state, event, ts, known, f)
    _geography(state, event, ts, f)

    if isinstance(event, Login):
        f["success"] = event.success
        f["method"] = event.method
        f["failure_reason"] = event.failure_reason or ""
        f["method_changed"] = (
            event.success and state.last_method is not None and event.method != state.last_method
        )
        # across accounts: the partition's population monitor fills these in (pipeline)
        f["ip_failed_accounts_10m"] = f["subnet_failed_accounts_10m"] = 0
        if event.success:
            state.mark(ts, LOGIN_OK)
            state.last_method = event.method
        else:
            state.mark(ts, LOGIN_FAILED)
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
            state.remember(BOUND_DEVICE, event.device_id)
        if event.action == "password_reset_requested":
            state.mark(ts, RESET_REQUEST)

    times, marks = state.times, state.marks
    hi = bisect_right(times, ts)
    lo = bisect_right(times, ts - HOUR, 0, hi)
    lo10 = bisect_right(times, ts - TEN_MIN, lo, hi)
    # one compiled pass over the hour's marks (bytearray.count parses its arguments on
    # every call: four calls cost more than the loop)
    failed_10m = failed_1h = ok_1h = resets_1h = 0
    for i in range(lo, hi):
        what = marks[i]
        if what == LOGIN_FAILED:
            failed_1h += 1
            if i >= lo10:
                failed_10m += 1
        elif what == LOGIN_OK:
            ok_1h += 1
        elif what == RESET_REQUEST:
            resets_1h += 1
    f["failed_logins_10m"] = failed_10m
    f["failed_logins_1h"] = failed_1h
    f["logins_1h"] = ok_1h
    f["reset_requests_1h"] = resets_1h
    _since_changes(state, ts, f)
    state.events += 1
    if template is None:
        _TEMPLATES[type(event)] = dict.fromkeys(f)
    return f


def _novelty(state: AccountState, event: Event, ts: float, known: bool, f: dict[str, Any]) -> None:
    device, ip, geo = event.device_id, event.ip, event.geo
    # Two in three events come from the device, IP and country of the account's previous
    # event; those are known and already the most recently used of their kinds, so
    # remembering them again changes nothing: skip it (a third of the feature time).
    # A fingerprint (64-bit hash, per process) recognises them; after a restart it
    # matches nothing and the first event takes the long way.
    fingerprint = hash((device, ip, geo.country if geo is not None else None))
    if fingerprint == state.novelty_fp:
        new_device = new_ip = new_subnet = new_country = False
    else:
        new_device = device is not None and state.remember(DEVICE, device) and known
        new_ip = new_subnet = False
        if ip is not None:
            new_ip = state.remember(IP, ip) and known
            new_subnet = state.remember(SUBNET, _subnet(ip)) and known
        new_country = geo is not None and state.remember(COUNTRY, geo.country) and known
        state.novelty_fp = fingerprint
    f["new_device"] = new_device
    f["new_ip"] = new_ip
    f["new_subnet"] = new_subnet
    f["new_country"] = new_country
    f["device_bound"] = (
        device is not None
        and state.count_known(BOUND_DEVICE) > 0
        and state.knows(BOUND_DEVICE, device)
    )
    last_new = state.last_new
    if new_device or new_subnet or new_country:
        if last_new is None:
            last_new = state.last_new = array("d", (0.0, 0.0, 0.0))
        for slot, new in (
            (_NEW_DEVICE, new_device),
            (_NEW_SUBNET, new_subnet),
            (_NEW_COUNTRY, new_country),
        ):
            if new and ts > last_new[slot]:
                last_new[slot] = ts
    if last_new is None:
        f["minutes_since_new_device"] = f["minutes_since_new_subnet"] = NEVER
        f["minutes_since_new_country"] = NEVER
    else:
        f["minutes_since_new_device"] = _since(last_new[_NEW_DEVICE], ts)
        f["minutes_since_new_subnet"] = _since(last_new[_NEW_SUBNET], ts)
        f["minutes_since_new_country"] = _since(last_new[_NEW_COUNTRY], ts)


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
            prev_city = state.last_city
        if last is None:
            state.last_geo = array("d", (geo.lat, geo.lon, ts))
            state.last_city = sys.intern(geo.city or geo.country)
        elif ts >= last[2]:
            last[0], last[1], last[2] = geo.lat, geo.lon, ts
            state.last_city = sys.intern(geo.city or geo.country)
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


def _money(state: AccountState, amount: float, f: dict[str, Any]) -> None:
    n = state.amount_n
    mean, std = state.amount_mean, state.amount_std
    median = state.amount_median
    usual = median.get() if median is not None else None
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
    f["new_payee"] = state.remember(PAYEE, event.payee_id) and state.events > 0
    if event.status == "failed":
        state.mark(ts, SMALL_PAYMENT_FAILED if amount < SMALL_AMOUNT else PAYMENT_FAILED)
    else:
        if event.kind == "purchase":
            what = PURCHASE
        elif f["amount_vs_median"] >= LARGE_FACTOR:
            what = LARGE_OUTFLOW
        else:
            what = OUTFLOW
        state.mark(ts, what, amount)
        state.add_amount(amount)
    marks, amounts = state.marks, state.amounts
    times = state.times
    hi = bisect_right(times, ts)
    lo_day = bisect_right(times, ts - DAY, 0, hi)
    lo_hour = bisect_right(times, ts - HOUR, lo_day, hi)
    lo_10 = bisect_right(times, ts - TEN_MIN, lo_hour, hi)
    # one compiled pass over the day's marks instead of slices and a dozen counts; sums
    # in index order, as sum() over the slices added them
    paid_1h = paid_24h = large_1h = failed_10m = failed_24h = small_10m = 0
    paid_amount_1h = paid_amount_24h = outflow_1h = 0.0
    for i in range(lo_day, hi):
        what = marks[i]
        if what in (PAYMENT_FAILED, SMALL_PAYMENT_FAILED):
            failed_24h += 1
            if i >= lo_10:
                failed_10m += 1
                if what == SMALL_PAYMENT_FAILED:
                    small_10m += 1
            continue
        paid = amounts[i]  # paid marks carry their amount, every other mark 0
        if paid == 0.0:
            continue
        paid_24h += 1
        paid_amount_24h += paid
        if i >= lo_hour:
            paid_1h += 1
            paid_amount_1h += paid
            if what in (OUTFLOW, LARGE_OUTFLOW):
                outflow_1h += paid
                if what == LARGE_OUTFLOW:
                    large_1h += 1
    f["payments_1h"] = paid_1h
    f["payments_24h"] = paid_24h
    f["payment_amount_1h"] = paid_amount_1h
    f["payment_amount_24h"] = paid_amount_24h
    f["outflow_amount_1h"] = outflow_1h
    f["large_outflows_1h"] = large_1h
    f["failed_payments_10m"] = failed_10m
    f["failed_payments_24h"] = failed_24h
    f["small_failed_payments_10m"] = small_10m
    topup = state.last_topup
    f["minutes_since_topup"] = NEVER if topup is None or topup[0] > ts else (ts - topup[0]) / 60
    f["last_topup_amount"] = topup[1] if topup else 0.0
    f["last_topup_new_source"] = topup[2] if topup else False


def _topup(state: AccountState, event: Topup, ts: float, f: dict[str, Any]) -> None:
    f["amount"] = event.amount
    f["currency"] = event.currency
    f["status"] = event.status
    f["failure_reason"] = event.failure_reason or ""
    known_sources = state.count_known(SOURCE) > 0
    new_source = state.remember(SOURCE, event.source_id) and known_sources
    f["new_source"] = new_source
    # top-up amounts are not payments: their marks carry no amount
    state.mark(ts, TOPUP_FAILED if event.status == "failed" else TOPUP)
    if event.status == "credited" and (state.last_topup is None or ts >= state.last_topup[0]):
        state.last_topup = (ts, event.amount, new_source)
    lo, hi = state.span(ts, DAY)
    marks = state.marks
    credited = failed = 0
    for i in range(lo, hi):
        what = marks[i]
        if what == TOPUP:
            credited += 1
        elif what == TOPUP_FAILED:
            failed += 1
    f["topups_24h"] = credited
    f["failed_topups_24h"] = failed
