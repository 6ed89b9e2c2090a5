"""Account-action commands on topic ``wallet.account-actions`` (see ``docs/actions.md``),
the restrictions in force on an account, and the two ways restrictions end: expiry and a
support agent lifting them. Everything here is pure: the caller passes ``now``.

An action's id is its idempotency key: the same alert and action type always give the
same id, so a replayed outbox row or a re-planned decision is deduplicated downstream.

>>> a = Action(action_id=action_id_for("al_1", "require_step_up"), type="require_step_up",
...            account_id="a1", alert_id="al_1", reason="6 failed logins in 10 minutes",
...            issued_at=to_datetime(1772416800.0), triggering_event_id="e1")
>>> a.action_id == action_id_for("al_1", "require_step_up"), len(a.action_id)
(True, 24)
>>> decode_action(encode_action(a)) == a
True
>>> decode_action(b'{"action_id": "x"}').reason
'schema'
>>> state = AccountState(restrictions={"withdrawal": Restriction(
...     feature="withdrawal", expires_at=100.0, level=86400.0, action_id="act_1",
...     alert_id="al_1", event_id="e1", issued_at=0.0)})
>>> restores, left = expire(state, "a1", now=100.0)
>>> [(r.type, [f.name for f in r.features]) for r in restores], left.restrictions
([('restore_payment_features', ['withdrawal'])], {})
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

import msgspec

from monitor.decision import Severity
from monitor.events import DEFAULT_MAX_BYTES, DecodeError, decode_with

__all__ = [
    "ACTION_TYPES",
    "FEATURES",
    "SCHEMA_VERSION",
    "TOPIC",
    "AccountState",
    "Action",
    "ActionType",
    "Feature",
    "FeatureSpec",
    "Limit",
    "Restriction",
    "action_id_for",
    "decode_action",
    "encode_action",
    "expire",
    "manual_password_reset",
    "manual_restore",
    "merge",
    "reason_text",
    "restore_action",
    "restore_id_for",
    "restores",
    "supersedes",
    "to_datetime",
]

SCHEMA_VERSION = 1
TOPIC = "wallet.account-actions"

ActionType = Literal[
    "require_step_up",
    "force_password_reset",
    "disable_payment_features",
    "restore_payment_features",
    "alert_support",
]
ACTION_TYPES: tuple[ActionType, ...] = get_args(ActionType)

# The payment features a freeze may cover. There is deliberately no "whole wallet":
# the customer keeps paying known payees and small amounts while a freeze is in force.
Feature = Literal["transfer_to_new_payee", "transfer", "withdrawal", "large_payment"]
FEATURES: tuple[Feature, ...] = get_args(Feature)

Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
Text = Annotated[str, msgspec.Meta(max_length=1000)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]  # RFC 3339 with an offset (UTC: "Z")
MAX_REASON = 1000


class Limit(msgspec.Struct, frozen=True):
    """``large_payment``: a payment above ``amount`` (in ``currency``; receivers convert
    other currencies at their own rate) is refused while the feature is restricted."""

    amount: Annotated[float, msgspec.Meta(gt=0)]
    currency: Currency


class FeatureSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """One payment feature in a disable or restore command (``limit`` only on a disable
    of ``large_payment``)."""

    name: Feature
    limit: Limit | None = None


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """One command for the wallet, keyed by ``account_id`` on the topic (so the commands
    of one account arrive in the order they were issued)."""

    action_id: str  # idempotency key: receivers apply each id once
    type: ActionType
    account_id: str
    alert_id: str | None  # None for a support agent's restore that names no alert
    features: tuple[FeatureSpec, ...] = ()  # disable / restore only
    expires_at: Timestamp | None = None  # disable only: when the restriction lifts
    reason: Text
    issued_at: Timestamp
    triggering_event_id: str | None
    severity: Severity | None = None  # of the alert; None for restores
    rule_ids: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    @property
    def feature_names(self) -> tuple[Feature, ...]:
        return tuple(f.name for f in self.features)


class Restriction(msgspec.Struct, frozen=True, kw_only=True):
    """A payment feature restricted on an account: the state the store keeps (one row per
    account and feature), with epoch seconds. ``level`` is the strength of the freeze
    tier that imposed it (its duration in seconds: a 72 h freeze outranks a 24 h one)."""

    feature: Feature
    expires_at: float
    level: float
    action_id: str  # the disable command that imposed it (restores derive their id from it)
    alert_id: str | None
    event_id: str | None
    issued_at: float
    limit: Limit | None = None

    def covers(self, other: Restriction) -> bool:
        """True if this restriction is the same as or stronger than ``other``: at least
        its level and, for ``large_payment``, a limit no higher in the same currency."""
        if self.level < other.level:
            return False
        if other.limit is None:
            return True
        if self.limit is None:
            return False
        return (
            self.limit.currency == other.limit.currency and self.limit.amount <= other.limit.amount
        )


class AccountState(msgspec.Struct, frozen=True, kw_only=True):
    """What the planner needs to know about an account's earlier actions: the restrictions
    in force (feature -> restriction) and when step-up / password reset were last issued
    (action type -> epoch seconds). Small and bounded: at most four features, two marks."""

    restrictions: dict[str, Restriction] = {}
    recent: dict[str, float] = {}


def _digest(text: str) -> str:
    return "act_" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def action_id_for(alert_id: str, type: str, suffix: str = "") -> str:
    """Stable id of the ``type`` command for an alert: ``act_`` + 20 hex digits."""
    return _digest(f"{alert_id}:{type}{suffix}")


def restore_id_for(action_id: str) -> str:
    """Stable id of the restore that lifts the restrictions a disable command imposed."""
    return _digest(f"{action_id}:restore")


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def reason_text(text: str) -> str:
    """A reason cut to the schema's length."""
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Action)


def encode_action(action: Action) -> bytes:
    """The command's JSON form, as it goes on the topic."""
    return _encoder.encode(action)


def decode_action(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> Action | DecodeError:
    """Decode a command, or say why not (``too_large`` | ``invalid_utf8`` |
    ``invalid_json`` | ``schema``). Unknown fields are ignored (a newer minor schema)."""
    return decode_with(_decoder, raw, max_bytes)


def restore_action(
    account_id: str,
    lifted: Iterable[Restriction],
    action_id: str,
    reason: str,
    now: float,
    *,
    also: Iterable[str] = (),
) -> Action:
    """A ``restore_payment_features`` command for some restrictions, plus the features
    ``also`` (listed in the canonical order of :data:`FEATURES`). The alert and event are
    those of the lifted restrictions when they all share one."""
    lifted = list(lifted)
    names = {r.feature for r in lifted} | set(also)
    alerts = {r.alert_id for r in lifted}
    events = {r.event_id for r in lifted}
    return Action(
        action_id=action_id,
        type="restore_payment_features",
        account_id=account_id,
        alert_id=alerts.pop() if len(alerts) == 1 else None,
        features=tuple(FeatureSpec(f) for f in FEATURES if f in names),
        reason=reason_text(reason),
        issued_at=to_datetime(now),
        triggering_event_id=events.pop() if len(events) == 1 else None,
    )


def restores(account_id: str, lifted: Iterable[Restriction], now: float) -> list[Action]:
    """One ``restore_payment_features`` per disable command whose restrictions are
    lifted, with the id :func:`restore_id_for` that command's id (stable)."""
    groups: dict[str, list[Restriction]] = {}
    for r in lifted:
        groups.setdefault(r.action_id, []).append(r)
    return [
        restore_action(
            account_id,
            group,
            restore_id_for(action_id),
            f"restriction expired (imposed for alert {group[0].alert_id or '-'})",
            now,
        )
        for action_id, group in sorted(groups.items(), key=lambda kv: kv[1][0].expires_at)
    ]


def expire(state: AccountState, account_id: str, now: float) -> tuple[list[Action], AccountState]:
    """Lift every restriction whose expiry has come (``expires_at <= now``): the restore
    commands (:func:`restores`; running it twice gives the same ids) and the state left."""
    lifted = [r for r in state.restrictions.values() if r.expires_at <= now]
    if not lifted:
        return [], state
    remaining = {f: r for f, r in state.restrictions.items() if r.expires_at > now}
    return restores(account_id, lifted, now), msgspec.structs.replace(state, restrictions=remaining)


def supersedes(in_force: Mapping[str, Restriction], wanted: Mapping[str, Restriction]) -> bool:
    """True if ``wanted`` asks for something ``in_force`` does not cover: a feature not
    restricted, a higher level or a lower limit."""
    return any(f not in in_force or not in_force[f].covers(r) for f, r in wanted.items())


def merge(
    in_force: Mapping[str, Restriction],
    wanted: Mapping[str, Restriction],
    *,
    action_id: str,
    alert_id: str,
    event_id: str,
    now: float,
) -> dict[str, Restriction]:
    """The restrictions after one disable command (``action_id``) supersedes those in
    force: the union of the features, the highest level, the latest expiry (a new alert
    never shortens a freeze) and, for ``large_payment``, the lower limit."""
    union = [*in_force.values(), *wanted.values()]
    level = max(r.level for r in union)
    expires_at = max(r.expires_at for r in union)
    merged: dict[str, Restriction] = {}
    for feature in FEATURES:
        old, new = in_force.get(feature), wanted.get(feature)
        if old is None and new is None:
            continue
        merged[feature] = Restriction(
            feature=feature,
            expires_at=expires_at,
            level=level,
            action_id=action_id,
            alert_id=alert_id,
            event_id=event_id,
            issued_at=now,
            limit=_lower(old.limit if old else None, new.limit if new else None),
        )
    return merged


def _lower(old: Limit | None, new: Limit | None) -> Limit | None:
    if old is None or new is None:
        return new or old
    if old.currency == new.currency and old.amount < new.amount:
        return old
    return new  # lower, or in a currency that cannot be compared: the newer one


def manual_restore(
    state: AccountState,
    account_id: str,
    features: Iterable[Feature] | None,
    reason: str,
    actor: str,
    now: float,
    *,
    request_id: str | None = None,
) -> tuple[Action, AccountState]:
    """A support agent lifts restrictions: ``features`` (None = every restricted one;
    a feature not in ``state`` is still listed, in case the wallet holds a restriction
    Vigil lost track of). ``reason`` and ``actor`` are required (the store audits them);
    ``request_id`` makes a retried request give the same action id.

    Raises ``ValueError`` for an empty reason or actor, an unknown feature, or nothing
    to lift."""
    if not reason.strip() or not actor.strip():
        raise ValueError("a restore needs a reason and the agent who made it")
    names = set(state.restrictions) if features is None else set(features)
    unknown = names - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)} (known: {', '.join(FEATURES)})")
    if not names:
        raise ValueError("no restriction to lift")
    ordered = [f for f in FEATURES if f in names]
    key = request_id or f"{actor}:{now!r}:{','.join(ordered)}"
    action = restore_action(
        account_id,
        [state.restrictions[f] for f in ordered if f in state.restrictions],
        _digest(f"manual:{account_id}:{key}"),
        f"lifted by support ({actor}): {reason.strip()}",
        now,
        also=ordered,
    )
    remaining = {f: r for f, r in state.restrictions.items() if f not in names}
    return action, msgspec.structs.replace(state, restrictions=remaining)


def manual_password_reset(
    state: AccountState,
    account_id: str,
    reason: str,
    actor: str,
    now: float,
    *,
    request_id: str | None = None,
    alert_id: str | None = None,
) -> tuple[Action, AccountState]:
    """A support agent forces a password reset: the ``force_password_reset`` command and
    the state with the reset marked as recent (so the playbooks do not reset again within
    their ``repeat_after``: the customer who just chose a new password is not thrown out
    by the next alert). ``request_id`` makes a retried request give the same action id;
    ``alert_id`` names the alert behind it, if any.

    Raises ``ValueError`` for an empty reason or actor.

    >>> action, state = manual_password_reset(AccountState(), "a1", "SIM swap reported",
    ...                                       "agent-7", 100.0, request_id="req-1")
    >>> action.type, state.recent
    ('force_password_reset', {'force_password_reset': 100.0})
    >>> action.reason
    'password reset by support (agent-7): SIM swap reported'
    >>> action.action_id == manual_password_reset(AccountState(), "a1", "x", "agent-7",
    ...                                           200.0, request_id="req-1")[0].action_id
    True
    """
    if not reason.strip() or not actor.strip():
        raise ValueError("a password reset needs a reason and the agent who made it")
    key = request_id or f"{actor}:{now!r}"
    action = Action(
        action_id=_digest(f"manual-reset:{account_id}:{key}"),
        type="force_password_reset",
        account_id=account_id,
        alert_id=alert_id,
        reason=reason_text(f"password reset by support ({actor}): {reason.strip()}"),
        issued_at=to_datetime(now),
        triggering_event_id=None,
    )
    recent = {**state.recent, "force_password_reset": now}
    return action, msgspec.structs.replace(state, recent=recent)
