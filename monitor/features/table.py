"""The typed table of names a rule may use: event fields and per-account features.

Each name has a type and the event types that provide it. The rule compiler checks
every name in an expression against this table at load time, so a typo or a name
that an event type does not carry is an error with file and line, not a crash on
the first matching event.

>>> FEATURES["failed_logins_10m"].type, "login" in FEATURES["failed_logins_10m"].event_types
('int', True)
>>> sorted(FEATURES["amount"].event_types)
['payment', 'topup']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FeatureType = Literal["bool", "int", "float", "str"]
ALL_TYPES: frozenset[str] = frozenset({"login", "payment", "topup", "security"})
_MONEY = frozenset({"payment", "topup"})


@dataclass(frozen=True)
class FeatureSpec:
    type: FeatureType
    event_types: frozenset[str]
    doc: str
    optional: bool = False  # may be None (e.g. no geo on the event)


def _f(type_: FeatureType, doc: str, types: frozenset[str] = ALL_TYPES, optional: bool = False):
    return FeatureSpec(type_, types, doc, optional)


FEATURES: dict[str, FeatureSpec] = {
    # event fields
    "type": _f("str", "event type"),
    "channel": _f("str", "app | web | api, '' when absent"),
    "country": _f("str", "ISO country of the event's geo, '' when absent"),
    "success": _f("bool", "login/security success", frozenset({"login", "security"})),
    "method": _f("str", "login method", frozenset({"login"})),
    "failure_reason": _f(
        "str", "failure reason, '' when none", frozenset({"login", "payment", "topup"})
    ),
    "amount": _f("float", "amount in major units", _MONEY),
    "currency": _f("str", "ISO 4217 currency", _MONEY),
    "status": _f("str", "payment/top-up status", _MONEY),
    "kind": _f("str", "purchase | transfer | withdrawal", frozenset({"payment"})),
    "action": _f("str", "security action", frozenset({"security"})),
    # account features (event time)
    "account_events": _f("int", "events seen for this account before this one"),
    "new_device": _f("bool", "device never seen for this account (known accounts only)"),
    "new_country": _f("bool", "country never seen for this account (known accounts only)"),
    "new_ip": _f("bool", "IP never seen for this account (known accounts only)"),
    "distance_km": _f("float", "km from the previous located event, 0 if unknown"),
    "speed_kmh": _f("float", "implied travel speed since the previous located event"),
    "prev_city": _f("str", "city of the previous located event, '' if unknown"),
    "failed_logins_10m": _f("int", "failed logins in the last 10 min, this one included"),
    "failed_logins_1h": _f("int", "failed logins in the last hour, this one included"),
    "minutes_since_security_change": _f(
        "float",
        "minutes since password/phone/email change, MFA disable or device binding; 1e9 when never",
    ),
    "reset_requests_1h": _f("int", "password-reset requests in the last hour"),
    "amount_mean": _f("float", "running mean of this account's payment amounts", _MONEY),
    "amount_std": _f("float", "running standard deviation of payment amounts", _MONEY),
    "amount_z": _f("float", "(amount - mean) / std for this account; 0 with < 5 payments", _MONEY),
    "amount_ratio": _f("float", "amount / running mean; 1 with no history", _MONEY),
    "new_payee": _f("bool", "payee never paid by this account before", frozenset({"payment"})),
    "failed_payments_10m": _f(
        "int", "failed payments in the last 10 min, this one included", frozenset({"payment"})
    ),
    "small_failed_payments_10m": _f(
        "int", "failed payments under 5 units in the last 10 min", frozenset({"payment"})
    ),
    "minutes_since_topup": _f(
        "float", "minutes since the last credited top-up; 1e9 when none", frozenset({"payment"})
    ),
    "last_topup_amount": _f(
        "float", "amount of the last credited top-up; 0 when none", frozenset({"payment"})
    ),
    "last_topup_new_source": _f(
        "bool", "the last credited top-up came from a new source", frozenset({"payment"})
    ),
    "new_source": _f(
        "bool", "top-up source never used by this account before", frozenset({"topup"})
    ),
}

NEVER = 1e9  # "minutes since" value when the thing never happened
