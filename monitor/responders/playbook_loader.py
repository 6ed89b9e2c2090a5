"""Playbooks (``rules/playbooks.yaml``): the model and the loader that validates the
file like a rule pack (every problem as ``file:line``). The planner is in
``monitor/responders/playbooks.py``."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec
import yaml

from monitor.decision import SEVERITIES, Decision
from monitor.responders.actions import (
    FEATURES,
    ActionType,
    Feature,
    Limit,
)
from monitor.responders.cases import (
    CATEGORIES,
    PRIORITIES,
    CasePolicy,
)
from monitor.ruleset.durations import DurationError, parse_duration
from monitor.ruleset.exceptions import RuleLoadError

if TYPE_CHECKING:
    from monitor.ruleset.rules import RulePack

__all__ = [
    "ORDER",
    "PLAYBOOK_ACTIONS",
    "PLAYBOOK_FILE",
    "Playbook",
    "PlaybookLoadError",
    "Playbooks",
    "SeverityOverride",
    "check_rules_against_playbooks",
    "load_playbooks",
    "parse_playbooks",
]

PLAYBOOK_FILE = "playbooks.yaml"

PlaybookAction = Literal[
    "require_step_up", "force_password_reset", "disable_payment_features", "alert_support"
]
PLAYBOOK_ACTIONS: tuple[PlaybookAction, ...] = get_args(PlaybookAction)

# Execution order of one plan's commands (docs/actions.md#order): lifts of expired
# restrictions, then who may use the account (step-up, then password reset), then what
# it may do (the freeze), then the people (support sees a case whose actions are issued).
ORDER: tuple[ActionType, ...] = (
    "restore_payment_features",
    "require_step_up",
    "force_password_reset",
    "disable_payment_features",
    "alert_support",
)
_REPEATABLE: tuple[ActionType, ...] = (
    "require_step_up",
    "force_password_reset",
)  # the ones with repeat_after


class PlaybookLoadError(RuleLoadError):
    """The playbook file is invalid; ``problems`` lists ``file:line: message``. A
    :class:`~monitor.ruleset.exceptions.RuleLoadError`, so a reload refuses it the same way."""


class SeverityOverride(msgspec.Struct, frozen=True, kw_only=True):
    expires_after: float | None = None
    features: tuple[Feature, ...] | None = None


class Playbook(msgspec.Struct, frozen=True, kw_only=True):
    """One named response. ``repeat_after`` (seconds) for step-up and password reset;
    ``features`` and ``expires_after`` (seconds) for a freeze; ``by_severity`` overrides
    them for alerts of that severity."""

    action: PlaybookAction
    description: str = ""
    repeat_after: float = 0.0
    features: tuple[Feature, ...] = ()
    expires_after: float | None = None
    by_severity: dict[str, SeverityOverride] = {}

    def features_for(self, severity: str) -> tuple[Feature, ...]:
        override = self.by_severity.get(severity)
        if override is not None and override.features is not None:
            return override.features
        return self.features

    def expires_after_for(self, severity: str) -> float:
        override = self.by_severity.get(severity)
        if override is not None and override.expires_after is not None:
            return override.expires_after
        return self.expires_after or 0.0


@dataclass(frozen=True)
class Playbooks:
    """A loaded playbook file. Immutable; swapping it is one reference assignment."""

    playbooks: Mapping[str, Playbook]
    add_by_severity: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limit_amounts: Mapping[str, float] = field(default_factory=lambda: {"CNY": 1000.0})
    default_currency: str = "CNY"
    cases: CasePolicy = field(default_factory=CasePolicy)
    source: str = "-"
    version: str = ""  # content hash of the file

    def resolve(self, decision: Decision) -> tuple[list[Playbook], tuple[str, ...]]:
        """The playbooks for a decision (its rules' names, then those its severity adds)
        and the names that are not playbooks (see :func:`check_rules_against_playbooks`)."""
        names = dict.fromkeys([*decision.actions, *self.add_by_severity.get(decision.severity, ())])
        found = [self.playbooks[n] for n in names if n in self.playbooks]
        return found, tuple(n for n in names if n not in self.playbooks)

    def limit_for(self, currency: str | None) -> Limit:
        """The ``large_payment`` limit for an account's currency (the default currency's
        when it is unknown or not listed)."""
        code = self.default_currency
        if currency is not None and currency in self.limit_amounts:
            code = currency
        return Limit(self.limit_amounts[code], code)

    def repeat_window(self, action: str) -> float:
        return max(
            (p.repeat_after for p in self.playbooks.values() if p.action == action), default=0.0
        )


# ---------------------------------------------------------------------------- loader

_LINE, _LINES, _DUPS = "__line__", "__lines__", "__dups__"
_ALERT_SEVERITIES = SEVERITIES[1:]  # severities of alerts ("none" is not one)
_EVENT_TYPES = ("login", "payment", "topup", "security", "ops")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's line, its keys' lines and duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        lines: dict[Any, int] = {}
        dups: list[tuple[Any, int]] = []
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                at = key.start_mark.line + 1
                if key.value in lines:
                    dups.append((key.value, at))
                lines.setdefault(key.value, at)
        mapping.update({_LINE: node.start_mark.line + 1, _LINES: lines, _DUPS: dups})
        return mapping


class _Map:
    """A YAML mapping whose keys were checked, with the line of each key."""

    def __init__(self, raw: dict[Any, Any], items: dict[str, Any]) -> None:
        self.line: int = raw[_LINE]
        self._lines: dict[Any, int] = raw[_LINES]
        self.items = items

    def at(self, key: str) -> int:
        return self._lines.get(key, self.line)


class _Reader:
    """Reads one file's YAML, collecting ``file:line: message`` problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def err(self, line: int, message: str) -> None:
        self.problems.append(f"{self.source}:{line}: {message}")

    def mapping(self, value: Any, line: int, where: str, keys: Iterable[str] = ()) -> _Map:
        """``value`` as a mapping; keys not in ``keys`` (if given) and duplicates reported."""
        if not isinstance(value, dict):
            self.err(line, f"{where}: must be a mapping")
            return _Map({_LINE: line, _LINES: {}}, {})
        known = tuple(keys)
        for key, at in value[_DUPS]:
            self.err(at, f"{where}: duplicate key '{key}'")
        items = {}
        for key, item in value.items():
            if key in (_LINE, _LINES, _DUPS):
                continue
            if not isinstance(key, str) or (known and key not in known):
                at = value[_LINES].get(key, value[_LINE])
                self.err(at, f"{where}: unknown key '{key}'{_hint(key, known)}")
                continue
            items[key] = item
        return _Map(value, items)

    def duration(self, value: Any, line: int, where: str) -> float | None:
        """A duration > 0 in seconds, or None (reported)."""
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            self.err(line, f"{where}: {exc}")
            return None
        if seconds <= 0:
            self.err(line, f"{where}: must be longer than 0")
            return None
        return seconds

    def choice(self, value: Any, line: int, where: str, allowed: tuple[str, ...]) -> bool:
        if value in allowed:
            return True
        self.err(line, f"{where}: unknown {value!r}{_hint(value, allowed)}")
        return False

    def features(self, value: Any, line: int, where: str) -> tuple[Feature, ...] | None:
        if not isinstance(value, list) or not value:
            self.err(line, f"{where}: a non-empty list of features ({', '.join(FEATURES)})")
            return None
        ok = [self.choice(v, line, f"{where}: feature", FEATURES) for v in value]
        return tuple(dict.fromkeys(value)) if all(ok) else None


def _hint(name: Any, known: Iterable[str]) -> str:
    known = tuple(known)
    close = difflib.get_close_matches(str(name), known, n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (known: {', '.join(known)})" if known else ""


def load_playbooks(path: Path | str) -> Playbooks:
    """Load ``path``: the playbook file, or a rule directory holding ``playbooks.yaml``."""
    path = Path(path)
    if path.is_dir():
        path = path / PLAYBOOK_FILE
    if not path.is_file():
        raise PlaybookLoadError([f"{path}: playbook file not found"])
    return parse_playbooks(path.read_text(encoding="utf-8"), str(path))


def parse_playbooks(text: str, source: str = "<playbooks>") -> Playbooks:
    """Parse and validate a playbook file's text; every problem is ``source:line: ...``
    and all of them are reported at once (:class:`PlaybookLoadError`)."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", exc)
        raise PlaybookLoadError([f"{source}:{line}: invalid YAML: {problem}"]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("playbooks"), dict):
        raise PlaybookLoadError([f"{source}:1: expected a mapping with a 'playbooks' mapping"])
    r = _Reader(source)
    top = r.mapping(
        doc, 1, "file", ("playbooks", "add_by_severity", "large_payment_limits", "cases")
    )
    section = r.mapping(top.items["playbooks"], top.at("playbooks"), "playbooks")
    books = {}
    for name, raw in section.items.items():
        book = _playbook(r, f"playbook '{name}'", raw, section.at(name))
        if book is not None:
            books[name] = book
    adds = _add_by_severity(r, top, tuple(section.items))  # an invalid one is still defined
    amounts, default_currency = _limits(r, top)
    policy = _cases(r, top)
    if r.problems:
        raise PlaybookLoadError(r.problems)
    return Playbooks(
        playbooks=books,
        add_by_severity=adds,
        limit_amounts=amounts,
        default_currency=default_currency,
        cases=policy,
        source=source,
        version=hashlib.sha256(text.encode()).hexdigest()[:12],
    )


_FREEZE_KEYS = ("features", "expires_after", "by_severity")


def _playbook(r: _Reader, where: str, raw: Any, line: int) -> Playbook | None:
    before = len(r.problems)
    m = r.mapping(raw, line, where, ("action", "description", "repeat_after", *_FREEZE_KEYS))
    action = m.items.get("action")
    if action is None:
        r.err(line, f"{where}: missing 'action' ({', '.join(PLAYBOOK_ACTIONS)})")
        return None
    if not r.choice(action, m.at("action"), f"{where}: action", PLAYBOOK_ACTIONS):
        return None
    description = m.items.get("description", "")
    if not isinstance(description, str):
        r.err(m.at("description"), f"{where}: description must be text")
    repeat_after = 0.0
    if "repeat_after" in m.items:
        if action not in _REPEATABLE:
            r.err(m.at("repeat_after"), f"{where}: repeat_after is for {', '.join(_REPEATABLE)}")
        at = m.at("repeat_after")
        repeat_after = r.duration(m.items["repeat_after"], at, f"{where}: repeat_after") or 0.0
    features: tuple[Feature, ...] = ()
    expires_after = None
    overrides = {}
    if action == "disable_payment_features":
        for key in ("features", "expires_after"):
            if key not in m.items:
                r.err(line, f"{where}: a freeze needs '{key}'")
        if "features" in m.items:
            at = m.at("features")
            features = r.features(m.items["features"], at, f"{where}: features") or ()
        if "expires_after" in m.items:
            at = m.at("expires_after")
            expires_after = r.duration(m.items["expires_after"], at, f"{where}: expires_after")
        if "by_severity" in m.items:
            overrides = _overrides(
                r, f"{where}: by_severity", m.items["by_severity"], m.at("by_severity")
            )
    for key in _FREEZE_KEYS:
        if key in m.items and action != "disable_payment_features":
            r.err(m.at(key), f"{where}: '{key}' is only for disable_payment_features")
    if len(r.problems) > before:
        return None
    return Playbook(
        action=action,
        description=description,
        repeat_after=repeat_after,
        features=features,
        expires_after=expires_after,
        by_severity=overrides,
    )


def _overrides(r: _Reader, where: str, raw: Any, line: int) -> dict[str, SeverityOverride]:
    out = {}
    table = r.mapping(raw, line, where, _ALERT_SEVERITIES)
    for severity, value in table.items.items():
        label = f"{where}: {severity}"
        m = r.mapping(value, table.at(severity), label, ("expires_after", "features"))
        expires = features = None
        if "expires_after" in m.items:
            expires = r.duration(
                m.items["expires_after"], m.at("expires_after"), f"{label}: expires_after"
            )
        if "features" in m.items:
            features = r.features(m.items["features"], m.at("features"), f"{label}: features")
        out[severity] = SeverityOverride(expires_after=expires, features=features)
    return out


def _add_by_severity(r: _Reader, top: _Map, names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    if "add_by_severity" not in top.items:
        return {}
    table = r.mapping(
        top.items["add_by_severity"],
        top.at("add_by_severity"),
        "add_by_severity",
        _ALERT_SEVERITIES,
    )
    out = {}
    for severity, value in table.items.items():
        where = f"add_by_severity: {severity}"
        if not isinstance(value, list):
            r.err(table.at(severity), f"{where}: a list of playbook names")
            continue
        if all([r.choice(n, table.at(severity), f"{where}: playbook", names) for n in value]):
            out[severity] = tuple(value)
    return out


def _limits(r: _Reader, top: _Map) -> tuple[dict[str, float], str]:
    if "large_payment_limits" not in top.items:
        r.err(1, "large_payment_limits: required (default_currency and amounts)")
        return {}, ""
    where = "large_payment_limits"
    m = r.mapping(top.items[where], top.at(where), where, ("default_currency", "amounts"))
    table = r.mapping(m.items.get("amounts"), m.at("amounts"), f"{where}: amounts")
    amounts: dict[str, float] = {}
    for currency, amount in table.items.items():
        where_c = f"{where}: amounts: {currency}"
        if not re.fullmatch("[A-Z]{3}", currency):
            r.err(table.at(currency), f"{where_c}: not a currency code (ISO 4217: CNY, USD ...)")
        elif isinstance(amount, bool) or not isinstance(amount, int | float) or not amount > 0:
            r.err(table.at(currency), f"{where_c}: the limit must be a number > 0, not {amount!r}")
        else:
            amounts[currency] = float(amount)
    default = m.items.get("default_currency")
    if default not in table.items:
        r.err(m.at("default_currency"), f"{where}: default_currency {default!r} has no amount")
    return amounts, str(default)


def _cases(r: _Reader, top: _Map) -> CasePolicy:
    default = CasePolicy()
    if "cases" not in top.items:
        return default
    keys = ("priority", "sla", "category", "default_category")
    m = r.mapping(top.items["cases"], top.at("cases"), "cases", keys)
    tables: dict[str, dict[str, Any]] = {}
    for key, names, allowed in (
        ("priority", _ALERT_SEVERITIES, PRIORITIES),
        ("sla", PRIORITIES, ()),
        ("category", _EVENT_TYPES, CATEGORIES),
    ):
        tables[key] = {}
        if key not in m.items:
            continue
        table = r.mapping(m.items[key], m.at(key), f"cases: {key}", names)
        for name, value in table.items.items():
            where = f"cases: {key}: {name}"
            if not allowed:
                tables[key][name] = r.duration(value, table.at(name), where)
            elif r.choice(value, table.at(name), where, allowed):
                tables[key][name] = value
    fallback = m.items.get("default_category", default.default_category)
    r.choice(fallback, m.at("default_category"), "cases: default_category", CATEGORIES)
    return CasePolicy(
        priority={**default.priority, **tables["priority"]},
        sla={**default.sla, **tables["sla"]},
        category={**default.category, **tables["category"]},
        default_category=fallback if fallback in CATEGORIES else default.default_category,
    )


def check_rules_against_playbooks(pack: RulePack, playbooks: Playbooks) -> list[str]:
    """Problems (``file:line: message``, at the rule's line) of rules that name a playbook
    the file does not define, or a queue that is not a case category. Disabled and shadow
    rules are checked too: enabling one must not be what breaks."""
    problems = []
    known = tuple(sorted(playbooks.playbooks))
    for rule in pack.rules:
        where = f"{rule.file}:{rule.line}: rule '{rule.id}'"
        for name in rule.spec.actions:
            if name not in playbooks.playbooks:
                problems.append(
                    f"{where}: actions: unknown playbook {name!r}{_hint(name, known)} "
                    f"(defined in {playbooks.source})"
                )
        queue = rule.spec.queue
        if queue is not None and queue not in CATEGORIES:
            problems.append(f"{where}: queue: unknown category {queue!r}{_hint(queue, CATEGORIES)}")
    return problems
