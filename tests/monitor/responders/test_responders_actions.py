"""The account-action command schema (wallet.account-actions), ids, JSON, restores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from monitor.events import DecodeError
from monitor.responders.actions import (
    ACTION_TYPES,
    FEATURES,
    AccountState,
    Action,
    FeatureSpec,
    Limit,
    Restriction,
    action_id_for,
    decode_action,
    encode_action,
    manual_password_reset,
    manual_restore,
    restore_id_for,
    to_datetime,
)

NOW = 1_772_416_800.0  # 2026-03-02T02:00:00Z

# the command fields exactly as issue 5 lists them, plus the receiver's context
ISSUE_FIELDS = {
    "action_id",
    "type",
    "account_id",
    "alert_id",
    "features",
    "expires_at",
    "reason",
    "issued_at",
    "triggering_event_id",
}
CONTEXT_FIELDS = {"severity", "rule_ids", "schema_version"}


def freeze() -> Action:
    return Action(
        action_id=action_id_for("al_1", "disable_payment_features"),
        type="disable_payment_features",
        account_id="acct-1",
        alert_id="al_1",
        features=(
            FeatureSpec("transfer_to_new_payee"),
            FeatureSpec("withdrawal"),
            FeatureSpec("large_payment", Limit(1000.0, "CNY")),
        ),
        expires_at=to_datetime(NOW + 72 * 3600),
        reason="transfer of 5,000.00 CNY to a new payee",
        issued_at=to_datetime(NOW),
        triggering_event_id="e1",
        severity="critical",
        rule_ids=("takeover_drain",),
    )


def test_schema_fields_are_exactly_the_issue_list_plus_context() -> None:
    assert set(Action.__struct_fields__) == ISSUE_FIELDS | CONTEXT_FIELDS
    assert ACTION_TYPES == (
        "require_step_up",
        "force_password_reset",
        "disable_payment_features",
        "restore_payment_features",
        "alert_support",
    )
    assert FEATURES == ("transfer_to_new_payee", "transfer", "withdrawal", "large_payment")


def test_json_form_and_round_trip() -> None:
    action = freeze()
    raw = encode_action(action)
    assert json.loads(raw) == {
        "action_id": action.action_id,
        "type": "disable_payment_features",
        "account_id": "acct-1",
        "alert_id": "al_1",
        "features": [
            {"name": "transfer_to_new_payee"},
            {"name": "withdrawal"},
            {"name": "large_payment", "limit": {"amount": 1000.0, "currency": "CNY"}},
        ],
        "expires_at": "2026-03-05T02:00:00Z",
        "reason": "transfer of 5,000.00 CNY to a new payee",
        "issued_at": "2026-03-02T02:00:00Z",
        "triggering_event_id": "e1",
        "severity": "critical",
        "rule_ids": ["takeover_drain"],
        "schema_version": 1,
    }
    assert decode_action(raw) == action
    # a receiver on an older build ignores fields a newer Vigil adds
    newer = json.loads(raw) | {"case_id": "case_1"}
    assert decode_action(json.dumps(newer).encode()) == action


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "invalid_json"),
        (b"{", "invalid_json"),
        (b"\xff", "invalid_utf8"),
        (b'{"action_id": "x"}', "schema"),
        (b"x" * 70_000, "too_large"),
    ],
)
def test_decode_returns_an_error_value(raw: bytes | None, reason: str) -> None:
    result = decode_action(raw)
    assert isinstance(result, DecodeError) and result.reason == reason


@pytest.mark.parametrize(
    "patch",
    [
        {"type": "lock_wallet"},
        {"features": [{"name": "whole_wallet"}]},
        {"features": [{"name": "large_payment", "limit": {"amount": 0, "currency": "CNY"}}]},
        {"features": [{"name": "large_payment", "limit": {"amount": 5, "currency": "yuan"}}]},
        {"expires_at": "2026-03-05T02:00:00"},  # no offset
        {"reason": "x" * 1001},
    ],
)
def test_decode_refuses_what_the_schema_does_not_allow(patch: dict[str, object]) -> None:
    raw = json.dumps(json.loads(encode_action(freeze())) | patch).encode()
    result = decode_action(raw)
    assert isinstance(result, DecodeError) and result.reason == "schema"


def test_ids_are_stable_and_distinct() -> None:
    a = action_id_for("al_1", "require_step_up")
    assert a == action_id_for("al_1", "require_step_up")
    assert a.startswith("act_") and len(a) == 24
    assert (
        len(
            {
                a,
                action_id_for("al_2", "require_step_up"),
                action_id_for("al_1", "force_password_reset"),
                action_id_for("al_1", "require_step_up", ":2"),
                restore_id_for(a),
            }
        )
        == 5
    )
    assert restore_id_for(a) == restore_id_for(a)


def restricted(*features: str) -> AccountState:
    return AccountState(
        restrictions={
            f: Restriction(
                feature=f,  # type: ignore[arg-type]
                expires_at=NOW + 3600,
                level=86400.0,
                action_id="act_x",
                alert_id="al_1",
                event_id="e1",
                issued_at=NOW - 3600,
            )
            for f in features
        },
        recent={"force_password_reset": NOW - 3600},
    )


def test_manual_restore_lifts_the_features_with_the_agents_reason() -> None:
    state = restricted("transfer_to_new_payee", "withdrawal", "large_payment")
    action, left = manual_restore(
        state, "acct-1", ["withdrawal"], "customer verified by phone", "agent-7", NOW
    )
    assert action.type == "restore_payment_features"
    assert action.feature_names == ("withdrawal",)
    assert action.reason == "lifted by support (agent-7): customer verified by phone"
    assert (action.alert_id, action.triggering_event_id) == ("al_1", "e1")
    assert set(left.restrictions) == {"transfer_to_new_payee", "large_payment"}
    assert left.recent == state.recent
    again, _ = manual_restore(
        state, "acct-1", ["withdrawal"], "customer verified by phone", "agent-7", NOW
    )
    assert again.action_id == action.action_id  # a retried request is deduplicated
    other, _ = manual_restore(
        state, "acct-1", ["withdrawal"], "retry", "agent-7", NOW, request_id="r2"
    )
    assert other.action_id != action.action_id


def test_manual_restore_of_everything_and_refusals() -> None:
    state = restricted("transfer_to_new_payee", "large_payment")
    action, left = manual_restore(state, "acct-1", None, "false positive", "agent-7", NOW)
    assert action.feature_names == ("transfer_to_new_payee", "large_payment")
    assert left.restrictions == {}
    # a feature Vigil no longer tracks is still lifted (the wallet may hold it)
    action, _ = manual_restore(AccountState(), "acct-1", ["transfer"], "ticket 42", "a", NOW)
    assert action.feature_names == ("transfer",) and action.alert_id is None
    with pytest.raises(ValueError, match="reason"):
        manual_restore(state, "acct-1", None, "  ", "agent-7", NOW)
    with pytest.raises(ValueError, match="unknown features"):
        manual_restore(state, "acct-1", ["wallet"], "x", "agent-7", NOW)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no restriction to lift"):
        manual_restore(AccountState(), "acct-1", None, "x", "agent-7", NOW)


def test_restriction_covers() -> None:
    base = restricted("large_payment").restrictions["large_payment"]
    low = msgspec.structs.replace(base, limit=Limit(500.0, "CNY"))
    high = msgspec.structs.replace(base, limit=Limit(1000.0, "CNY"))
    longer = msgspec.structs.replace(high, level=3 * 86400.0)
    assert low.covers(high) and not high.covers(low)
    assert longer.covers(high) and not high.covers(longer)
    assert not msgspec.structs.replace(low, limit=Limit(5.0, "USD")).covers(high)


def test_the_examples_in_docs_decode() -> None:
    text = (Path(__file__).parents[3] / "docs" / "actions.md").read_text()
    blocks = [b for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"action_id"' in b]
    decoded = [decode_action(b.encode()) for b in blocks]
    assert [type(a) for a in decoded] == [Action] * 6
    assert {a.type for a in decoded if isinstance(a, Action)} == set(ACTION_TYPES)
    for a in decoded:
        assert isinstance(a, Action) and set(json.loads(encode_action(a))) == set(
            json.loads(next(b for b in blocks if a.action_id in b))
        )


def test_manual_password_reset_marks_the_reset_recent() -> None:
    state = AccountState(recent={"require_step_up": NOW - 60})
    action, after = manual_password_reset(state, "acct-1", " SIM swap ", "agent-7", NOW)
    assert (action.type, action.alert_id, action.features) == ("force_password_reset", None, ())
    assert action.reason == "password reset by support (agent-7): SIM swap"
    assert after.recent == {"require_step_up": NOW - 60, "force_password_reset": NOW}
    assert decode_action(encode_action(action)) == action
    again, _ = manual_password_reset(state, "acct-1", "x", "agent-7", NOW + 1)
    assert again.action_id != action.action_id  # no request id: a new command each time
    with pytest.raises(ValueError, match="reason"):
        manual_password_reset(state, "acct-1", " ", "agent-7", NOW)
