"""Playbooks: the shipped file, file:line errors, and the planner's graduated responses
(order, stable ids, no re-issue, supersede, expiry, ops)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from monitor.decision import Decision, Reason
from monitor.responders.actions import (
    AccountState,
    Limit,
    Restriction,
    action_id_for,
    expire,
    restore_id_for,
    to_datetime,
)
from monitor.responders.playbooks import (
    ORDER,
    PlaybookLoadError,
    Playbooks,
    check_rules_against_playbooks,
    load_playbooks,
    parse_playbooks,
    plan,
)
from monitor.ruleset import load_rules

RULES = Path(__file__).parents[3] / "rules"
HOUR = 3600.0
NOW = 1_772_416_800.0  # 2026-03-02T02:00:00Z

ATO_ACTIONS = ["disable_payment_features", "force_password_reset", "alert_support"]


@pytest.fixture(scope="module")
def books() -> Playbooks:
    return load_playbooks(RULES)


def decision(
    event_id: str = "e1",
    *,
    severity: str = "critical",
    actions: list[str] | None = None,
    event_type: str = "payment",
    account_id: str = "acct-1",
    queue: str | None = "account_security",
) -> Decision:
    return Decision(
        event_id=event_id,
        account_id=account_id,
        event_type=event_type,
        event_ts=NOW,
        severity=severity,  # type: ignore[arg-type]
        score=0.95,
        anomaly_score=None,
        rule_ids=["takeover_drain"],
        reasons=[
            Reason(code="rule:takeover_drain", text="transfer of 5,000.00 CNY to a new payee")
        ],
        actions=ATO_ACTIONS if actions is None else actions,
        queue=queue,
    )


# ------------------------------------------------------------------ the shipped file


def test_shipped_playbooks_cover_every_shipped_rule(books: Playbooks) -> None:
    assert check_rules_against_playbooks(load_rules(RULES), books) == []
    assert set(books.playbooks) == {
        "require_step_up",
        "force_password_reset",
        "disable_payment_features",
        "alert_support",
    }
    freeze = books.playbooks["disable_payment_features"]
    assert freeze.expires_after_for("high") == 24 * HOUR
    assert freeze.expires_after_for("critical") == 72 * HOUR
    assert books.limit_for(None) == Limit(1000.0, "CNY")
    assert books.limit_for("USD") == Limit(150.0, "USD")
    assert books.limit_for("JPY") == Limit(1000.0, "CNY")  # not listed: the default


def test_a_rule_naming_an_unknown_playbook_or_queue_is_reported_at_its_line(
    tmp_path: Path, books: Playbooks
) -> None:
    text = (RULES / "default.yaml").read_text()
    text = text.replace("actions: [require_step_up]   #", "actions: [require_stepup]   #", 1)
    text = text.replace("queue: topup", "queue: top-ups", 1)
    (tmp_path / "default.yaml").write_text(text)
    (tmp_path / "lists").symlink_to(RULES / "lists")
    problems = check_rules_against_playbooks(load_rules(tmp_path), books)
    lines = text.splitlines()
    brute = lines.index("  - id: brute_force") + 1
    outreach = lines.index("  - id: support_outreach_failed_topups") + 1
    assert problems == [
        f"{tmp_path}/default.yaml:{brute}: rule 'brute_force': actions: unknown playbook "
        f"'require_stepup' (did you mean 'require_step_up'?) (defined in {books.source})",
        f"{tmp_path}/default.yaml:{outreach}: rule 'support_outreach_failed_topups': queue: "
        "unknown category 'top-ups' (did you mean 'topup'?)",
    ]


# ------------------------------------------------------------------------ file errors

BASE = """\
playbooks:
  require_step_up:
    action: require_step_up
    repeat_after: 30m
  disable_payment_features:
    action: disable_payment_features
    features: [transfer_to_new_payee, withdrawal]
    expires_after: 24h
    by_severity:
      critical: {expires_after: 72h}
  alert_support:
    action: alert_support
add_by_severity:
  high: [alert_support]
large_payment_limits:
  default_currency: CNY
  amounts: {CNY: 1000}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(PlaybookLoadError) as info:
        parse_playbooks(text, "pb.yaml")
    return info.value.problems


def test_base_file_loads() -> None:
    books = parse_playbooks(BASE, "pb.yaml")
    assert books.playbooks["require_step_up"].repeat_after == 1800.0
    assert books.add_by_severity == {"high": ("alert_support",)}
    assert len(books.version) == 12


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    repeat_after: 30m",
            "    repeat_afer: 30m",
            "pb.yaml:4: playbook 'require_step_up': unknown key 'repeat_afer' "
            "(did you mean 'repeat_after'?)",
        ),
        (
            "    expires_after: 24h",
            "    expires_after: 24 hours",
            "pb.yaml:8: playbook 'disable_payment_features': expires_after: '24 hours' is not "
            "a duration (e.g. '30m', '2h', '1d' or '2h5m')",
        ),
        (
            "critical: {expires_after: 72h}",
            "critical: {expires_after: 3x}",
            "pb.yaml:10: playbook 'disable_payment_features': by_severity: critical: "
            "expires_after: '3x' is not a duration (e.g. '30m', '2h', '1d' or '2h5m')",
        ),
        (
            "[transfer_to_new_payee, withdrawal]",
            "[transfer_to_new_payee, withdrawl]",
            "pb.yaml:7: playbook 'disable_payment_features': features: feature: unknown "
            "'withdrawl' (did you mean 'withdrawal'?)",
        ),
        (
            "[transfer_to_new_payee, withdrawal]",
            "[whole_wallet]",
            "pb.yaml:7: playbook 'disable_payment_features': features: feature: unknown "
            "'whole_wallet' (known: transfer_to_new_payee, transfer, withdrawal, large_payment)",
        ),
        (
            "    expires_after: 24h\n",
            "",
            "pb.yaml:5: playbook 'disable_payment_features': a freeze needs 'expires_after'",
        ),
        (
            "    action: alert_support",
            "    action: alert_support\n    expires_after: 1h",
            "pb.yaml:13: playbook 'alert_support': 'expires_after' is only for "
            "disable_payment_features",
        ),
        (
            "  high: [alert_support]",
            "  high: [alert_suport]",
            "pb.yaml:14: add_by_severity: high: playbook: unknown 'alert_suport' "
            "(did you mean 'alert_support'?)",
        ),
        (
            "      critical: {",
            "      critcal: {",
            "pb.yaml:10: playbook 'disable_payment_features': by_severity: unknown key "
            "'critcal' (did you mean 'critical'?)",
        ),
        (
            "  amounts: {CNY: 1000}",
            "  amounts: {CNY: -5}",
            "pb.yaml:17: large_payment_limits: amounts: CNY: the limit must be a number > 0, "
            "not -5",
        ),
        ("playbooks:", "playbook:", "pb.yaml:1: expected a mapping with a 'playbooks' mapping"),
    ],
)
def test_file_errors_name_file_and_line(old: str, new: str, expected: str) -> None:
    assert old in BASE
    assert problems_of(BASE.replace(old, new, 1)) == [expected]


def test_every_problem_is_reported_at_once() -> None:
    text = BASE.replace("repeat_after: 30m", "repeat_after: soon").replace(
        "amounts: {CNY: 1000}", "amounts: {CNY: 1000, usd: 150}"
    )
    assert problems_of(text + "escalation: {}\n") == [
        "pb.yaml:18: file: unknown key 'escalation' (known: playbooks, add_by_severity, "
        "large_payment_limits, cases)",
        "pb.yaml:4: playbook 'require_step_up': repeat_after: 'soon' is not a duration "
        "(e.g. '30m', '2h', '1d' or '2h5m')",
        "pb.yaml:17: large_payment_limits: amounts: usd: not a currency code "
        "(ISO 4217: CNY, USD ...)",
    ]


def test_duplicate_playbook_is_an_error() -> None:
    text = BASE.replace(
        "  alert_support:\n    action: alert_support\n",
        "  alert_support:\n    action: alert_support\n  require_step_up:\n"
        "    action: require_step_up\n",
    )
    assert problems_of(text) == ["pb.yaml:13: playbooks: duplicate key 'require_step_up'"]


def test_cases_section_errors() -> None:
    text = BASE + "cases:\n  sla: {P1: 15 min}\n  priority: {critical: P0}\n"
    assert problems_of(text) == [
        "pb.yaml:20: cases: priority: critical: unknown 'P0' (known: P1, P2, P3, P4)",
        "pb.yaml:19: cases: sla: P1: '15 min' is not a duration (e.g. '30m', '2h', '1d' or '2h5m')",
    ]


def test_invalid_yaml_names_the_line() -> None:
    assert problems_of(BASE + "cases: [\n")[0].startswith("pb.yaml:19: invalid YAML")


# ---------------------------------------------------------------------------- planner


def test_ato_critical_decision_gives_ordered_actions_with_stable_ids(books: Playbooks) -> None:
    d = decision()
    p = plan(d, AccountState(), books, NOW)
    assert [a.type for a in p.actions] == [
        "force_password_reset",
        "disable_payment_features",
        "alert_support",
    ]
    assert [a.type for a in p.actions] == sorted((a.type for a in p.actions), key=ORDER.index)
    assert [a.action_id for a in p.actions] == [
        action_id_for(d.alert_id, a.type) for a in p.actions
    ]
    assert len({a.action_id for a in p.actions}) == 3
    again = plan(d, AccountState(), books, NOW + 5)
    assert [a.action_id for a in again.actions] == [a.action_id for a in p.actions]

    freeze = p.actions[1]
    assert freeze.expires_at == to_datetime(NOW + 72 * HOUR)
    assert freeze.issued_at == to_datetime(NOW)
    assert freeze.feature_names == ("transfer_to_new_payee", "withdrawal", "large_payment")
    assert freeze.features[2].limit == Limit(1000.0, "CNY")
    assert all(f.limit is None for f in freeze.features[:2])
    for a in p.actions:
        assert (a.account_id, a.alert_id, a.triggering_event_id) == ("acct-1", d.alert_id, "e1")
        assert a.reason == "transfer of 5,000.00 CNY to a new payee"
        assert (a.severity, a.rule_ids) == ("critical", ("takeover_drain",))
    assert {f: r.expires_at for f, r in p.restrictions.items()} == {
        "transfer_to_new_payee": NOW + 72 * HOUR,
        "withdrawal": NOW + 72 * HOUR,
        "large_payment": NOW + 72 * HOUR,
    }
    assert p.case is not None and p.case.kind == "opened"
    assert (p.case.case.category, p.case.case.priority) == ("account_security", "P1")
    assert p.state.recent == {"force_password_reset": NOW}


def test_high_severity_freeze_lasts_24h_and_gets_support_even_if_the_rule_forgot(
    books: Playbooks,
) -> None:
    p = plan(
        decision(severity="high", actions=["disable_payment_features"]), AccountState(), books, NOW
    )
    assert [a.type for a in p.actions] == ["disable_payment_features", "alert_support"]
    assert p.actions[0].expires_at == to_datetime(NOW + 24 * HOUR)
    assert p.case is not None and p.case.case.priority == "P2"


def test_medium_step_up_only_no_case(books: Playbooks) -> None:
    d = decision(severity="medium", actions=["require_step_up"], event_type="login")
    p = plan(d, AccountState(), books, NOW)
    assert [a.type for a in p.actions] == ["require_step_up"]
    assert p.case is None and p.restrictions == {}


def test_second_alert_while_frozen_reissues_nothing_and_joins_the_case(books: Playbooks) -> None:
    first = plan(decision("e1"), AccountState(), books, NOW)
    assert first.case is not None
    open_cases = {"account_security": first.case.case}
    second = plan(decision("e2"), first.state, books, NOW + 600, open_cases=open_cases)
    assert second.actions == []  # freeze in force, reset within 24h, case not escalated
    assert second.restrictions == first.restrictions
    assert second.case is not None and second.case.kind == "added"
    assert second.case.case.case_id == first.case.case.case_id
    assert second.case.case.alert_count == 2
    assert second.case.alert_id == decision("e2").alert_id


def test_password_reset_and_step_up_repeat_after_their_window(books: Playbooks) -> None:
    d1 = decision("e1", severity="medium", actions=["require_step_up"], event_type="login")
    first = plan(d1, AccountState(), books, NOW)
    d2 = msgspec.structs.replace(d1, event_id="e2")
    assert plan(d2, first.state, books, NOW + 29 * 60).actions == []
    later = plan(d2, first.state, books, NOW + 30 * 60)
    assert [a.type for a in later.actions] == ["require_step_up"]
    assert later.state.recent == {"require_step_up": NOW + 30 * 60}


def test_stronger_restriction_supersedes_weaker(books: Playbooks) -> None:
    high = plan(decision("e1", severity="high"), AccountState(), books, NOW)
    assert high.actions[1].type == "disable_payment_features"
    crit = plan(decision("e2", severity="critical"), high.state, books, NOW + HOUR)
    [freeze] = [a for a in crit.actions if a.type == "disable_payment_features"]
    assert freeze.action_id == action_id_for(decision("e2").alert_id, freeze.type)
    assert freeze.expires_at == to_datetime(NOW + HOUR + 72 * HOUR)
    assert {r.action_id for r in crit.restrictions.values()} == {freeze.action_id}
    # and a weaker one afterwards does not undo it
    weaker = plan(decision("e3", severity="high"), crit.state, books, NOW + 2 * HOUR)
    assert [a.type for a in weaker.actions if a.type == "disable_payment_features"] == []
    assert weaker.restrictions == crit.restrictions


def test_supersede_keeps_the_union_the_later_expiry_and_the_lower_limit(books: Playbooks) -> None:
    in_force = Restriction(
        feature="transfer",
        expires_at=NOW + 100 * HOUR,
        level=24 * HOUR,
        action_id="act_old",
        alert_id="al_old",
        event_id="e0",
        issued_at=NOW - HOUR,
    )
    cheap = Restriction(
        feature="large_payment",
        expires_at=NOW + 100 * HOUR,
        level=24 * HOUR,
        action_id="act_old",
        alert_id="al_old",
        event_id="e0",
        issued_at=NOW - HOUR,
        limit=Limit(200.0, "CNY"),
    )
    state = AccountState(restrictions={"transfer": in_force, "large_payment": cheap})
    p = plan(decision(severity="critical"), state, books, NOW)
    [freeze] = [a for a in p.actions if a.type == "disable_payment_features"]
    assert freeze.feature_names == (
        "transfer_to_new_payee",
        "transfer",
        "withdrawal",
        "large_payment",
    )
    assert freeze.expires_at == to_datetime(NOW + 100 * HOUR)  # never shortened
    assert p.restrictions["large_payment"].limit == Limit(200.0, "CNY")
    assert all(r.level == 72 * HOUR for r in p.restrictions.values())


def test_large_payment_limit_follows_the_account_currency(books: Playbooks) -> None:
    usd = plan(decision("e1"), AccountState(), books, NOW, currency="USD")
    assert usd.restrictions["large_payment"].limit == Limit(150.0, "USD")
    assert usd.actions[1].features[-1].limit == Limit(150.0, "USD")


def test_expiry_gives_exactly_one_restore_with_a_stable_id(books: Playbooks) -> None:
    p = plan(decision(), AccountState(), books, NOW)
    freeze_id = p.actions[1].action_id
    assert expire(p.state, "acct-1", NOW + 72 * HOUR - 1) == ([], p.state)
    restores, left = expire(p.state, "acct-1", NOW + 72 * HOUR)
    [restore] = restores
    assert restore.type == "restore_payment_features"
    assert restore.action_id == restore_id_for(freeze_id)
    assert restore.feature_names == ("transfer_to_new_payee", "withdrawal", "large_payment")
    assert all(f.limit is None for f in restore.features)
    assert (restore.alert_id, restore.triggering_event_id) == (decision().alert_id, "e1")
    assert restore.expires_at is None and restore.issued_at == to_datetime(NOW + 72 * HOUR)
    assert left.restrictions == {} and left.recent == p.state.recent
    assert expire(p.state, "acct-1", NOW + 80 * HOUR)[0][0].action_id == restore.action_id


def test_plan_lifts_expired_restrictions_first_unless_it_restricts_them_again(
    books: Playbooks,
) -> None:
    old = plan(decision("e1", severity="high"), AccountState(), books, NOW)
    later = NOW + 25 * HOUR
    quiet = plan(decision("e2", severity="none", actions=[]), old.state, books, later)
    assert [a.type for a in quiet.actions] == ["restore_payment_features"]
    assert quiet.restrictions == {}
    again = plan(decision("e3", severity="high"), old.state, books, later)
    assert [a.type for a in again.actions] == [  # no restore: restricted again
        "force_password_reset",  # its 24h window has passed too
        "disable_payment_features",
        "alert_support",
    ]
    assert set(again.restrictions) == set(old.restrictions)


def test_ops_decision_only_opens_an_ops_case(books: Playbooks) -> None:
    d = decision(
        "ops:ip:203.0.113.7:1767225600",
        severity="high",
        actions=["alert_support", "disable_payment_features"],
        event_type="ops",
        account_id="ops:ip:203.0.113.7",
        queue="ops",
    )
    p = plan(d, AccountState(), books, NOW)
    assert p.actions == [] and p.restrictions == {}
    assert p.case is not None
    assert (p.case.case.category, p.case.case.account_id) == ("ops", "ops:ip:203.0.113.7")


def test_late_and_unknown_playbooks(books: Playbooks) -> None:
    late = msgspec.structs.replace(decision(), late=True)
    assert plan(late, AccountState(), books, NOW).actions == []
    odd = decision(severity="medium", actions=["lock_wallet", "require_step_up"])
    p = plan(odd, AccountState(), books, NOW)
    assert p.skipped == ("lock_wallet",)
    assert [a.type for a in p.actions] == ["require_step_up"]


def test_severity_overrides_can_change_features() -> None:
    text = BASE.replace(
        "critical: {expires_after: 72h}", "critical: {expires_after: 72h, features: [transfer]}"
    )
    books = parse_playbooks(text, "pb.yaml")
    p = plan(decision(actions=["disable_payment_features"]), AccountState(), books, NOW)
    assert p.actions[0].feature_names == ("transfer",)
    assert p.actions[0].expires_at == to_datetime(NOW + 72 * HOUR)


def test_full_order_restore_step_up_reset_freeze_support(books: Playbooks) -> None:
    stale = Restriction(
        feature="transfer",
        expires_at=NOW - 1,
        level=24 * HOUR,
        action_id="act_old",
        alert_id="al_old",
        event_id="e0",
        issued_at=NOW - 25 * HOUR,
    )
    reversed_rules = [*reversed(ATO_ACTIONS), "require_step_up"]
    d = decision(actions=reversed_rules)
    p = plan(d, AccountState(restrictions={"transfer": stale}), books, NOW)
    assert [a.type for a in p.actions] == list(ORDER)
    assert p.actions[0].action_id == restore_id_for("act_old")
    assert p.actions[0].feature_names == ("transfer",)
    assert "transfer" not in p.restrictions
