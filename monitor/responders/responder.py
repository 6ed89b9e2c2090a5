"""The responder the store calls inside the alerts' transaction: the playbooks' planner
behind the small interface ``monitor.store.responses.Responder`` expects.

>>> from monitor.decision import Reason, decide
>>> r = PlaybookResponder(load_playbooks("rules"))
>>> hit = Reason(code="rule:x", text="drain", rule_id="x")
>>> d = decide(event_id="e1", account_id="a1", event_type="payment", event_ts=1.8e9,
...            rule_hits=[("critical", 0.9, hit)], anomaly=None,
...            actions=["disable_payment_features", "force_password_reset", "alert_support"],
...            queue="account_security")
>>> p = r.plan(d, r.empty_state(), {}, now=1.8e9)
>>> [a.type for a in p.actions]
['force_password_reset', 'disable_payment_features', 'alert_support']
"""

from __future__ import annotations

from typing import Any

from monitor.decision import Decision
from monitor.responders.actions import (
    AccountState,
    Action,
    encode_action,
    expire,
    manual_password_reset,
    manual_restore,
)
from monitor.responders.cases import Case
from monitor.responders.playbooks import Plan, Playbooks, load_playbooks, plan

__all__ = ["PlaybookResponder", "load_playbooks"]


class PlaybookResponder:
    def __init__(self, playbooks: Playbooks) -> None:
        self.playbooks = playbooks

    def plan(
        self, decision: Decision, state: AccountState, open_cases: dict[str, Any], now: float
    ) -> Plan:
        return plan(decision, state, self.playbooks, now, open_cases=open_cases)

    def empty_state(self) -> AccountState:
        return AccountState()

    def state_type(self) -> type:
        return AccountState

    def case_type(self) -> type:
        return Case

    def encode(self, action: Action) -> bytes:
        return encode_action(action)

    def expire(
        self, state: AccountState, account_id: str, now: float
    ) -> tuple[list[Action], AccountState]:
        return expire(state, account_id, now)

    def restore(
        self,
        state: AccountState,
        account_id: str,
        features: list[str] | None,
        reason: str,
        actor: str,
        now: float,
        request_id: str | None,
    ) -> tuple[Action, AccountState]:
        return manual_restore(
            state,
            account_id,
            features,  # type: ignore[arg-type]  # checked by the planner
            reason,
            actor,
            now,
            request_id=request_id,
        )

    def password_reset(
        self,
        state: AccountState,
        account_id: str,
        reason: str,
        actor: str,
        now: float,
        request_id: str | None,
        alert_id: str | None,
    ) -> tuple[Action, AccountState]:
        return manual_password_reset(
            state, account_id, reason, actor, now, request_id=request_id, alert_id=alert_id
        )
