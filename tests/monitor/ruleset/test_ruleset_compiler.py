"""The rule expression compiler: a whitelist of AST nodes, typed names, registered functions."""

from __future__ import annotations

import pytest

from monitor.features import FEATURES
from monitor.ruleset import ExpressionError, Rule, RulePack, RuleSpec, compile_expression
from monitor.ruleset.functions import FUNCTIONS

PAYMENT = {"payment"}
LOGIN = {"login"}


def rejected(source: str, event_types=PAYMENT) -> str:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, event_types=event_types)
    return str(info.value)


# --- what the language refuses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("amount.real > 1", "Attribute is not allowed"),
        ("kind.upper() == 'TRANSFER'", "is not allowed"),
        ("currency[0] == 'C'", "Subscript is not allowed"),
        ("(lambda: True)()", "is not allowed"),
        ("[x for x in [1, 2]] == [1]", "ListComp is not allowed"),
        ("any(x > 1 for x in [1, 2])", "is not allowed"),
        ("{x for x in [1]} == {1}", "SetComp is not allowed"),
        ("{'a': 1} == {'a': 1}", "Dict is not allowed"),
        ("(y := amount) > 1", "NamedExpr is not allowed"),
        ("amount ** 2 > 1", "BinOp is not allowed"),
        ("amount << 2 > 1", "BinOp is not allowed"),
        ("amount is None", "comparison Is not allowed"),
        ("+amount > 1", "operator UAdd not allowed"),
        ("~account_events > 1", "operator Invert not allowed"),
        ("f'{amount}' == '1'", "JoinedStr is not allowed"),
        ("amount > None", "constant None not allowed"),
        ("amount > b'1'", "not allowed"),
        ("kind in [kind]", "list items must be constants"),
        ("'CN' in country", "'in' needs a list"),
    ],
)
def test_forbidden_syntax_is_rejected(source, message):
    assert message in rejected(source)


@pytest.mark.parametrize(
    "source",
    [
        "eval('1') == 1",
        "open('/etc/passwd') == ''",
        "__import__('os') == 1",
        "exec('x') == 1",
        "getattr(amount, 'real') > 1",
        "len(kind) > 1",
        "print(amount)",
    ],
)
def test_calls_to_unregistered_functions_are_rejected(source):
    message = rejected(source)
    assert "is not allowed (allowed: " in message
    assert "in_list" in message  # the hint lists the registry


def test_calling_a_non_name_is_rejected():
    assert "function 'amount' is not allowed" in rejected("(amount)(1) > 1")


def test_keyword_arguments_are_rejected():
    assert "keyword arguments are not allowed" in rejected("max(amount, 1, key=abs) > 1")


@pytest.mark.parametrize(
    "source", ["__builtins__ == 1", "__class__ == 1", "__import__ == 1", "_ == 1"]
)
def test_dunder_and_private_names_are_unknown(source):
    assert "unknown name '_" in rejected(source)


def test_unknown_name_suggests_the_closest_feature():
    assert rejected("ammount > 5") == "unknown name 'ammount' (did you mean 'amount'?)"
    assert (
        rejected("failed_login_10m >= 5", LOGIN)
        == "unknown name 'failed_login_10m' (did you mean 'failed_logins_10m'?)"
    )
    assert rejected("zzzz > 1") == "unknown name 'zzzz'"


@pytest.mark.parametrize("name", ["true", "false", "True_"])
def test_lowercase_booleans_are_not_names(name):
    message = rejected(f"success == {name}", LOGIN)
    assert "write booleans as True/False" in message or "unknown name" in message


@pytest.mark.parametrize(
    ("source", "event_types", "missing"),
    [
        ("amount > 5", {"login"}, "login"),
        ("kind == 'transfer'", {"payment", "topup"}, "topup"),
        ("success", {"login", "payment"}, "payment"),
        ("action == 'mfa_disabled'", {"security", "login", "topup"}, "login, topup"),
    ],
)
def test_names_must_exist_for_every_event_type_of_the_rule(source, event_types, missing):
    message = rejected(source, event_types)
    assert message.endswith(f"is not available for {missing} events")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("amount > 'x'", "cannot order float against str"),
        ("country > 3", "cannot order str against float"),
        ("'a' + 1 > 0", "arithmetic needs numbers, got str and float"),
        ("kind == 3", "cannot compare str with float"),
        ("new_payee == 'yes'", "cannot compare bool with str"),
        ("-kind == 'x'", "operator USub not allowed on str"),
        ("0 < amount < 'z'", "cannot order float against str"),
    ],
)
def test_type_mismatches_are_rejected(source, message):
    assert rejected(source) == message


@pytest.mark.parametrize(
    ("source", "result_type"),
    [
        ("amount + 1", "float"),
        ("kind", "str"),
        ("account_events", "int"),
        ("'transfer'", "str"),
        ("['a', 'b']", "list"),
        ("max(amount, 1)", "float"),
    ],
)
def test_expression_must_be_a_condition(source, result_type):
    assert rejected(source) == f"expression must be a condition (true/false), not {result_type}"


def test_syntax_error_reports_the_line_inside_the_expression():
    with pytest.raises(ExpressionError) as info:
        compile_expression("(amount > 5\n and and kind == 'x')", event_types=PAYMENT)
    assert str(info.value).startswith("syntax error")
    assert info.value.line_offset == 1


def test_name_error_reports_the_line_inside_the_expression():
    with pytest.raises(ExpressionError) as info:
        compile_expression("(amount > 5\n and\n ammount < 9)", event_types=PAYMENT)
    assert info.value.line_offset == 2


# --- what the language accepts ----------------------------------------------------------


PAY = {
    "type": "payment",
    "amount": 1000.0,
    "amount_mean": 100.0,
    "amount_ratio": 10.0,
    "kind": "transfer",
    "country": "NG",
    "currency": "CNY",
    "new_payee": True,
    "new_device": False,
    "minutes_since_security_change": 12.0,
    "account_events": 40,
    "distance_km": 12_000.0,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("new_payee and amount > 500", True),
        ("new_device or amount < 10", False),
        ("not new_device", True),
        ("not (new_payee and new_device)", True),
        ("0 < minutes_since_security_change < 60", True),
        ("0 < minutes_since_security_change < 10", False),
        ("kind in ['transfer', 'withdrawal']", True),
        ("kind in ('transfer', 'withdrawal')", True),
        ("country not in {'CN', 'SG'}", True),
        ("kind != 'purchase' and country == 'NG'", True),
        ("amount >= 0.8 * amount_mean * 10", True),
        ("(amount - amount_mean) / amount_mean > 8.99", True),
        ("amount % 7 == 6 and amount // 7 == 142", True),
        ("-amount < 0", True),
        ("new_payee == True", True),
        ("account_events >= 40.0", True),
        ("in_list(country, ['NG', 'GH'])", True),
        ("minutes(minutes_since_security_change * 60) == 12", True),
        ("abs(amount_mean - amount) > 800", True),
        ("min(amount, 50) == 50 and max(amount, 5000) == 5000", True),
        ("amount > 1 if new_payee else amount > 1e9", True),
    ],
)
def test_valid_forms_compile_and_evaluate(source, expected):
    compiled = compile_expression(source, event_types=PAYMENT)
    assert compiled.evaluate(PAY) is expected
    assert compiled.source == source


def test_names_are_listed_in_first_use_order_without_duplicates():
    compiled = compile_expression(
        "kind in ['transfer'] and amount > 3 * amount_mean and amount > 5 and new_payee",
        event_types=PAYMENT,
    )
    assert compiled.names == ("kind", "amount", "amount_mean", "new_payee")


def test_names_available_to_all_event_types_compile_for_all():
    types = {"login", "payment", "topup", "security"}
    compiled = compile_expression("new_device and distance_km > 500", event_types=types)
    assert compiled.evaluate({"new_device": True, "distance_km": 501.0}) is True
    assert compiled.evaluate({"new_device": True, "distance_km": 499.0}) is False


def test_surrounding_whitespace_and_folded_newlines_are_fine():
    compiled = compile_expression("\n  new_payee\n", event_types=PAYMENT)
    assert compiled.evaluate({"new_payee": True}) is True


def test_evaluation_has_no_builtins():
    compiled = compile_expression("amount > 1", event_types=PAYMENT)
    assert compiled.code.co_names == ("amount",)
    assert compiled.evaluate({"amount": 2.0}) is True


def test_registered_functions_are_the_documented_ones():
    assert set(FUNCTIONS) == {"geo_distance_km", "in_list", "ip_in", "minutes", "abs", "min", "max"}


def test_function_names_do_not_collide_with_feature_names():
    assert set(FUNCTIONS).isdisjoint(FEATURES)


def test_geo_distance_km_function_is_callable_in_a_rule():
    compiled = compile_expression(
        "geo_distance_km(31.23, 121.47, 6.52, 3.38) > 10000", event_types=PAYMENT
    )
    assert compiled.evaluate(PAY) is True


# --- expressions that would raise on an event are refused at compile time -----------


@pytest.mark.parametrize(
    "source",
    [
        "minutes() > 1",
        "max(amount) > 1",
        "minutes(amount, 2) > 1",
        "abs(kind) > 1",
        "in_list(kind, 5)",
        "(amount if new_payee else kind) > 5",
    ],
)
def test_expressions_that_would_raise_at_evaluation_are_rejected_at_compile(source):
    try:
        compiled = compile_expression(source, event_types=PAYMENT)
    except ExpressionError:
        return
    # it compiled: it must then at least evaluate without raising on a real feature dict
    features = dict(PAY, new_payee=False)
    try:
        compiled.evaluate(features)
    except TypeError as exc:
        raise AssertionError(f"{source!r} compiled but raises {exc!r} at evaluation") from exc


def test_division_by_a_zero_feature_does_not_fire_and_is_counted():
    spec = RuleSpec(
        id="z", applies_to=frozenset({"payment"}), when="amount / amount_std > 3", severity="high"
    )
    rule = Rule(spec, compile_expression(spec.when, event_types=spec.applies_to), "f.yaml", 1)
    pack = RulePack(rules=(rule,), version="v", source="-")
    assert pack.evaluate({"type": "payment", "amount": 10.0, "amount_std": 0.0}) == []
    assert pack.errors == {"z": 1}
    assert [
        h.rule.id for h in pack.evaluate({"type": "payment", "amount": 10.0, "amount_std": 1.0})
    ] == ["z"]
