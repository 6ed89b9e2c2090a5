"""Loading a rule pack: every problem is ``file:line: message`` and a bad pack is refused whole."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ruleset import RuleLoadError, RulePack, load_rules

SHIPPED = Path(__file__).parents[3] / "rules"

# every rule needs cases that must fire and cases that must not (login rules share these)
TESTS = """\
    tests:
      - name: five failures
        expect: fire
        events: [{type: login, at: 0m, success: false, repeat: 5}]
      - name: one failure
        expect: no_fire
        events: [{type: login, at: 0m, success: false}]
"""

GOOD = (
    """\
rules:
  - id: brute_force
    description: many failed logins
    applies_to: [login]
    when: failed_logins_10m >= 5
    severity: medium
    score: 0.6
    reason: "{failed_logins_10m} failed logins in 10 min"
"""
    + TESTS
)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, marker: str) -> int:
    """1-based line of the first line of ``path`` containing ``marker``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def problems(directory: Path) -> list[str]:
    with pytest.raises(RuleLoadError) as info:
        load_rules(directory)
    assert str(info.value) == "; ".join(info.value.problems)
    return info.value.problems


def only_problem(directory: Path) -> str:
    found = problems(directory)
    assert len(found) == 1, found
    return found[0]


# --- the shipped pack -------------------------------------------------------------------


def test_shipped_pack_loads_with_unique_ids():
    pack = load_rules(SHIPPED)
    ids = [r.id for r in pack.rules]
    assert len(ids) == len(set(ids))
    assert {
        "brute_force",
        "impossible_travel",
        "security_change_then_transfer",
        "card_testing",
        "topup_then_withdrawal",
    } <= set(ids)
    assert all(r.file.endswith(".yaml") and r.line >= 1 for r in pack.rules)
    assert all(r.spec.reason for r in pack.rules), "every shipped rule explains itself"


def test_rules_point_at_the_line_where_they_start(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD)
    (rule,) = load_rules(tmp_path).rules
    assert (rule.file, rule.line) == (str(path), line_of(path, "- id: brute_force"))


def test_playbooks_file_and_other_extensions_are_not_rules(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "playbooks.yaml", "playbooks: {require_step_up: [x]}\n")
    write(tmp_path, "notes.yml", "not: [rules\n")
    write(tmp_path, "README.md", "# rules\n")
    assert [r.id for r in load_rules(tmp_path).rules] == ["brute_force"]


def test_empty_file_contributes_no_rules(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "# nothing yet\n")
    assert len(load_rules(tmp_path).rules) == 1


def test_loaded_rule_evaluates_and_explains(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    pack = load_rules(tmp_path)
    (hit,) = pack.evaluate({"type": "login", "failed_logins_10m": 5})
    assert hit.rule.id == "brute_force"
    assert hit.reason.text == "5 failed logins in 10 min"
    assert hit.reason.values == {"failed_logins_10m": 5}
    assert hit.reason.code == "rule:brute_force"
    assert pack.evaluate({"type": "login", "failed_logins_10m": 4}) == []


def test_disabled_rules_are_not_evaluated_and_shadow_rules_are(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        GOOD
        + """\
  - id: switched_off
    applies_to: [login]
    when: failed_logins_10m >= 5
    severity: low
    mode: disabled
"""
        + TESTS
        + """\
  - id: watch
    applies_to: [login]
    when: failed_logins_10m >= 5
    severity: low
    mode: shadow
"""
        + TESTS,
    )
    hits = load_rules(tmp_path).evaluate({"type": "login", "failed_logins_10m": 9})
    assert [h.rule.id for h in hits] == ["brute_force", "watch"]


# --- every problem names file:line --------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        rules:
          - id: a
            applies_to: [login]
            when: success
           severity: high
        """,
    )
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, '   severity: high')}: invalid YAML:")


def test_unknown_key_in_a_rule_names_its_line(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("    score: 0.6\n", "    scroe: 0.6\n"))
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, 'scroe')}: rule 'brute_force': ")
    assert "unknown field `scroe`" in problem


def test_bad_severity_names_its_line(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("severity: medium", "severity: severe"))
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, 'severity: severe')}: rule 'brute_force':")
    assert "'severe'" in problem


def test_bad_event_type_names_its_line(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("applies_to: [login]", "applies_to: [logon]"))
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, 'applies_to')}: rule 'brute_force':")


def test_missing_when_names_the_rule(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("    when: failed_logins_10m >= 5\n", ""))
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, '- id: brute_force')}: rule 'brute_force':")
    assert "missing required field `when`" in problem


def test_bad_when_on_one_line_names_its_line(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("failed_logins_10m >=", "failed_login_10m >="))
    problem = only_problem(tmp_path)
    assert problem == (
        f"{path}:{line_of(path, 'when:')}: rule 'brute_force': when: "
        "unknown name 'failed_login_10m' (did you mean 'failed_logins_10m'?)"
    )


FOLDED = """\
rules:
  - id: drain
    applies_to: [payment]
    when: >-
      kind in ['transfer', 'withdrawal']
      and minutes_since_topup <= 15
      and ammount >= 0.8 * last_topup_amount
    severity: high
"""


def test_bad_when_in_a_folded_block_is_reported_with_file_and_rule(tmp_path):
    path = write(tmp_path, "a.yaml", FOLDED)
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:")
    assert problem.endswith("rule 'drain': when: unknown name 'ammount' (did you mean 'amount'?)")
    line = int(problem.split(":")[1])
    assert line_of(path, "when: >-") <= line <= line_of(path, "ammount")


def test_bad_when_in_a_folded_block_points_at_the_offending_line(tmp_path):
    path = write(tmp_path, "a.yaml", FOLDED)
    assert only_problem(tmp_path).startswith(f"{path}:{line_of(path, 'ammount')}: ")


def test_bad_when_in_a_literal_block_points_at_the_offending_line(tmp_path):
    path = write(
        tmp_path,
        "a.yaml",
        """\
        rules:
          - id: drain
            applies_to: [payment]
            when: |
              (ammount > 5
               and kind == 'transfer')
            severity: high
        """,
    )
    assert only_problem(tmp_path).startswith(f"{path}:{line_of(path, 'ammount')}: ")


@pytest.mark.parametrize("score", ["1.5", "-0.1"])
def test_score_out_of_range_is_refused(tmp_path, score):
    path = write(tmp_path, "a.yaml", GOOD.replace("score: 0.6", f"score: {score}"))
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:")
    assert "rule 'brute_force': Expected `float`" in problem
    assert "at `$.score`" in problem


def test_score_out_of_range_points_at_the_score_line(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("score: 0.6", "score: 1.5"))
    assert only_problem(tmp_path).startswith(f"{path}:{line_of(path, 'score: 1.5')}: ")


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("{failed_logins} failures", "reason: '{failed_logins}' is not a feature name"),
        ("{amount.__class__}", "reason: '{amount.__class__}' is not a feature name"),
        ("{failed_logins_10m[0]}", "is not a feature name"),
        ("{} failures", "reason: '{}' is not a feature name"),
        ("{amount} from the login", "reason: '{amount}' is not available for all of ['login']"),
        ("unbalanced {failed_logins_10m", "reason: "),
    ],
)
def test_bad_reason_template_names_the_reason_line(tmp_path, reason, message):
    text = GOOD.replace('"{failed_logins_10m} failed logins in 10 min"', repr(reason))
    path = write(tmp_path, "a.yaml", text)
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, 'reason:')}: rule 'brute_force': ")
    assert message in problem


def test_reason_format_spec_that_cannot_apply_is_refused(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        """\
        rules:
          - id: fmt
            applies_to: [payment]
            when: amount > 5
            severity: low
            reason: "{kind:.2f}"
        """,
    )
    only_problem(tmp_path)


def test_duplicate_ids_across_files_name_both_places(tmp_path):
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", "# second pack\n" + GOOD)
    problem = only_problem(tmp_path)
    where_first = f"{first}:{line_of(first, '- id: brute_force')}"
    where_second = f"{second}:{line_of(second, '- id: brute_force')}"
    assert problem == (f"{where_second}: duplicate rule id 'brute_force' (first at {where_first})")


def test_one_bad_file_refuses_the_whole_pack_and_all_problems_are_listed(tmp_path):
    write(tmp_path, "a_good.yaml", GOOD)
    bad1 = write(tmp_path, "b_bad.yaml", GOOD.replace("brute_force", "b1").replace(">=", "=>"))
    bad2 = write(
        tmp_path,
        "c_bad.yaml",
        GOOD.replace("brute_force", "c1").replace("severity: medium", "severity: loud")
        + "  - id: c2\n    applies_to: [login]\n    when: amount > 1\n    severity: low\n",
    )
    found = problems(tmp_path)
    assert [p.split(":")[0] for p in found] == [str(bad1), str(bad2), str(bad2)]
    assert "rule 'b1': when: syntax error" in found[0]
    assert "rule 'c1'" in found[1]
    assert "rule 'c2': when: 'amount' is not available for login events" in found[2]


def test_file_without_a_rules_list_is_refused(tmp_path):
    path = write(tmp_path, "a.yaml", "- id: x\n  when: success\n")
    assert only_problem(tmp_path) == f"{path}:1: expected a mapping with a 'rules' list"


def test_rule_that_is_not_a_mapping_is_refused(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD + "  - just a string\n")
    problem = only_problem(tmp_path)
    # the line is that of the rules list (not of the bad item): good enough to find it
    assert problem.startswith(f"{path}:")
    assert problem.endswith(": each rule must be a mapping")


def test_missing_directory_is_a_load_error(tmp_path):
    with pytest.raises(RuleLoadError):
        load_rules(tmp_path / "does-not-exist")


# --- version -------------------------------------------------------------------------


def test_version_is_stable_and_changes_with_any_file(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD)
    v1 = load_rules(tmp_path).version
    assert len(v1) == 12 and int(v1, 16) >= 0
    assert load_rules(tmp_path).version == v1
    path.write_text(GOOD.replace("score: 0.6", "score: 0.61"))
    v2 = load_rules(tmp_path).version
    assert v2 != v1
    path.write_text(GOOD)
    assert load_rules(tmp_path).version == v1
    write(tmp_path, "b.yaml", "# a comment is a change too\n")
    assert load_rules(tmp_path).version not in (v1, v2)


def test_version_depends_on_content_not_on_location(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    write(tmp_path / "x", "a.yaml", GOOD)
    write(tmp_path / "y", "a.yaml", GOOD)
    a, b = load_rules(tmp_path / "x"), load_rules(tmp_path / "y")
    assert isinstance(a, RulePack)
    assert a.version == b.version
    assert a.source != b.source


# --- the CLI --------------------------------------------------------------------------


def test_cli_rules_check_accepts_the_shipped_pack(capsys):
    assert main(["rules", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr()
    n = len(load_rules(SHIPPED).rules)
    assert f"{n} rules OK in {SHIPPED}" in out.out
    assert out.err == ""


def test_cli_rules_check_rejects_a_bad_pack_with_file_and_line(tmp_path, capsys):
    path = write(tmp_path, "a.yaml", GOOD.replace("severity: medium", "severity: severe"))
    assert main(["rules", "check", str(tmp_path)]) == 1
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}:{line_of(path, 'severity: severe')}: ")
    assert "OK" not in out.out
