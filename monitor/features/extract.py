"""Turn one event plus its account's state into the feature dict rules and models read.

Features describe the event against what the account did *before* it (novelty,
deviation), then the state is updated with the event. All times are event times.

>>> from monitor.events import decode
>>> from monitor.testing import login
>>> st = AccountState()
>>> f = extract(st, decode(login("a", "2026-01-01T00:00:00Z", success=False, device_id="d1")))
>>> f["failed_logins_10m"], f["new_device"]
(1, False)
>>> f = extract(st, decode(login("a", "2026-01-01T00:01:00Z", device_id="d2")))
>>> f["failed_logins_10m"], f["new_device"], f["account_events"]
(1, True, 1)
"""

from __future__ import annotations

from typing import Any

from monitor.events import Event, Login, Payment, Security, Topup
from monitor.features.geo import haversine_km
from monitor.features.state import (
    MAX_COUNTRIES,
    MAX_DEVICES,
    MAX_IPS,
    MAX_PAYEES,
    MAX_SOURCES,
    AccountState,
    add_to_window,
    count_in_window,
)
from monitor.features.table import NEVER

__all__ = ["AccountState", "extract"]

TEN_MIN = 600.0
HOUR = 3600.0
SMALL_AMOUNT = 5.0
SECURITY_CHANGES = frozenset(
    {"password_changed", "phone_changed", "email_changed", "mfa_disabled", "device_bound"}
)


def extract(state: AccountState, event: Event) -> dict[str, Any]:
    """Compute the features of ``event`` and fold it into ``state``."""
    ts = event.epoch
    known = state.events > 0
    geo = event.geo
    f: dict[str, Any] = {
        "type": event.type,
        "channel": event.channel or "",
        "country": geo.country if geo else "",
        "account_events": state.events,
    }

    # novelty (only meaningful once the account has history)
    new_device = event.device_id is not None and state.remember(
        "devices", event.device_id, ts, MAX_DEVICES
    )
    new_ip = event.ip is not None and state.remember("ips", event.ip, ts, MAX_IPS)
    new_country = geo is not None and state.remember("countries", geo.country, ts, MAX_COUNTRIES)
    f["new_device"] = known and new_device
    f["new_ip"] = known and new_ip
    f["new_country"] = known and new_country

    # geography: distance and implied speed since the previous located event
    distance = speed = 0.0
    prev_city = ""
    if geo is not None:
        last = state.last_geo
        if last is not None:
            distance = haversine_km(last[0], last[1], geo.lat, geo.lon)
            hours = max(abs(ts - last[2]), 60.0) / HOUR  # a minute's floor: GPS jitter
            speed = distance / hours
            prev_city = last[3]
        if last is None or ts >= last[2]:
            state.last_geo = (geo.lat, geo.lon, ts, geo.city or geo.country)
    f["distance_km"] = distance
    f["speed_kmh"] = speed
    f["prev_city"] = prev_city

    if isinstance(event, Login):
        f["success"] = event.success
        f["method"] = event.method
        f["failure_reason"] = event.failure_reason or ""
        if not event.success:
            add_to_window(state.failed_logins, ts, HOUR)
    elif isinstance(event, Payment):
        _payment(state, event, ts, f)
    elif isinstance(event, Topup):
        _money(state, event.amount, f)
        f["currency"] = event.currency
        f["status"] = event.status
        f["failure_reason"] = event.failure_reason or ""
        known_sources = bool(state.sources)
        new_source = state.remember("sources", event.source_id, ts, MAX_SOURCES) and known_sources
        f["new_source"] = new_source
        if event.status == "credited" and (state.last_topup is None or ts >= state.last_topup[0]):
            state.last_topup = (ts, event.amount, new_source)
    elif isinstance(event, Security):
        f["success"] = event.success
        f["action"] = event.action
        if event.success and event.action in SECURITY_CHANGES:
            state.last_security_change = max(ts, state.last_security_change or ts)
        if event.action == "password_reset_requested":
            add_to_window(state.reset_requests, ts, HOUR)

    f["failed_logins_10m"] = count_in_window(state.failed_logins, ts, TEN_MIN)
    f["failed_logins_1h"] = count_in_window(state.failed_logins, ts, HOUR)
    f["reset_requests_1h"] = count_in_window(state.reset_requests, ts, HOUR)
    change = state.last_security_change
    f["minutes_since_security_change"] = (
        NEVER if change is None or change > ts else (ts - change) / 60.0
    )
    state.events += 1
    state.last_ts = max(state.last_ts, ts)
    return f


def _money(state: AccountState, amount: float, f: dict[str, Any]) -> None:
    mean, std, n = state.amount_mean, state.amount_std, state.amount_n
    f["amount"] = amount
    f["amount_mean"] = mean
    f["amount_std"] = std
    f["amount_z"] = (amount - mean) / std if n >= 5 and std > 0 else 0.0
    f["amount_ratio"] = amount / mean if n >= 1 and mean > 0 else 1.0


def _payment(state: AccountState, event: Payment, ts: float, f: dict[str, Any]) -> None:
    _money(state, event.amount, f)
    f["currency"] = event.currency
    f["kind"] = event.kind
    f["status"] = event.status
    f["failure_reason"] = event.failure_reason or ""
    known_payees = bool(state.payees)
    f["new_payee"] = state.remember("payees", event.payee_id, ts, MAX_PAYEES) and known_payees
    if event.status == "failed":
        add_to_window(state.failed_payments, ts, TEN_MIN)
        if event.amount < SMALL_AMOUNT:
            add_to_window(state.small_failed_payments, ts, TEN_MIN)
    else:
        state.add_amount(event.amount)
    f["failed_payments_10m"] = count_in_window(state.failed_payments, ts, TEN_MIN)
    f["small_failed_payments_10m"] = count_in_window(state.small_failed_payments, ts, TEN_MIN)
    topup = state.last_topup
    f["minutes_since_topup"] = NEVER if topup is None or topup[0] > ts else (ts - topup[0]) / 60
    f["last_topup_amount"] = topup[1] if topup else 0.0
    f["last_topup_new_source"] = topup[2] if topup else False
