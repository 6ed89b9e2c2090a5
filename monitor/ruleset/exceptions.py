"""Errors of the rule package. Every load error names the file and line."""

from __future__ import annotations


class RuleError(Exception):
    """Root exception of ``monitor.ruleset``."""


class RuleLoadError(RuleError):
    """One or more rule files are invalid; ``problems`` lists them as ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ExpressionError(RuleError):
    """An expression uses something the rule language does not allow.

    ``line_offset`` is the line inside the expression text (0 for the first), ``token``
    the offending source text."""

    def __init__(self, message: str, line_offset: int = 0, token: str = "") -> None:
        self.line_offset = line_offset
        self.token = token  # the offending source text, to find its line in a YAML block
        super().__init__(message)
