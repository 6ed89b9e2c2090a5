"""Run every rule's own test cases through the real feature pipeline.

Each case gets a fresh :class:`~monitor.pipeline.PartitionPipeline` whose rule pack holds
only the rule under test, forced ``active`` (so shadow and disabled rules are testable),
with the anomaly model kept in warm-up (it never fires) and the clock at each event's
time. The case's events go through ``process`` in order; the case passes if the rule is
among the last decision's rule ids exactly when it ``expect``s ``fire``. Cooldowns apply
as in production: a rule that already fired earlier in a case may be quiet on the last
event (the result says so).

Layering: ``monitor.ruleset`` (schema, compiler, loader, case building) < ``monitor.pipeline``
< this module, which is the only one that needs both.

>>> results = run_rule_tests(load_rules("rules"))
>>> all(r.passed for r in results), len({r.rule_id for r in results}) >= 10
(True, True)
>>> r = next(r for r in results if r.rule_id == "brute_force" and r.expected == "fire")
>>> r.got, r.reason is not None, r.where.startswith("rules/default.yaml:")
('fire', True, True)
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from monitor.pipeline import PartitionPipeline
from monitor.responders.playbook_loader import (
    PLAYBOOK_FILE,
    check_rules_against_playbooks,
    load_playbooks,
)
from monitor.ruleset import Rule, RuleHit, RuleLoadError, RulePack, load_rules
from monitor.ruleset.cases import RuleTest

__all__ = ["CaseResult", "format_report", "load_and_test", "run_case", "run_rule_tests"]

Outcome = Literal["fire", "no_fire", "error"]
_NEVER_WARM = 10**12  # anomaly warm-up: the model never flags during a test


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    case: str
    where: str  # file:line of the case
    expected: Literal["fire", "no_fire"]
    got: Outcome
    reason: str | None = None  # the rule's reason text when it fired
    values: dict[str, Any] = field(default_factory=dict)  # what the rule read, last event
    note: str = ""  # why not, when that is not plain from the values (cooldown, late, error)

    @property
    def passed(self) -> bool:
        return self.got == self.expected

    def describe(self) -> str:
        """``file:line: rule 'x' test 'y': expected fire, did not fire (a=1, b=2)``."""
        head = f"{self.where}: rule '{self.rule_id}' test '{self.case}'"
        if self.got == "error":
            return f"{head}: error: {self.note}"
        values = f" ({_show(self.values)})" if self.values else ""
        note = f"; {self.note}" if self.note else ""
        if self.passed:
            verdict = "fired" if self.got == "fire" else "did not fire"
            return f"{head}: {verdict} as expected{values}"
        if self.expected == "fire":
            return f"{head}: expected fire, did not fire{values}{note}"
        return f"{head}: expected no fire, fired: {self.reason}{values}{note}"


@dataclass(frozen=True)
class _RecordingPack(RulePack):
    """A rule pack that keeps the features of the last event it evaluated (to report
    the values a rule read when it did not fire)."""

    seen: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)

    def evaluate(self, features: Any) -> list[RuleHit]:
        self.seen[:] = [dict(features)]
        return super().evaluate(features)


class _EventClock:
    """The pipeline's clock, moved to each event's time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_case(rule: Rule, case: RuleTest) -> CaseResult:
    """Run one case of ``rule`` through a fresh pipeline."""
    spec = msgspec.structs.replace(rule.spec, mode="active")
    alone = Rule(spec=spec, expr=rule.expr, file=rule.file, line=rule.line)
    pack = _RecordingPack(rules=(alone,), version=f"test-{rule.id}", source=rule.file)
    clock = _EventClock()
    where = f"{rule.file}:{case.line}"

    def result(got: Outcome, **more: Any) -> CaseResult:
        return CaseResult(rule.id, case.name, where, case.expect, got, **more)

    try:
        pipe = PartitionPipeline(partition=0, rules=pack, clock=clock, anomaly_warmup=_NEVER_WARM)
        fired_before = 0
        decision = None
        for i, event in enumerate(case.events):
            clock.now = event.epoch
            pack.seen.clear()
            decision = pipe.process(event)
            if rule.id in decision.rule_ids and i < len(case.events) - 1:
                fired_before = i + 1
    except Exception as exc:  # a crash in a case is that case's failure, not the run's
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        note = f"{type(exc).__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})"
        return result("error", note=note)
    assert decision is not None  # a case has at least one event
    features = pack.seen[-1] if pack.seen else None
    values = {n: features.get(n) for n in rule.expr.names} if features is not None else {}
    if rule.id in decision.rule_ids:
        reason = next((r for r in decision.reasons if r.rule_id == rule.id), None)
        return result("fire", reason=reason.text if reason else None, values=values)
    note = ""
    if decision.late:
        note = "the last event was late (too far behind the account's newest) and not decided"
    elif features is None:
        note = "the rule was not evaluated on the last event"
    elif _holds(rule, features):
        note = "the condition held but the rule was not raised"
        if fired_before and spec.cooldown:
            note += f" (cooldown {spec.cooldown:g} s: it fired at event {fired_before})"
    return result("no_fire", values=values, note=note)


def _holds(rule: Rule, features: dict[str, Any]) -> bool:
    try:
        return rule.expr.evaluate(features)
    except ArithmeticError:
        return False


def run_rule_tests(pack: RulePack) -> list[CaseResult]:
    """Every case of every rule of ``pack``, in file order."""
    return [run_case(rule, case) for rule in pack.rules for case in rule.spec.tests]


def load_and_test(directory: Path | str) -> RulePack:
    """Load the pack in ``directory`` and run every rule's tests; a pack that fails
    validation or any of its own tests, or whose rules name a playbook or queue that
    ``playbooks.yaml`` (when present) does not define, raises :class:`RuleLoadError`
    (``file:line`` problems), so the caller keeps its previous pack."""
    pack = load_rules(directory)
    problems = [r.describe() for r in run_rule_tests(pack) if not r.passed]
    playbook_file = Path(directory) / PLAYBOOK_FILE
    if playbook_file.is_file():
        problems += check_rules_against_playbooks(pack, load_playbooks(playbook_file))
    if problems:
        raise RuleLoadError(problems)
    return pack


def format_report(
    pack: RulePack, results: list[CaseResult], *, quiet: bool = False
) -> tuple[list[str], bool]:
    """Lines for ``vigil rules test``: each rule, its cases (PASS/FAIL with file:line),
    and a summary; and whether everything passed. ``quiet``: failures and summary only."""
    lines: list[str] = []
    by_rule: dict[str, list[CaseResult]] = {}
    for r in results:
        by_rule.setdefault(r.rule_id, []).append(r)
    for rule in pack.rules:
        cases = by_rule.get(rule.id, [])
        if quiet and all(r.passed for r in cases):
            continue
        mode = "" if rule.spec.mode == "active" else f" [{rule.spec.mode}]"
        lines.append(f"{rule.id}{mode}  {rule.file}:{rule.line}")
        for r in cases:
            if quiet and r.passed:
                continue
            mark = "PASS" if r.passed else "FAIL"
            expect = "fires" if r.expected == "fire" else "quiet"
            lines.append(f"  {mark}  {expect:5}  {r.case}  ({r.where})")
            if not r.passed:
                lines.append(f"        {r.describe().split(': ', 1)[1]}")
    failed = sum(not r.passed for r in results)
    rules_failed = len({r.rule_id for r in results if not r.passed})
    lines.append(
        f"{len(pack.rules)} rules, {len(results)} cases: {len(results) - failed} passed, "
        f"{failed} failed"
        + (f" in {rules_failed} rules" if failed else "")
        + f" (version {pack.version}, lists: {', '.join(sorted(pack.lists)) or 'none'})"
    )
    return lines, failed == 0


def _show(values: dict[str, Any]) -> str:
    parts = []
    for name, value in values.items():
        if isinstance(value, float) and not isinstance(value, bool):
            parts.append(f"{name}={value:.6g}")
        else:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)
