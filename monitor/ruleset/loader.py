"""Load a rule pack (``rules/*.yaml`` and the named lists in ``rules/lists/*.txt``):
parse, validate against the schema and the feature table, compile, build each rule's
test cases. Any problem is reported as ``file:line: message`` and the whole pack is
refused, so a running service keeps its previous rules. (Running the test cases needs
the pipeline: ``monitor.ruletests.load_and_test``.)

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.yaml").write_text('''
... rules:
...   - id: brute_force
...     description: many failed logins
...     applies_to: [login]
...     when: failed_logins_10m >= 5
...     severity: medium
...     score: 0.6
...     reason: "{failed_logins_10m} failed logins in 10 min"
...     cooldown: 30m
...     tests:
...       - name: five failures
...         expect: fire
...         events: [{type: login, at: 0m, success: false, repeat: 5}]
...       - name: four failures
...         expect: no_fire
...         events: [{type: login, at: 0m, success: false, repeat: 4}]
... ''')
>>> pack = load_rules(d)
>>> [r.id for r in pack.rules], len(pack.version), pack.rules[0].spec.cooldown
(['brute_force'], 12, 1800.0)
>>> [(t.name, t.expect, len(t.events)) for t in pack.rules[0].spec.tests]
[('five failures', 'fire', 5), ('four failures', 'no_fire', 4)]
>>> _ = (d / "b.yaml").write_text("rules:\\n  - id: x\\n    applies_to: [login]\\n"
...                                "    when: failed_login_10m > 5\\n    severity: high\\n")
>>> try:
...     load_rules(d)
... except RuleLoadError as e:
...     print(e.problems[0].replace(str(d), "DIR"))
DIR/b.yaml:4: rule 'x': when: unknown name 'failed_login_10m' (did you mean 'failed_logins_10m'?)
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path
from typing import Any

import msgspec
import yaml

from monitor.features.table import FEATURES
from monitor.ruleset.cases import LINE as _LINE
from monitor.ruleset.cases import LINES as _LINES
from monitor.ruleset.cases import RuleTest, build_case
from monitor.ruleset.compiler import compile_expression
from monitor.ruleset.durations import DurationError, parse_duration
from monitor.ruleset.exceptions import ExpressionError, RuleLoadError
from monitor.ruleset.lists import LIST_SUFFIX, NamedList, parse_list
from monitor.ruleset.rules import Rule, RulePack, RuleSpec

LISTS_DIR = "lists"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of every mapping and of each of its keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        mapping[_LINES] = {
            k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)
        }
        return mapping


def load_rules(directory: Path | str) -> RulePack:
    """Load every ``*.yaml`` rule file under ``directory`` (not ``playbooks.yaml``) and
    the named lists in ``directory/lists/*.txt``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RuleLoadError([f"{directory}: rule directory not found"])
    files = sorted(p for p in directory.glob("*.yaml") if p.name != "playbooks.yaml")
    problems: list[str] = []
    rules: list[Rule] = []
    digest = hashlib.sha256()
    lists = _load_lists(directory / LISTS_DIR, digest, problems)
    seen: dict[str, str] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
        for rule in _load_file(path, text, lists, problems):
            where = f"{path}:{rule.line}"
            if rule.id in seen:
                problems.append(
                    f"{where}: duplicate rule id '{rule.id}' (first at {seen[rule.id]})"
                )
                continue
            seen[rule.id] = where
            rules.append(rule)
    if problems:
        raise RuleLoadError(problems)
    return RulePack(
        rules=tuple(rules), version=digest.hexdigest()[:12], source=str(directory), lists=lists
    )


def _load_lists(directory: Path, digest: Any, problems: list[str]) -> dict[str, NamedList]:
    """The named lists (their content goes into the pack's version)."""
    if not directory.is_dir():
        return {}
    lists = {}
    for path in sorted(directory.glob(f"*{LIST_SUFFIX}")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}:1: list is not UTF-8 text ({exc.reason})")
            continue
        digest.update(f"{LISTS_DIR}/{path.name}".encode() + b"\0" + text.encode() + b"\0")
        lists[path.stem] = parse_list(path.stem, str(path), text)
    return lists


def _load_file(
    path: Path, text: str, lists: dict[str, NamedList], problems: list[str]
) -> list[Rule]:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problems.append(f"{path}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}")
        return []
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        problems.append(f"{path}:1: expected a mapping with a 'rules' list")
        return []
    rules = []
    for item in doc["rules"]:
        if not isinstance(item, dict):
            problems.append(f"{path}:{doc[_LINES].get('rules', 1)}: each rule must be a mapping")
            continue
        rule = _build(path, item, lists, problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _build(
    path: Path, item: dict[str, Any], lists: dict[str, NamedList], problems: list[str]
) -> Rule | None:
    line: int = item.pop(_LINE)
    lines: dict[str, int] = item.pop(_LINES)
    rule_id = item.get("id", "?")
    raw_tests = item.pop("tests", None)
    if "cooldown" in item:
        try:
            item["cooldown"] = parse_duration(item["cooldown"])
        except DurationError as exc:
            problems.append(
                f"{path}:{lines.get('cooldown', line)}: rule '{rule_id}': cooldown: {exc}"
            )
            return None
    try:
        spec = msgspec.convert(item, RuleSpec)
    except msgspec.ValidationError as exc:
        key = _key_of(str(exc))
        problems.append(f"{path}:{lines.get(key, line)}: rule '{rule_id}': {exc}")
        return None
    try:
        expr = compile_expression(spec.when, event_types=spec.applies_to, lists=lists)
    except ExpressionError as exc:
        at = _expression_line(path, lines["when"], exc)
        problems.append(f"{path}:{at}: rule '{spec.id}': when: {exc}")
        return None
    template_problem = _check_template(spec.reason, spec.applies_to)
    if template_problem:
        problems.append(f"{path}:{lines.get('reason', line)}: rule '{spec.id}': {template_problem}")
        return None
    tests = _build_tests(path, spec, raw_tests, lines.get("tests", line), line, problems)
    if tests is None:
        return None
    spec = msgspec.structs.replace(spec, tests=tests)
    return Rule(spec=spec, expr=expr, file=str(path), line=line)


def _build_tests(
    path: Path, spec: RuleSpec, raw: Any, tests_line: int, rule_line: int, problems: list[str]
) -> tuple[RuleTest, ...] | None:
    """A rule's test cases; a rule without cases that must fire *and* cases that must
    not is refused (a rule is not done without them)."""
    label = f"rule '{spec.id}'"
    if raw is None:
        problems.append(
            f"{path}:{rule_line}: {label} has no tests (add cases that must fire and "
            "cases that must not: see docs/rules.md)"
        )
        return None
    if not isinstance(raw, list):
        problems.append(f"{path}:{tests_line}: {label}: tests must be a list of cases")
        return None
    before = len(problems)
    cases: list[RuleTest] = []
    names: dict[str, int] = {}
    for item in raw:
        case = build_case(item, str(path), tests_line, problems, prefix=f"{label} ")
        if case is None:
            continue
        if case.name in names:
            problems.append(
                f"{path}:{case.line}: {label} test '{case.name}': duplicate test name "
                f"(first at line {names[case.name]})"
            )
            continue
        names[case.name] = case.line
        cases.append(case)
    if len(problems) > before:
        return None
    for expect, words in (("fire", "must fire"), ("no_fire", "must not fire")):
        if not any(c.expect == expect for c in cases):
            problems.append(f"{path}:{tests_line}: {label} has no tests that {words}")
    if len(problems) > before:
        return None
    return tuple(cases)


def _expression_line(path: Path, when_line: int, exc: ExpressionError) -> int:
    """The file line of an expression error. A block scalar (``when: >-`` or ``|``)
    starts on the next line, and folding joins its lines, so look for the offending
    token in the block's own lines."""
    source = path.read_text(encoding="utf-8").splitlines()
    first = source[when_line - 1].split("when:", 1)[-1].strip() if when_line <= len(source) else ""
    if not first.startswith((">", "|")):
        return when_line + exc.line_offset
    indent = None
    block: list[int] = []
    for number in range(when_line + 1, len(source) + 1):
        text = source[number - 1]
        if not text.strip():
            continue
        width = len(text) - len(text.lstrip())
        indent = width if indent is None else indent
        if width < indent:
            break
        block.append(number)
    if exc.token:
        for number in block:
            if exc.token in source[number - 1]:
                return number
    return block[exc.line_offset] if exc.line_offset < len(block) else when_line + 1


def _key_of(message: str) -> str:
    """``... - at `$.severity``` -> ``severity``; missing-field messages name the field."""
    if "`$." in message:
        return message.split("`$.", 1)[1].split("`", 1)[0].split("[", 1)[0]
    if "field `" in message:
        return message.split("field `", 1)[1].split("`", 1)[0]
    return ""


def _check_template(template: str | None, event_types: frozenset[str]) -> str | None:
    """Reason templates may only name features (no attribute or index access)."""
    if not template:
        return None
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return f"reason: {exc}"
    for name in fields:
        spec = FEATURES.get(name)
        if spec is None:
            return f"reason: '{{{name}}}' is not a feature name"
        if event_types - spec.event_types:
            return f"reason: '{{{name}}}' is not available for all of {sorted(event_types)}"
    sample = {name: _SAMPLES[FEATURES[name].type] for name in fields}
    try:
        template.format_map(sample)  # format specs must suit the feature's type
    except (ValueError, TypeError) as exc:
        return f"reason: {exc}"
    return None


_SAMPLES: dict[str, Any] = {"bool": True, "int": 1, "float": 1.5, "str": "x"}
