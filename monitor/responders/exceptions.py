"""Errors of ``monitor.responders``, under one root."""

from __future__ import annotations

__all__ = [
    "ResponderError",
    "UnresolvableHostError",
    "WebhookConfigError",
    "WebhookError",
    "WebhookVerificationError",
]


class ResponderError(Exception):
    """Root exception of ``monitor.responders``."""


class WebhookError(ResponderError):
    """Root of the webhook errors."""


class WebhookConfigError(WebhookError):
    """The webhook settings cannot be used: a URL the policy refuses (not https, a private
    address that is not allow-listed, a malformed URL or allow-list entry) or a bad secret.

    An operator must act: fix ``VIGIL_WEBHOOK_*`` or allow-list the address on purpose.
    Retrying does not help, so a delivery refused for this reason fails at once."""


class UnresolvableHostError(WebhookConfigError):
    """The webhook host name did not resolve. At start-up this is a configuration problem;
    at delivery time it may be a passing DNS failure, so the sender retries it."""


class WebhookVerificationError(WebhookError):
    """A delivery failed verification. ``reason`` is one of ``missing_headers``,
    ``bad_timestamp``, ``too_old``, ``too_new``, ``bad_signature``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
