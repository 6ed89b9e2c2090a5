"""Rules as validated data: schema, safe expression compiler, named lists, test cases,
loader and evaluator. (Running the test cases needs the pipeline: ``monitor.ruletests``.)"""

from monitor.ruleset.cases import RuleTest
from monitor.ruleset.compiler import CompiledExpression, compile_expression
from monitor.ruleset.exceptions import ExpressionError, RuleError, RuleLoadError
from monitor.ruleset.lists import NamedList
from monitor.ruleset.loader import load_rules
from monitor.ruleset.rules import Rule, RuleHit, RulePack, RuleSpec

__all__ = [
    "CompiledExpression",
    "ExpressionError",
    "NamedList",
    "Rule",
    "RuleError",
    "RuleHit",
    "RuleLoadError",
    "RulePack",
    "RuleSpec",
    "RuleTest",
    "compile_expression",
    "load_rules",
]
