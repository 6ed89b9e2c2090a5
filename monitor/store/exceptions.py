"""Errors raised by the alert store, under one root: :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error the alert store raises."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or used right now (connection refused, file not
    openable, locked past the busy timeout). Usually transient: retry, or report not ready."""
