"""Errors raised by the alert store, under one root: :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error the alert store raises."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or used right now (connection refused, file not
    openable, locked past the busy timeout). Usually transient: retry, or report not ready."""


class CaseNotFound(StoreError):
    """No support case has this id (the API answers 404)."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id!r}")
        self.case_id = case_id


class InvalidTransition(StoreError):
    """The case's state does not allow this step: a verdict on a closed case, a claim of a
    case someone else holds (without ``force``), … (the API answers 409). The message says
    what the state is and what would be allowed."""

    def __init__(self, case_id: str, message: str) -> None:
        super().__init__(f"case {case_id}: {message}")
        self.case_id = case_id


class InvalidCursor(StoreError, ValueError):
    """A page cursor that this store did not hand out (tampered, truncated, or from another
    list). Also a ``ValueError``: the caller sent a bad argument (the API answers 400/422)."""


class UnknownUser(LookupError):
    """No user of that name (``vigil users …``, ``/v1/users/{name}``)."""


class UserExists(ValueError):
    """A user of that name exists already: names are unique."""
