"""Playbooks (``rules/playbooks.yaml``) and the planner that turns a decision into
account-action commands, the new restriction state and a support-case update.

The planner is pure — no I/O, no clock: the store calls :func:`plan` inside the
transaction that writes the alert, with the account's :class:`AccountState`, its open
cases and ``now``, and writes the plan's actions to the outbox. See ``docs/actions.md``.

>>> from monitor.decision import Decision, Reason
>>> from pathlib import Path
>>> books = load_playbooks(Path(__file__).parents[2] / "rules")
>>> d = Decision(event_id="e1", account_id="a1", event_type="payment", event_ts=0.0,
...              severity="critical", score=0.95, anomaly_score=None,
...              rule_ids=["takeover_drain"], queue="account_security",
...              reasons=[Reason(code="rule:takeover_drain", text="transfer of 5,000 CNY")],
...              actions=["disable_payment_features", "force_password_reset", "alert_support"])
>>> p = plan(d, AccountState(), books, now=1000.0)
>>> [a.type for a in p.actions]
['force_password_reset', 'disable_payment_features', 'alert_support']
>>> sorted(p.state.restrictions), p.case.kind, p.case.case.priority
(['large_payment', 'transfer_to_new_payee', 'withdrawal'], 'opened', 'P1')
>>> d2 = msgspec.structs.replace(d, event_id="e2")  # the next alert, a minute later
>>> again = plan(d2, p.state, books, now=1060.0, open_cases={"account_security": p.case.case})
>>> again.actions, again.case.kind, again.case.case.alert_count
([], 'added', 2)
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from monitor.decision import Decision
from monitor.responders.actions import (
    AccountState,
    Action,
    ActionType,
    FeatureSpec,
    Limit,
    Restriction,
    action_id_for,
    merge,
    reason_text,
    restores,
    supersedes,
    to_datetime,
)
from monitor.responders.cases import (
    Case,
    CasePolicy,
    CaseUpdate,
    category_for,
    route,
)
from monitor.responders.playbook_loader import (
    _REPEATABLE,
    ORDER,
    PLAYBOOK_ACTIONS,
    Playbook,
    PlaybookLoadError,
    Playbooks,
    SeverityOverride,
    check_rules_against_playbooks,
    load_playbooks,
    parse_playbooks,
)

__all__ = [
    "ORDER",
    "PLAYBOOK_ACTIONS",
    "Plan",
    "Playbook",
    "PlaybookLoadError",
    "Playbooks",
    "SeverityOverride",
    "check_rules_against_playbooks",
    "load_playbooks",
    "parse_playbooks",
    "plan",
]


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What to do for one decision: ``actions`` in execution order (:data:`ORDER`), the
    account's new ``state`` to store, the ``case`` update (None: no case), and the
    decision's action names that are not playbooks (``skipped``, for a metric)."""

    actions: list[Action]
    state: AccountState
    case: CaseUpdate | None = None
    skipped: tuple[str, ...] = ()

    @property
    def restrictions(self) -> dict[str, Restriction]:
        return self.state.restrictions


# --------------------------------------------------------------------------- planner


def plan(
    decision: Decision,
    state: AccountState,
    playbooks: Playbooks,
    now: float,
    *,
    open_cases: Mapping[str, Case] | None = None,
    currency: str | None = None,
) -> Plan:
    """Plan the commands for ``decision`` on an account in ``state``.

    ``open_cases`` are the account's open cases by category; ``currency`` the account's
    (for the ``large_payment`` limit). Restrictions that have expired by ``now`` are
    lifted (a restore, first) unless this plan restricts the feature again. A
    restriction in force that covers what a playbook asks (same feature, level and limit
    or stronger) is not issued again; anything stronger or new re-issues one freeze with
    the union of the features and the later expiry. Step-up and password reset are not
    repeated within their playbook's ``repeat_after``. ``alert_support`` routes the alert
    to a case and is sent only when that opens or escalates the case. Ops decisions get
    a case in ``ops`` and nothing else; decisions that are not alerts (or are late)
    only lift expired restrictions."""
    in_force = {f: r for f, r in state.restrictions.items() if r.expires_at > now}
    expired = [r for r in state.restrictions.values() if r.expires_at <= now]
    recent = {t: at for t, at in state.recent.items() if now - at < playbooks.repeat_window(t)}
    restrictions = dict(in_force)
    issued: dict[ActionType, Action] = {}
    case: CaseUpdate | None = None
    skipped: tuple[str, ...] = ()

    if decision.is_alert and not decision.late and decision.event_type == "ops":
        case = _route(decision, open_cases, now, playbooks.cases)
    elif decision.is_alert and not decision.late:
        chosen, skipped = playbooks.resolve(decision)
        by_action: dict[str, list[Playbook]] = {}
        for book in chosen:
            by_action.setdefault(book.action, []).append(book)
        for kind in _REPEATABLE:
            books = by_action.get(kind)
            if not books:
                continue
            window = max(b.repeat_after for b in books)
            if kind in recent and now - recent[kind] < window:
                continue
            issued[kind] = _command(decision, kind, now)
            recent[kind] = now
        freezes = by_action.get("disable_payment_features")
        if freezes:
            wanted = _wanted(decision, freezes, playbooks.limit_for(currency), now)
            if supersedes(in_force, wanted):
                action, restrictions = _freeze(decision, in_force, wanted, now)
                issued["disable_payment_features"] = action
        if "alert_support" in by_action:
            case = _route(decision, open_cases, now, playbooks.cases)
            if case.escalated:
                issued["alert_support"] = _command(decision, "alert_support", now)

    lifted = [r for r in expired if r.feature not in restrictions]
    actions = restores(decision.account_id, lifted, now) + [issued[k] for k in ORDER if k in issued]
    new_state = AccountState(restrictions=restrictions, recent=recent)
    return Plan(actions=actions, state=new_state, case=case, skipped=skipped)


def _route(
    decision: Decision, open_cases: Mapping[str, Case] | None, now: float, policy: CasePolicy
) -> CaseUpdate:
    category = category_for(decision, policy)
    return route(decision, (open_cases or {}).get(category), now, policy)


def _command(
    decision: Decision,
    kind: ActionType,
    now: float,
    features: tuple[FeatureSpec, ...] = (),
    expires_at: float | None = None,
) -> Action:
    text = "; ".join(r.text for r in decision.reasons)
    return Action(
        action_id=action_id_for(decision.alert_id, kind),
        type=kind,
        account_id=decision.account_id,
        alert_id=decision.alert_id,
        features=features,
        expires_at=None if expires_at is None else to_datetime(expires_at),
        reason=reason_text(text or f"{decision.severity} alert on {decision.event_type}"),
        issued_at=to_datetime(now),
        triggering_event_id=decision.event_id,
        severity=decision.severity,
        rule_ids=tuple(decision.rule_ids),
    )


def _wanted(
    decision: Decision, freezes: list[Playbook], limit: Limit, now: float
) -> dict[str, Restriction]:
    """What the freeze playbooks ask for, per feature (the strongest where they overlap)."""
    wanted: dict[str, Restriction] = {}
    for book in freezes:
        level = book.expires_after_for(decision.severity)
        for feature in book.features_for(decision.severity):
            candidate = Restriction(
                feature=feature,
                expires_at=now + level,
                level=level,
                action_id="",
                alert_id=decision.alert_id,
                event_id=decision.event_id,
                issued_at=now,
                limit=limit if feature == "large_payment" else None,
            )
            if feature not in wanted or not wanted[feature].covers(candidate):
                wanted[feature] = candidate
    return wanted


def _freeze(
    decision: Decision,
    in_force: Mapping[str, Restriction],
    wanted: Mapping[str, Restriction],
    now: float,
) -> tuple[Action, dict[str, Restriction]]:
    kind: ActionType = "disable_payment_features"
    restrictions = merge(
        in_force,
        wanted,
        action_id=action_id_for(decision.alert_id, kind),
        alert_id=decision.alert_id,
        event_id=decision.event_id,
        now=now,
    )
    specs = tuple(FeatureSpec(r.feature, r.limit) for r in restrictions.values())
    expires_at = max(r.expires_at for r in restrictions.values())
    return _command(decision, kind, now, specs, expires_at), restrictions
