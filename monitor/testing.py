"""Helpers for tests and examples: build contract-v1 events without a simulator, and
a hand-moved clock (after bytewax's ``testing`` module).

>>> from monitor.events import decode
>>> ev = decode(login("a1", "2026-01-01T00:00:00Z", success=False, event_id="x"))
>>> ev.type, ev.success, ev.failure_reason
('login', False, 'bad_password')
>>> decode(payment("a1", "2026-01-01T00:00:00Z", 12.5, kind="transfer")).amount
12.5
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

_ids = itertools.count()

SHANGHAI = {"lat": 31.23, "lon": 121.47, "country": "CN", "city": "Shanghai"}
LAGOS = {"lat": 6.52, "lon": 3.38, "country": "NG", "city": "Lagos"}


def at(base: str, **delta: float) -> str:
    """``base`` (RFC 3339) moved by a timedelta, e.g. ``at(T0, minutes=5)``."""
    ts = datetime.fromisoformat(base.replace("Z", "+00:00")) + timedelta(**delta)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event(event_type: str, account_id: str, ts: str, event_id: str | None, **fields: Any) -> bytes:
    body = {
        "event_id": event_id or f"t-{next(_ids)}",
        "type": event_type,
        "account_id": account_id,
        "ts": ts,
        "channel": "app",
        **{k: v for k, v in fields.items() if v is not None},
    }
    return json.dumps(body).encode()


def login(
    account_id: str,
    ts: str,
    *,
    success: bool = True,
    event_id: str | None = None,
    device_id: str | None = "dev-1",
    geo: dict[str, Any] | None = None,
    ip: str | None = "10.0.0.1",
    method: str = "password",
) -> bytes:
    return _event(
        "login",
        account_id,
        ts,
        event_id,
        success=success,
        method=method,
        failure_reason=None if success else "bad_password",
        device_id=device_id,
        geo=geo or SHANGHAI,
        ip=ip,
    )


def payment(
    account_id: str,
    ts: str,
    amount: float,
    *,
    kind: str = "purchase",
    payee_id: str = "payee-1",
    status: str = "succeeded",
    event_id: str | None = None,
    device_id: str | None = "dev-1",
    currency: str = "CNY",
    geo: dict[str, Any] | None = None,
) -> bytes:
    return _event(
        "payment",
        account_id,
        ts,
        event_id,
        amount=amount,
        currency=currency,
        kind=kind,
        payee_id=payee_id,
        status=status,
        device_id=device_id,
        failure_reason="insufficient_balance" if status == "failed" else None,
        geo=geo or SHANGHAI,
    )


def security(
    account_id: str,
    ts: str,
    action: str,
    *,
    success: bool = True,
    event_id: str | None = None,
    device_id: str | None = "dev-1",
) -> bytes:
    return _event(
        "security", account_id, ts, event_id, action=action, success=success, device_id=device_id
    )


def topup(
    account_id: str,
    ts: str,
    amount: float,
    *,
    status: str = "credited",
    source_id: str = "card-1",
    event_id: str | None = None,
) -> bytes:
    return _event(
        "topup",
        account_id,
        ts,
        event_id,
        amount=amount,
        currency="CNY",
        source_id=source_id,
        status=status,
    )


LOGIN_CASES = """    tests:
      - name: fires
        expect: fire
        events:
          - type: login
            at: 0m
            success: false
      - name: quiet
        expect: no_fire
        events:
          - type: login
            at: 0m
"""


def login_rule(
    rule_id: str,
    when: str,
    *,
    description: str | None = None,
    severity: str = "medium",
    **fields: str,
) -> str:
    """One entry of a rule file for login events, with the two test cases every rule
    needs (a failed login must fire, a successful one must not).

    >>> print(login_rule("r", "not success", actions="[require_step_up]").split("    tests:")[0])
      - id: r
        applies_to: [login]
        when: not success
        severity: medium
        actions: [require_step_up]
    <BLANKLINE>
    """
    lines = [f"  - id: {rule_id}"]
    if description is not None:
        lines.append(f"    description: {description}")
    lines += ["    applies_to: [login]", f"    when: {when}", f"    severity: {severity}"]
    lines += [f"    {key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n" + LOGIN_CASES


class ManualClock:
    """A clock tests move by hand: ``clock()`` returns the current value.

    >>> c = ManualClock(100.0); c.advance(5); c()
    105.0
    """

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
