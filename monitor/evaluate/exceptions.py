"""Errors of ``vigil evaluate``, under one root."""

from __future__ import annotations

__all__ = ["EvaluateError", "InputError"]


class EvaluateError(Exception):
    """Root of the evaluation errors."""


class InputError(EvaluateError):
    """An input file is missing or unreadable, or the options do not fit together."""
