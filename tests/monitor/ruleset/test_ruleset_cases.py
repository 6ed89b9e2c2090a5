"""A rule's cooldown and its test cases as data: durations, offsets, defaults, places, and
every mistake reported as file:line at load (running the cases: tests/monitor/test_ruletests.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.events import Login, Payment, Security, Topup
from monitor.ruleset import RuleLoadError, load_rules
from monitor.ruleset.cases import BASE_TIME, PLACES
from monitor.ruleset.durations import DurationError, parse_duration, parse_offset

HEAD = """\
rules:
  - id: r
    applies_to: [login]
    when: failed_logins_10m >= 5
    severity: low
"""
FIRE = """\
      - name: fires
        expect: fire
        events: [{type: login, at: 0m, success: false, repeat: 5}]
"""
QUIET = """\
      - name: quiet
        expect: no_fire
        events: [{type: login, at: 0m}]
"""


def write(directory: Path, text: str, name: str = "a.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


def problems(directory: Path) -> list[str]:
    with pytest.raises(RuleLoadError) as info:
        load_rules(directory)
    return info.value.problems


def only_problem(directory: Path) -> str:
    found = problems(directory)
    assert len(found) == 1, found
    return found[0]


def pack_with(tmp_path: Path, *cases: str, extra: str = "") -> Path:
    return write(tmp_path, HEAD + extra + "    tests:\n" + "".join(cases))


def events_of(tmp_path: Path, *events: str):
    """The built events of one case made of ``events`` (flow mappings)."""
    body = "".join(f"          - {e}\n" for e in events)
    case = f"      - name: probe\n        expect: no_fire\n        events:\n{body}"
    pack_with(tmp_path, FIRE, case)
    (rule,) = load_rules(tmp_path).rules
    return rule.spec.tests[1].events


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("2h5m", 7500.0),
        ("1d12h", 129600.0),
        ("1.5h", 5400.0),
        ("90s", 90.0),
        (" 10m ", 600.0),
        ("0", 0.0),
        (0, 0.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["", "m", "30", "30 m", "30min", "-5m", "5m2h", "5m5m", "1w", True, None, [1], -3]
)
def test_bad_durations(value):
    with pytest.raises(DurationError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0m", 0.0), ("-3d", -259200.0), ("+40s", 40.0), ("2h5m", 7500.0), (0, 0.0), ("-0m", 0.0)],
)
def test_offsets(value, seconds):
    assert parse_offset(value) == seconds


@pytest.mark.parametrize("value", ["5", 5, "--5m", "+-5m", "3 days", "-", None, "yesterday"])
def test_bad_offsets(value):
    with pytest.raises(DurationError):
        parse_offset(value)


# --- cooldown -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800.0), ("1d", 86400.0), ("600", 600.0)])
def test_cooldown_is_parsed_to_seconds(tmp_path, text, seconds):
    pack_with(tmp_path, FIRE, QUIET, extra=f"    cooldown: {text}\n")
    assert load_rules(tmp_path).rules[0].spec.cooldown == seconds


def test_no_cooldown_is_zero(tmp_path):
    pack_with(tmp_path, FIRE, QUIET)
    assert load_rules(tmp_path).rules[0].spec.cooldown == 0.0


@pytest.mark.parametrize("text", ["30 minutes", "-5m", "soon", "-30", "[1]"])
def test_bad_cooldown_names_its_line(tmp_path, text):
    path = pack_with(tmp_path, FIRE, QUIET, extra=f"    cooldown: {text}\n")
    problem = only_problem(tmp_path)
    assert problem.startswith(f"{path}:{line_of(path, 'cooldown:')}: rule 'r': cooldown: ")


# --- every rule has tests of both kinds -------------------------------------------------------


def test_a_rule_without_tests_is_refused(tmp_path):
    path = write(tmp_path, HEAD)
    assert only_problem(tmp_path).startswith(
        f"{path}:{line_of(path, '- id: r')}: rule 'r' has no tests"
    )


def test_a_rule_without_a_case_that_must_fire_is_refused(tmp_path):
    path = pack_with(tmp_path, QUIET)
    assert only_problem(tmp_path) == (
        f"{path}:{line_of(path, 'tests:')}: rule 'r' has no tests that must fire"
    )


def test_a_rule_without_a_case_that_must_not_fire_is_refused(tmp_path):
    path = pack_with(tmp_path, FIRE)
    assert only_problem(tmp_path) == (
        f"{path}:{line_of(path, 'tests:')}: rule 'r' has no tests that must not fire"
    )


def test_tests_must_be_a_list(tmp_path):
    path = write(tmp_path, HEAD + "    tests: {name: x}\n")
    assert only_problem(tmp_path) == (
        f"{path}:{line_of(path, 'tests:')}: rule 'r': tests must be a list of cases"
    )


def test_duplicate_case_names_are_refused(tmp_path):
    path = pack_with(tmp_path, FIRE, QUIET, FIRE)
    problem = only_problem(tmp_path)
    first, second = [
        n for n, line in enumerate(path.read_text().splitlines(), 1) if "fires" in line
    ]
    assert problem == (
        f"{path}:{second}: rule 'r' test 'fires': duplicate test name (first at line {first})"
    )


def test_cases_are_kept_with_their_lines(tmp_path):
    path = pack_with(tmp_path, FIRE, QUIET)
    (rule,) = load_rules(tmp_path).rules
    fire, quiet = rule.spec.tests
    assert (fire.name, fire.expect, fire.line) == ("fires", "fire", line_of(path, "name: fires"))
    assert (quiet.name, quiet.expect, quiet.line) == ("quiet", "no_fire", line_of(path, "quiet"))
    assert len(fire.events) == 5


# --- building events --------------------------------------------------------------------------


def test_defaults_fill_in_every_event_type(tmp_path):
    login, payment, topup, security = events_of(
        tmp_path,
        "{type: login, at: -3d}",
        "{type: payment, at: -1h}",
        "{type: topup, at: -30m}",
        "{type: security, at: 0m, action: password_changed}",
    )
    assert isinstance(login, Login) and login.success and login.method == "password"
    assert (login.account_id, login.device_id, login.ip, login.channel) == (
        "acct-test",
        "dev-home",
        "10.0.0.1",
        "app",
    )
    assert login.geo is not None and login.geo.city == "Shanghai"
    assert isinstance(payment, Payment)
    assert (payment.amount, payment.currency, payment.kind, payment.payee_id, payment.status) == (
        50.0,
        "CNY",
        "purchase",
        "payee-1",
        "succeeded",
    )
    assert isinstance(topup, Topup) and (topup.amount, topup.source_id, topup.status) == (
        100.0,
        "card-1",
        "credited",
    )
    assert isinstance(security, Security) and security.success
    assert security.ts == BASE_TIME
    assert (BASE_TIME - login.ts).days == 3
    assert len({e.event_id for e in (login, payment, topup, security)}) == 4


def test_failures_get_a_typical_reason_unless_they_name_one(tmp_path):
    events = events_of(
        tmp_path,
        "{type: login, at: -3m, success: false}",
        "{type: payment, at: -2m, status: failed}",
        "{type: topup, at: -1m, status: failed}",
        "{type: payment, at: 0m, status: failed, failure_reason: network}",
    )
    assert [e.failure_reason for e in events] == [
        "bad_password",
        "insufficient_balance",
        "card_declined",
        "network",
    ]


def test_places_mappings_and_null(tmp_path):
    events = events_of(
        tmp_path,
        "{type: login, at: -3m, geo: lagos}",
        "{type: login, at: -2m, geo: {lat: 35.69, lon: 51.39, country: IR, city: Tehran}}",
        "{type: login, at: -1m, geo: null, ip: null, device_id: null}",
        "{type: login, at: 0m, geo: new_york}",
    )
    assert events[0].geo.country == "NG" and events[0].geo.lat == PLACES["lagos"]["lat"]
    assert events[1].geo.city == "Tehran"
    assert (events[2].geo, events[2].ip, events[2].device_id) == (None, None, None)
    assert events[3].geo.city == "New York"


def test_repeat_every_and_the_index(tmp_path):
    events = events_of(
        tmp_path,
        '{type: payment, at: -10m, repeat: 3, every: 2m, payee_id: "shop-{i}", amount: 2}',
        '{type: login, at: 0m, account_id: "victim-{i}", ip: "203.0.113.{i}"}',
    )
    assert [e.payee_id for e in events[:3]] == ["shop-0", "shop-1", "shop-2"]
    assert [(BASE_TIME - e.ts).total_seconds() for e in events[:3]] == [600.0, 480.0, 360.0]
    assert (events[3].account_id, events[3].ip) == ("victim-0", "203.0.113.0")


def test_repeat_defaults_to_one_minute_apart(tmp_path):
    events = events_of(tmp_path, "{type: login, at: -2m, repeat: 3}")
    assert [e.ts.minute for e in events] == [58, 59, 0]


# --- mistakes in cases: file:line ----------------------------------------------------------------


def case_problem(tmp_path: Path, event: str, extra_case_keys: str = "") -> tuple[Path, str]:
    case = (
        f"      - name: probe\n        expect: no_fire\n{extra_case_keys}"
        f"        events:\n          - {{type: login, at: -1m}}\n          - {event}\n"
    )
    path = pack_with(tmp_path, FIRE, case)
    return path, only_problem(tmp_path)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("{type: login, at: 0m, sucess: false}",
         "login event: unknown field 'sucess' (did you mean 'success'?)"),
        ("{type: payment, at: 0m, success: false}", "payment event: unknown field 'success'"),
        ("{type: login, at: 0m, geo: lagoss}",
         "unknown place 'lagoss' (places: beijing, lagos, london, new_york, shanghai, "),
        ("{type: login, at: yesterday}", "at: 'yesterday' is not an offset"),
        ("{type: login, at: 5}", "at: 5 is not an offset"),
        ("{type: login}", "login event: needs 'at'"),
        ("{type: logon, at: 0m}",
         "event type must be one of login, payment, topup, security, not 'logon'"),
        ("{type: payment, at: 0m, amount: -5}", "payment event: Expected `float` > 0"),
        ("{type: login, at: 0m, method: pigeon}", "login event: Invalid enum value 'pigeon'"),
        ("{type: security, at: 0m}", "security event: Object missing required field `action`"),
        ("{type: login, at: 0m, geo: {lat: 95, lon: 0, country: XX}}",
         "login event: Expected `float` <= 90"),
        ("{type: login, at: 0m, ts: '2026-01-01T00:00:00Z'}", "'ts' is set by the runner"),
        ("{type: login, at: 0m, repeat: 0}", "repeat must be a whole number from 1 to 1000"),
        ("{type: login, at: 0m, every: 1m}", "'every' only goes with 'repeat'"),
        ("{type: login, at: 0m, repeat: 2, every: soon}", "every: 'soon' is not a duration"),
        ("{type: login, at: -5m}",
         "events must be in time order ('-5m' comes before the previous event's '-1m')"),
        ("just a string", "event 2 must be a mapping"),
    ],
)  # fmt: skip
def test_a_bad_event_is_a_load_error_at_its_line(tmp_path, event, message):
    path, problem = case_problem(tmp_path, event)
    lines = path.read_text().splitlines()
    if event == "just a string":  # a non-mapping event has no line of its own: its list's
        where = max(n for n, line in enumerate(lines, 1) if "events:" in line)
    else:
        where = line_of(path, event)
    head = f"{path}:{where}: rule 'r' test 'probe': "
    assert problem.startswith(head), (problem, head)
    assert message in problem, problem


def test_the_offending_key_of_a_multi_line_event_is_pointed_at(tmp_path):
    case = """\
      - name: probe
        expect: no_fire
        events:
          - type: payment
            at: 0m
            kind: transfer
            amount: -5
"""
    path = pack_with(tmp_path, FIRE, case)
    assert only_problem(tmp_path).startswith(f"{path}:{line_of(path, 'amount: -5')}: ")


@pytest.mark.parametrize(
    ("case", "marker", "message"),
    [
        ("      - name: probe\n        expect: maybe\n        events: [{type: login, at: 0m}]\n",
         "expect: maybe", "expect must be fire or no_fire, not 'maybe'"),
        ("      - name: probe\n        expect: fire\n        events: []\n",
         "events: []", "needs 'events'"),
        ("      - name: probe\n        expect: fire\n        event: [{type: login, at: 0m}]\n",
         "event:", "unknown field 'event'"),
        ("      - expect: fire\n        events: [{type: login, at: 0m}]\n",
         "expect: fire\n", "test: needs a 'name'"),
        ("      - just a string\n", "tests:", "each test must be a mapping"),
    ],
)  # fmt: skip
def test_a_bad_case_is_a_load_error_at_its_line(tmp_path, case, marker, message):
    path = pack_with(tmp_path, QUIET, case)
    found = problems(tmp_path)
    assert any(message in p for p in found), found
    problem = next(p for p in found if message in p)
    marker_line = line_of(path, marker.strip().split("\n")[0])
    assert problem.startswith(f"{path}:{marker_line}: rule 'r' "), (problem, marker_line)


def test_check_reports_case_problems_of_every_rule(tmp_path):
    write(
        tmp_path,
        HEAD
        + "    tests:\n"
        + FIRE
        + QUIET.replace("at: 0m", "at: 0m, geo: mars")
        + HEAD.replace("rules:\n", "").replace("id: r", "id: s")
        + "    tests:\n"
        + FIRE.replace("at: 0m", "at: now"),
    )
    found = problems(tmp_path)
    assert len(found) == 2
    assert "rule 'r' test 'quiet': unknown place 'mars'" in found[0]
    assert "rule 's' test 'fires': at: 'now' is not an offset" in found[1]
