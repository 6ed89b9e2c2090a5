"""Every rule's own test cases, run through the real pipeline: the shipped pack's cases
(one pytest test per case, so a failure names it), and the runner itself on small packs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ruleset import RuleLoadError, RulePack, load_rules
from monitor.ruletests import CaseResult, load_and_test, run_case, run_rule_tests

SHIPPED = Path(__file__).parents[2] / "rules"


def _shipped_cases() -> list[object]:
    try:
        pack = load_rules(SHIPPED)
    except RuleLoadError as exc:  # reported by the test below, not as a collection error
        return [pytest.param(None, None, exc.problems, id="load-error")]
    return [
        pytest.param(rule, case, None, id=f"{rule.id}/{case.name}")
        for rule in pack.rules
        for case in rule.spec.tests
    ]


@pytest.mark.parametrize(("rule", "case", "load_problems"), _shipped_cases())
def test_shipped_rule_case(rule, case, load_problems):
    assert load_problems is None, "\n".join(load_problems)
    result = run_case(rule, case)
    assert result.passed, result.describe()


def test_every_shipped_rule_has_cases_of_both_kinds():
    pack = load_rules(SHIPPED)
    for rule in pack.rules:
        kinds = {case.expect for case in rule.spec.tests}
        assert kinds == {"fire", "no_fire"}, rule.id


def test_the_issue_patterns_are_all_in_the_shipped_pack():
    ids = {r.id for r in load_rules(SHIPPED).rules}
    assert {
        "brute_force",
        "credential_stuffing_source",
        "impossible_travel",
        "new_device_large_transfer",
        "security_change_then_transfer",
        "password_reset_burst",
        "card_testing",
        "topup_then_withdrawal",
        "support_outreach_failed_topups",
        "support_outreach_failed_payments",
        "blocked_ip_login",
        "high_risk_country_new_device",
    } <= ids


def test_support_outreach_rules_never_restrict():
    from monitor.decision import RESTRICTING_ACTIONS

    for rule in load_rules(SHIPPED).rules:
        if rule.id.startswith("support_outreach_"):
            assert rule.spec.severity == "low"
            assert not set(rule.spec.actions) & RESTRICTING_ACTIONS
            assert rule.spec.cooldown == 86400.0


def test_load_and_test_accepts_the_shipped_pack():
    pack = load_and_test(SHIPPED)
    assert pack.version == load_rules(SHIPPED).version


# --- the runner on small packs ---------------------------------------------------------------


def write(directory: Path, text: str, name: str = "a.yaml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


BRUTE = """\
rules:
  - id: brute
    applies_to: [login]
    when: failed_logins_10m >= {n}
    severity: medium
    reason: "{{failed_logins_10m}} failures"
    mode: {mode}
    tests:
      - name: five failures
        expect: fire
        events:
          - {{type: login, at: -4m, success: false, repeat: 5}}
      - name: four failures
        expect: no_fire
        events:
          - {{type: login, at: -3m, success: false, repeat: 4}}
"""


def results_of(directory: Path) -> dict[str, CaseResult]:
    return {r.case: r for r in run_rule_tests(load_rules(directory))}


def test_passing_cases_say_what_the_rule_read(tmp_path):
    path = write(tmp_path, BRUTE.format(n=5, mode="active"))
    fire, quiet = results_of(tmp_path).values()
    assert fire.passed and fire.got == "fire" and fire.reason == "5 failures"
    assert fire.values == {"failed_logins_10m": 5}
    assert fire.where == f"{path}:{line_of(path, 'five failures')}"
    assert quiet.passed and quiet.got == "no_fire" and quiet.values == {"failed_logins_10m": 4}


def test_a_case_that_should_fire_and_does_not_fails_with_file_line_and_values(tmp_path):
    path = write(tmp_path, BRUTE.format(n=6, mode="active"))
    fire = results_of(tmp_path)["five failures"]
    assert not fire.passed and (fire.expected, fire.got) == ("fire", "no_fire")
    assert fire.describe() == (
        f"{path}:{line_of(path, 'five failures')}: rule 'brute' test 'five failures': "
        "expected fire, did not fire (failed_logins_10m=5)"
    )


def test_a_case_that_should_not_fire_and_does_fails_with_the_reason(tmp_path):
    path = write(tmp_path, BRUTE.format(n=4, mode="active"))
    quiet = results_of(tmp_path)["four failures"]
    assert not quiet.passed and quiet.got == "fire"
    assert quiet.describe() == (
        f"{path}:{line_of(path, 'four failures')}: rule 'brute' test 'four failures': "
        "expected no fire, fired: 4 failures (failed_logins_10m=4)"
    )


@pytest.mark.parametrize("mode", ["shadow", "disabled"])
def test_shadow_and_disabled_rules_are_tested_as_if_active(tmp_path, mode):
    write(tmp_path, BRUTE.format(n=5, mode=mode))
    assert all(r.passed for r in results_of(tmp_path).values())
    write(tmp_path, BRUTE.format(n=6, mode=mode))  # and a broken one fails
    assert not results_of(tmp_path)["five failures"].passed


def test_each_case_starts_from_a_fresh_pipeline(tmp_path):
    text = BRUTE.format(n=5, mode="active").replace(
        "          - {type: login, at: -3m, success: false, repeat: 4}",
        "          - {type: login, at: -3m, success: false, repeat: 4}\n"
        "      - name: four more, later\n"
        "        expect: no_fire\n"
        "        events:\n"
        "          - {type: login, at: -3m, success: false, repeat: 4}",
    )
    write(tmp_path, text)
    assert all(r.passed for r in results_of(tmp_path).values())  # 4 + 4 never add up


def test_cooldown_applies_inside_a_case_and_the_failure_says_so(tmp_path):
    text = (
        BRUTE.format(n=5, mode="active")
        .replace("    mode: active\n", "    mode: active\n    cooldown: 1h\n")
        .replace("repeat: 5}", "repeat: 6}")
    )
    write(tmp_path, text)
    fire = results_of(tmp_path)["five failures"]  # fired at the 5th: quiet at the 6th
    assert not fire.passed
    assert (
        fire.note
        == "the condition held but the rule was not raised (cooldown 3600 s: it fired at event 5)"
    )
    assert fire.describe().endswith(f"(failed_logins_10m=6); {fire.note}")


def test_a_crash_inside_a_case_is_that_case_failing(tmp_path, monkeypatch):
    import monitor.ruletests as ruletests

    def boom(self, event):
        raise RuntimeError("pipeline broke")

    write(tmp_path, BRUTE.format(n=5, mode="active"))
    monkeypatch.setattr(ruletests.PartitionPipeline, "process", boom)
    results = results_of(tmp_path)
    assert all(r.got == "error" and not r.passed for r in results.values())
    assert "RuntimeError: pipeline broke" in results["five failures"].describe()


def test_cross_account_cases_and_partition_features(tmp_path):
    write(
        tmp_path,
        """\
        rules:
          - id: stuffing
            applies_to: [login]
            when: not success and ip_failed_accounts_10m >= 3
            severity: medium
            tests:
              - name: third account
                expect: fire
                events:
                  - {type: login, at: -2m, success: false, ip: 203.0.113.5,
                     account_id: "v-{i}", repeat: 2}
                  - {type: login, at: 0m, success: false, ip: 203.0.113.5}
              - name: one account thrice
                expect: no_fire
                events:
                  - {type: login, at: -2m, success: false, ip: 203.0.113.5, repeat: 3}
        """,
    )
    results = results_of(tmp_path)
    assert all(r.passed for r in results.values()), [r.describe() for r in results.values()]
    assert results["third account"].values == {"success": False, "ip_failed_accounts_10m": 3}


def test_ip_lists_through_the_pipeline_v4_and_v6(tmp_path):
    write(tmp_path, "# feed\n192.0.2.0/24\n\n2001:db8::/32  # docs\n", "lists/blocked.txt")
    write(
        tmp_path,
        """\
        rules:
          - id: blocked
            applies_to: [login]
            when: ip_in(ip, 'blocked')
            severity: high
            tests:
              - {name: v4, expect: fire, events: [{type: login, at: 0m, ip: 192.0.2.200}]}
              - {name: v6, expect: fire, events: [{type: login, at: 0m, ip: "2001:db8::5"}]}
              - {name: other v4, expect: no_fire, events: [{type: login, at: 0m, ip: 192.0.3.1}]}
              - {name: v6 other, expect: no_fire, events: [{type: login, at: 0m, ip: "2001:db9::"}]}
              - {name: no ip, expect: no_fire, events: [{type: login, at: 0m, ip: null}]}
        """,
    )
    results = results_of(tmp_path)
    assert all(r.passed for r in results.values()), [r.describe() for r in results.values()]


# --- load_and_test: what hot reload calls -----------------------------------------------------


def test_load_and_test_refuses_a_pack_whose_tests_fail(tmp_path):
    path = write(tmp_path, BRUTE.format(n=6, mode="active"))
    with pytest.raises(RuleLoadError) as info:
        load_and_test(tmp_path)
    assert info.value.problems == [
        f"{path}:{line_of(path, 'five failures')}: rule 'brute' test 'five failures': "
        "expected fire, did not fire (failed_logins_10m=5)"
    ]


def test_load_and_test_refuses_a_bad_case_with_file_and_line(tmp_path):
    path = write(tmp_path, BRUTE.format(n=5, mode="active").replace("repeat: 4}", "geo: mars}"))
    with pytest.raises(RuleLoadError) as info:
        load_and_test(tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:{line_of(path, 'geo: mars')}: rule 'brute' test ")
    assert "unknown place 'mars'" in problem


def test_load_and_test_returns_the_pack_when_every_case_passes(tmp_path):
    write(tmp_path, BRUTE.format(n=5, mode="active"))
    pack = load_and_test(tmp_path)
    assert isinstance(pack, RulePack) and [r.id for r in pack.rules] == ["brute"]


# --- vigil rules test ---------------------------------------------------------------------------


def test_cli_rules_test_on_the_shipped_pack(capsys):
    assert main(["rules", "test", str(SHIPPED)]) == 0
    out = capsys.readouterr().out.splitlines()
    pack = load_rules(SHIPPED)
    n = sum(len(r.spec.tests) for r in pack.rules)
    assert out[-1].startswith(f"{len(pack.rules)} rules, {n} cases: {n} passed, 0 failed")
    assert sum(line.startswith("  PASS") for line in out) == n
    assert any(line.startswith("brute_force  ") and "default.yaml:" in line for line in out)


def test_cli_rules_test_fails_and_names_the_case(tmp_path, capsys):
    path = write(tmp_path, BRUTE.format(n=6, mode="active"))
    assert main(["rules", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    where = f"{path}:{line_of(path, 'five failures')}"
    assert f"  FAIL  fires  five failures  ({where})" in out
    assert "expected fire, did not fire (failed_logins_10m=5)" in out
    assert "  PASS  quiet  four failures" in out
    assert "1 rules, 2 cases: 1 passed, 1 failed in 1 rules" in out


def test_cli_rules_test_quiet_shows_failures_only(tmp_path, capsys):
    write(tmp_path, BRUTE.format(n=6, mode="active"))
    assert main(["rules", "test", "-q", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "PASS" not in out
    assert main(["rules", "test", "-q", str(SHIPPED)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1  # the summary


def test_cli_rules_test_reports_load_errors_with_file_and_line(tmp_path, capsys):
    path = write(tmp_path, BRUTE.format(n="failed_login_1h", mode="active"))
    assert main(["rules", "test", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{path}:{line_of(path, 'when:')}: rule 'brute': when: unknown name 'failed_login_1h' "
        "(did you mean 'failed_logins_1h'?)"
    ]
