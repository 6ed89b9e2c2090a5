"""Rule schema (what a YAML rule may say) and the compiled pack the pipeline runs.

>>> from monitor.ruleset.compiler import compile_expression
>>> spec = RuleSpec(id="r", applies_to=frozenset({"login"}), when="failed_logins_10m >= 3",
...                 severity="high", score=0.8, reason="{failed_logins_10m} failures")
>>> rule = Rule(spec, compile_expression(spec.when, event_types=spec.applies_to), "f.yaml", 1)
>>> pack = RulePack(rules=(rule,), version="v1", source="-")
>>> [(h.rule.id, h.reason.text, h.reason.values) for h in pack.evaluate(
...     {"type": "login", "failed_logins_10m": 4})]
[('r', '4 failures', {'failed_logins_10m': 4})]
>>> pack.evaluate({"type": "payment", "failed_logins_10m": 4})
[]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import CodeType
from typing import Annotated, Any, Literal

import msgspec

from monitor.decision import Reason, Severity
from monitor.ruleset.cases import RuleTest
from monitor.ruleset.compiler import EVAL_GLOBALS, CompiledExpression, compile_together
from monitor.ruleset.lists import NamedList

EventTypeName = Literal["login", "payment", "topup", "security"]


class RuleSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    applies_to: frozenset[EventTypeName]
    when: str
    severity: Severity
    score: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.5
    description: str = ""
    reason: str | None = None  # template over feature names, e.g. "{amount} to a new payee"
    mode: Literal["active", "shadow", "disabled"] = "active"
    actions: tuple[str, ...] = ()
    queue: str | None = None
    # seconds: no repeat for the same account within it (files say "30m", "2h", "1d")
    cooldown: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    tests: tuple[RuleTest, ...] = ()  # the rule's own cases (the loader requires both kinds)

    def __post_init__(self) -> None:
        if not self.applies_to:
            raise ValueError("applies_to must name at least one event type")


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    expr: CompiledExpression
    file: str
    line: int

    @property
    def id(self) -> str:
        return self.spec.id

    def explain(self, features: Mapping[str, Any]) -> Reason:
        values = {name: features[name] for name in self.expr.names}
        template = self.spec.reason
        text = template.format_map(features) if template else (self.spec.description or self.id)
        return Reason(code=f"rule:{self.id}", text=text, rule_id=self.id, values=values)


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    reason: Reason


@dataclass(frozen=True)
class RulePack:
    """An immutable, compiled rule pack. Swapping packs is one reference assignment."""

    rules: tuple[Rule, ...]
    version: str  # content hash of the rule files and the named lists
    source: str
    lists: Mapping[str, NamedList] = field(default_factory=dict, compare=False)
    errors: Counter[str] = field(default_factory=Counter, repr=False, compare=False)
    _by_type: dict[str, tuple[tuple[Rule, ...], CodeType]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_type: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.spec.mode == "disabled":
                continue
            for event_type in rule.spec.applies_to:
                by_type.setdefault(event_type, []).append(rule)
        compiled = {
            t: (tuple(rules), compile_together([r.expr for r in rules]))
            for t, rules in by_type.items()
        }
        object.__setattr__(self, "_by_type", compiled)

    def __reduce__(self) -> tuple[Any, ...]:
        # the combined per-type code objects do not pickle: rebuild them from the rules
        return (RulePack, (self.rules, self.version, self.source, dict(self.lists)))

    def for_type(self, event_type: str) -> tuple[Rule, ...]:
        """The enabled rules that apply to ``event_type``."""
        group = self._by_type.get(event_type)
        return group[0] if group else ()

    def evaluate(self, features: Mapping[str, Any]) -> list[RuleHit]:
        """Hits of active and shadow rules for one event's features (callers keep
        shadow hits apart: they are recorded, never acted on).

        A rule whose arithmetic fails on this event (a division by a feature that is
        zero) does not fire; the failure is counted in ``errors`` by rule id."""
        group = self._by_type.get(features["type"])
        if group is None:
            return []
        rules, together = group
        try:  # every rule of the event type in one eval (see compile_together)
            flags = eval(together, EVAL_GLOBALS, features)  # checked trees, no builtins
        except ArithmeticError:
            return self._one_by_one(rules, features)
        if not any(flags):  # most events: no rule fires
            return []
        return [
            RuleHit(r, r.explain(features)) for r, fired in zip(rules, flags, strict=True) if fired
        ]

    def _one_by_one(self, rules: tuple[Rule, ...], features: Mapping[str, Any]) -> list[RuleHit]:
        hits = []
        for rule in rules:
            try:
                fired = rule.expr.evaluate(features)
            except ArithmeticError:
                self.errors[rule.id] += 1
                continue
            if fired:
                hits.append(RuleHit(rule, rule.explain(features)))
        return hits
