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
from typing import Final, Literal

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


_PAY = frozenset({"payment"})
_TOPUP = frozenset({"topup"})
_LOGIN = frozenset({"login"})

FEATURES: dict[str, FeatureSpec] = {
    # event fields
    "type": _f("str", "event type"),
    "channel": _f("str", "app | web | api, '' when absent"),
    "country": _f("str", "ISO country of the event's geo, '' when absent"),
    "ip": _f("str", "the event's IP address, '' when absent"),
    "city": _f("str", "city of the event's geo (its country when no city), '' when absent"),
    "success": _f("bool", "login/security success", frozenset({"login", "security"})),
    "method": _f("str", "login method", _LOGIN),
    "failure_reason": _f(
        "str", "failure reason, '' when none", frozenset({"login", "payment", "topup"})
    ),
    "amount": _f("float", "amount in major units", _MONEY),
    "currency": _f("str", "ISO 4217 currency", _MONEY),
    "status": _f("str", "payment/top-up status", _MONEY),
    "kind": _f("str", "purchase | transfer | withdrawal", _PAY),
    "action": _f("str", "security action", frozenset({"security"})),
    # the anomaly model's view of this event (filled in by the pipeline before the rules)
    "anomaly_score": _f("float", "Half-Space Trees score, 0 (usual) .. 1 (unusual)"),
    "anomaly_flagged": _f("bool", "above the model's adaptive threshold (after warm-up)"),
    # account history
    "account_events": _f("int", "events seen for this account before this one"),
    "account_age_days": _f("float", "days since Vigil first saw the account"),
    # novelty (known accounts only: false on an account's first event)
    "new_device": _f("bool", "device never seen for this account"),
    "new_ip": _f("bool", "IP never seen for this account"),
    "new_subnet": _f("bool", "IP /24 (IPv6 /48) never seen for this account"),
    "new_country": _f("bool", "country never seen for this account"),
    "new_payee": _f("bool", "payee never paid by this account before", _PAY),
    "new_source": _f("bool", "top-up source never used by this account before", _TOPUP),
    "minutes_since_new_device": _f(
        "float", "since a device never seen for the account last appeared; 1e9 when never"
    ),
    "minutes_since_new_subnet": _f(
        "float", "since an IP /24 never seen for the account last appeared; 1e9 when never"
    ),
    "minutes_since_new_country": _f(
        "float", "since a country never seen for the account last appeared; 1e9 when never"
    ),
    "device_bound": _f(
        "bool",
        "this event's device was bound to the account (a successful device_bound "
        "security event from it; binding needs the registered phone)",
    ),
    "method_changed": _f("bool", "successful login with another method than the last", _LOGIN),
    # geography
    "distance_km": _f("float", "km from the previous located event, 0 if unknown"),
    "speed_kmh": _f("float", "implied travel speed since the previous located event"),
    "prev_city": _f("str", "city of the previous located event, '' if unknown"),
    "minutes_since_prev_location": _f(
        "float", "minutes since the previous located event; 1e9 when none"
    ),
    # velocity (event time; windows include this event)
    "failed_logins_10m": _f("int", "failed logins in the last 10 min"),
    "failed_logins_1h": _f("int", "failed logins in the last hour"),
    "logins_1h": _f("int", "successful logins in the last hour"),
    "reset_requests_1h": _f("int", "password-reset requests in the last hour"),
    # across accounts (this partition's sample; see monitor/detectors/population.py)
    "ip_failed_accounts_10m": _f(
        "int", "distinct accounts with failed logins from this IP in 10 min", _LOGIN
    ),
    "subnet_failed_accounts_10m": _f(
        "int", "distinct accounts with failed logins from this IP's /24 in 10 min", _LOGIN
    ),
    "payments_1h": _f("int", "succeeded/pending payments in the last hour", _PAY),
    "payments_24h": _f("int", "succeeded/pending payments in the last 24 h", _PAY),
    "payment_amount_1h": _f("float", "amount of succeeded/pending payments, last hour", _PAY),
    "payment_amount_24h": _f("float", "amount of succeeded/pending payments, last 24 h", _PAY),
    "outflow_amount_1h": _f("float", "transfers + withdrawals in the last hour", _PAY),
    "large_outflows_1h": _f(
        "int", "transfers/withdrawals >= 3x the usual amount, last hour (a drain pattern)", _PAY
    ),
    "failed_payments_10m": _f("int", "failed payments in the last 10 min", _PAY),
    "failed_payments_24h": _f("int", "failed payments in the last 24 h", _PAY),
    "small_failed_payments_10m": _f("int", "failed payments under 5 units, last 10 min", _PAY),
    "topups_24h": _f("int", "pending/credited top-ups in the last 24 h", _TOPUP),
    "failed_topups_24h": _f("int", "failed top-ups in the last 24 h", _TOPUP),
    # amounts against the account's own history (river stats: Var, Quantile(0.5))
    "amount_n": _f("int", "payments in the account's amount history", _PAY),
    "amount_mean": _f("float", "running mean of this account's payment amounts", _PAY),
    "amount_std": _f("float", "running standard deviation of payment amounts", _PAY),
    "amount_z": _f("float", "(amount - mean) / std; 0 with < 5 payments", _PAY),
    "amount_ratio": _f("float", "amount / running mean; 1 with no history", _PAY),
    "amount_median": _f("float", "running median of payment amounts; 0 with no history", _PAY),
    "amount_vs_median": _f("float", "amount / running median; 1 with < 3 payments", _PAY),
    "amount_max_before": _f("float", "largest earlier payment amount; 0 with none", _PAY),
    # sequences: minutes since ... (1e9 when never)
    "minutes_since_security_change": _f(
        "float", "since the last password/phone/email change, MFA disable or device binding"
    ),
    "minutes_since_password_change": _f("float", "since the last password change"),
    "minutes_since_contact_change": _f("float", "since the last phone or email change"),
    "minutes_since_mfa_change": _f("float", "since MFA was last disabled"),
    "minutes_since_device_change": _f("float", "since a device was last bound"),
    "minutes_since_topup": _f("float", "since the last credited top-up", _PAY),
    "last_topup_amount": _f("float", "amount of the last credited top-up; 0 when none", _PAY),
    "last_topup_new_source": _f("bool", "the last credited top-up came from a new source", _PAY),
}

NEVER: Final = 1e9  # "minutes since" value when the thing never happened
