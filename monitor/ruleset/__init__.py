"""Rules as validated data: schema, safe expression compiler, loader and evaluator."""

from monitor.ruleset.compiler import CompiledExpression, compile_expression
from monitor.ruleset.exceptions import ExpressionError, RuleError, RuleLoadError
from monitor.ruleset.loader import load_rules
from monitor.ruleset.rules import Rule, RuleHit, RulePack, RuleSpec

__all__ = [
    "CompiledExpression",
    "ExpressionError",
    "Rule",
    "RuleError",
    "RuleHit",
    "RuleLoadError",
    "RulePack",
    "RuleSpec",
    "compile_expression",
    "load_rules",
]
