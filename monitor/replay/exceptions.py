"""Errors of ``vigil replay``, under one root."""

from __future__ import annotations

__all__ = ["InputError", "ReplayError"]


class ReplayError(Exception):
    """Root of the replay errors."""


class InputError(ReplayError):
    """An input file is missing or unreadable, or the options do not fit together."""
