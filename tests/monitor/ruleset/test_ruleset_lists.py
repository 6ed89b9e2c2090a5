"""Named lists: list files, ``in_list`` / ``ip_in`` resolved at compile time, errors as
file:line, and the pack version."""

from __future__ import annotations

import ipaddress
import pickle
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ruleset import ExpressionError, RuleLoadError, compile_expression, load_rules
from monitor.ruleset.lists import compile_ranges, ip_in, load_lists, parse_list

RANGES = ["192.0.2.0/24", "198.51.100.0/24", "10.8.0.0/13", "2001:db8::/32", "2a00:1450::/29"]


# every rule needs cases of both kinds (they are built at load, run by monitor/ruletests.py)
TESTS = """\
    tests:
      - {name: fires, expect: fire, events: [{type: login, at: 0m, success: false, repeat: 5}]}
      - {name: quiet, expect: no_fire, events: [{type: login, at: 0m}]}
"""


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rule(rule_id: str, when: str, applies_to: str = "login") -> str:
    return (
        f"rules:\n  - id: {rule_id}\n    applies_to: [{applies_to}]\n"
        f'    when: "{when}"\n    severity: low\n' + TESTS
    )


# --- list files ---------------------------------------------------------------------------


def test_comments_blank_lines_and_spaces_are_skipped():
    named = parse_list(
        "countries",
        "c.txt",
        "# a header\n\nKP   # North Korea\n  IR\n#MM\n\n  # indented comment\nSY#x\n",
    )
    assert named.entries == ("KP", "IR", "SY")
    assert named.lines == (3, 4, 8)
    assert named.strings == frozenset({"KP", "IR", "SY"})


def test_lists_are_the_txt_files_of_the_lists_directory(tmp_path):
    write(tmp_path / "a.txt", "x\n")
    write(tmp_path / "b.txt", "# empty\n")
    write(tmp_path / "notes.md", "not a list\n")
    lists = load_lists(tmp_path)
    assert sorted(lists) == ["a", "b"]
    assert lists["b"].entries == ()
    assert load_lists(tmp_path / "missing") == {}


def test_shipped_lists_load_and_the_ip_list_compiles():
    pack = load_rules(Path(__file__).parents[3] / "rules")
    assert {"high_risk_countries", "blocked_ip_ranges", "trusted_payees"} <= set(pack.lists)
    pack.lists["blocked_ip_ranges"].ip_ranges()  # every entry is a network
    assert all(len(c) == 2 and c.isupper() for c in pack.lists["high_risk_countries"].entries)


# --- ip_in ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "inside"),
    [
        ("192.0.2.1", True),
        ("192.0.2.255", True),
        ("192.0.3.1", False),
        ("198.51.100.200", True),
        ("10.8.0.1", True),
        ("10.15.255.255", True),  # 10.8.0.0/13 ends at 10.15.255.255
        ("10.16.0.0", False),
        ("10.7.255.255", False),
        ("2001:db8::1", True),
        ("2001:DB8:ffff::1", True),
        ("2001:0db8::1", True),
        ("2001:db9::1", False),
        ("2a00:1450:4001::1", True),
        ("2a00:1458::1", False),  # 2a00:1450::/29 ends at 2a00:1457:ffff:...
        ("::ffff:192.0.2.7", True),  # IPv4-mapped
        ("::1", False),
        ("", False),
        ("CN", False),
        ("192.0.2", False),
        ("192.0.2.1.5", False),
        ("2001:db8::zz", False),
        ("not an ip", False),
    ],
)
def test_ip_in_v4_and_v6(ip, inside):
    ranges = compile_ranges(RANGES)
    assert ip_in(ip, ranges) is inside
    assert ip_in(ip, RANGES) is inside  # a literal list works the same, uncompiled


def test_wide_networks_keep_the_fast_path_correct():
    ranges = compile_ranges(["0.0.0.0/4", "::/8", "20.8.8.8"])  # a single address is a /32
    assert ranges[1] is None  # no first-hextet fast path for a network shorter than /16
    assert ip_in("15.1.2.3", ranges) and not ip_in("16.1.2.3", ranges)
    assert ip_in("00ff::1", ranges) and not ip_in("100::1", ranges)
    assert ip_in("20.8.8.8", ranges) and not ip_in("20.8.8.9", ranges)


addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["192.0.2.9", "10.9.1.1", "2001:db8:1::5", "2a00:1451::1"]),
)


@settings(max_examples=400, deadline=None)
@given(addresses)
def test_ip_in_agrees_with_the_ipaddress_module(ip):
    nets = [ipaddress.ip_network(n) for n in RANGES]
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    expected = any(addr.version == n.version and addr in n for n in nets)
    assert ip_in(ip, compile_ranges(RANGES)) is expected


def test_compiled_ranges_are_plain_constants():
    ranges = compile_ranges(RANGES)
    assert type(ranges) is tuple and type(ranges[0]) is frozenset
    assert pickle.loads(pickle.dumps(ranges)) == ranges


# --- in rules -----------------------------------------------------------------------------


def lists(**files: str):
    return {name: parse_list(name, f"{name}.txt", text) for name, text in files.items()}


def test_named_lists_resolve_to_constants_at_compile_time():
    named = lists(risky="KP\nIR\n", blocked="192.0.2.0/24\n")
    expr = compile_expression(
        "in_list(country, 'risky') or ip_in(ip, 'blocked')", {"login"}, lists=named
    )
    assert expr.code.co_names == ("in_list", "country", "ip_in", "ip")  # no list name lookup
    assert [n.name for n in expr.lists] == ["risky", "blocked"]
    assert expr.evaluate({"country": "IR", "ip": "10.0.0.1"})
    assert expr.evaluate({"country": "CN", "ip": "192.0.2.4"})
    assert not expr.evaluate({"country": "CN", "ip": "10.0.0.1"})


def test_a_compiled_expression_with_lists_pickles():
    named = lists(risky="KP\n", blocked="192.0.2.0/24\n")
    expr = compile_expression(
        "in_list(country, 'risky') and ip_in(ip, 'blocked')", {"login"}, lists=named
    )
    again = pickle.loads(pickle.dumps(expr))
    assert again.evaluate({"country": "KP", "ip": "192.0.2.4"})
    assert not again.evaluate({"country": "KP", "ip": "192.0.3.4"})


def test_literal_lists_still_work():
    expr = compile_expression("in_list(country, ['NG', 'GH'])", {"login"})
    assert expr.evaluate({"country": "NG"}) and not expr.evaluate({"country": "CN"})
    expr = compile_expression("ip_in(ip, ['192.0.2.0/24', '2001:db8::/32'])", {"login"})
    assert expr.evaluate({"ip": "2001:db8::7"}) and not expr.evaluate({"ip": "10.0.0.1"})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("in_list(country, 'riksy')", "unknown list 'riksy' (lists: blocked, risky)"),
        ("ip_in(ip, 'nope')", "unknown list 'nope' (lists: blocked, risky)"),
        ("in_list(country, risky)", "'risky' is a list: pass its name as a string"),
        ("in_list(failed_logins_10m, 'risky')", "named lists hold text, argument 1 is int"),
        ("ip_in(ip, ['192.0.2.0/24', 'CN'])", "ip_in: 'CN' is not an IP network"),
        ("ip_in(ip, ['10.0.0.1/8'])", "has host bits set"),
        ("ip_in(ip, country)", "ip_in needs a list name such as 'blocked_ip_ranges'"),
        ("country in 'risky'", "(a named list: in_list(x, 'list_name'))"),
    ],
)
def test_list_mistakes_are_compile_errors(source, message):
    named = lists(risky="KP\n", blocked="192.0.2.0/24\n")
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, {"login"}, lists=named)
    assert message in str(info.value)


def test_with_no_lists_the_message_says_so():
    with pytest.raises(ExpressionError, match=r"unknown list 'x' \(lists: none\)"):
        compile_expression("in_list(country, 'x')", {"login"})


def test_unknown_list_in_a_rule_file_is_a_load_error_with_file_and_line(tmp_path):
    write(tmp_path / "lists" / "high_risk_countries.txt", "KP\n")
    write(tmp_path / "lists" / "blocked_ip_ranges.txt", "192.0.2.0/24\n")
    path = write(tmp_path / "a.yaml", rule("risky", "in_list(country, 'high_risk_country')"))
    with pytest.raises(RuleLoadError) as info:
        load_rules(tmp_path)
    (problem,) = info.value.problems
    assert problem == (
        f"{path}:{line_of(path, 'when:')}: rule 'risky': when: unknown list "
        "'high_risk_country' (lists: blocked_ip_ranges, high_risk_countries)"
    )


def test_a_bad_network_in_a_list_names_the_list_file_and_line(tmp_path):
    lst = write(tmp_path / "lists" / "blocked.txt", "# feed\n192.0.2.0/24\n192.0.2.300/32\n")
    path = write(tmp_path / "a.yaml", rule("blocked", "ip_in(ip, 'blocked')"))
    with pytest.raises(RuleLoadError) as info:
        load_rules(tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:{line_of(path, 'when:')}: rule 'blocked': when: ")
    assert f"list 'blocked': {lst}:3: '192.0.2.300/32' is not an IP network" in problem


def test_a_list_that_no_ip_rule_reads_may_hold_anything(tmp_path):
    write(tmp_path / "lists" / "names.txt", "alice\nbob\n")
    write(tmp_path / "a.yaml", rule("names", "in_list(country, 'names')"))
    assert load_rules(tmp_path).lists["names"].entries == ("alice", "bob")


def test_version_changes_when_a_list_changes(tmp_path):
    lst = write(tmp_path / "lists" / "risky.txt", "KP\n")
    write(tmp_path / "a.yaml", rule("risky", "in_list(country, 'risky')"))
    v1 = load_rules(tmp_path).version
    lst.write_text("KP\nIR\n")
    v2 = load_rules(tmp_path).version
    assert v2 != v1
    lst.write_text("KP\n")
    assert load_rules(tmp_path).version == v1
    write(tmp_path / "lists" / "unused.txt", "x\n")  # a new list is a change too
    assert load_rules(tmp_path).version not in (v1, v2)


def test_a_list_renamed_changes_the_version(tmp_path):
    write(tmp_path / "lists" / "a.txt", "x\n")
    write(tmp_path / "a.yaml", rule("r", "failed_logins_10m >= 5"))
    v1 = load_rules(tmp_path).version
    (tmp_path / "lists" / "a.txt").rename(tmp_path / "lists" / "b.txt")
    assert load_rules(tmp_path).version != v1


def test_the_evaluated_rule_uses_the_list_content_at_load(tmp_path):
    lst = write(tmp_path / "lists" / "risky.txt", "KP\n")
    write(tmp_path / "a.yaml", rule("risky", "in_list(country, 'risky')"))
    pack = load_rules(tmp_path)
    lst.write_text("IR\n")  # a change on disk does nothing until the pack is reloaded
    assert [h.rule.id for h in pack.evaluate({"type": "login", "country": "KP"})] == ["risky"]
    assert load_rules(tmp_path).evaluate({"type": "login", "country": "KP"}) == []
