"""What the support-workflow tests (``test_case*.py`` here) share: the rule pack, the
event time of the first alert, a clock moved by hand, an alert that opens a case, and
reads of a case's audit rows and of a table's size. The fixtures built on them
(``responder``, ``clock``, ``desk``, ``case_id``) are in this folder's conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from monitor.decision import Reason, decide
from monitor.store import AlertStore

RULES = Path(__file__).resolve().parents[3] / "rules"
T = 1_800_000_000.0  # event time of the first alert (2027-01-15T08:00:00Z)


class Clock:
    """The desk's clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def alert(
    event_id: str,
    account: str = "victim",
    *,
    severity: Any = "critical",
    rule: str = "takeover_drain",
    queue: str | None = "account_security",
    event_type: str = "payment",
    ts: float = T,
    actions: tuple[str, ...] = ("disable_payment_features", "alert_support"),
):  # type: ignore[no-untyped-def]
    hit = Reason(code=f"rule:{rule}", text=f"{rule} on {event_id}", rule_id=rule, values={"n": 3})
    return decide(
        event_id=event_id,
        account_id=account,
        event_type=event_type,
        event_ts=ts,
        rule_hits=[(severity, 0.9, hit)],
        anomaly=None,
        actions=list(actions),
        queue=queue,
        learn_input={"amount_z": 4.2},
    )


def case_of(store: AlertStore, account: str) -> str:
    (case,) = store.open_cases(account)
    return str(case["case_id"])


def audit(store: AlertStore, case_id: str) -> list[dict[str, Any]]:
    return store.audit_entries(f"case:{case_id}")


def count(store: AlertStore, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
