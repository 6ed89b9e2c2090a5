"""Settings refuse weak secrets at startup with a message an operator can act on, and
carry the API security settings (docs/security.md)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from monitor.config import Settings

STRONG = "Jq3yW0s8aH1xN6pV2cR9tL5mK7dE4fB"
WEBHOOK = "whsec_wJ6Xb3hJ0LpYQnN3J2a6yH5tKp8mR4vZ1cE7dF9gA0s="


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("short", "must be at least 24 characters (got 5)"),
        ("changeme", "must be at least 24 characters"),
        ("changeme-changeme-changeme-changeme", "well-known placeholder 'changeme'"),
        ("my-very-long-admin-secret-2024", "well-known placeholder"),
        ("x" * 40, "fewer than 8 distinct characters"),
        ("abababababababababababababab", "fewer than 8 distinct characters"),
    ],
)
def test_weak_admin_tokens_are_refused(token: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as info:
        Settings(admin_token=token)
    assert "VIGIL_ADMIN_TOKEN" in str(info.value)
    assert token not in str(info.value)  # a refused secret is not echoed into the logs


def test_a_weak_token_in_the_environment_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ADMIN_TOKEN", "secret")
    with pytest.raises(ValidationError, match="VIGIL_ADMIN_TOKEN must be at least 24"):
        Settings()


def test_a_strong_token_is_accepted() -> None:
    assert Settings(admin_token=STRONG).admin_token is not None
    assert Settings().admin_token is None  # unset: no break-glass token at all


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_changeme", "at least 24 characters"),
        ("whsec_" + "A" * 40, "fewer than 8 distinct characters"),
        ("whsec_c2hvcnQ=abcdefghijklmnopqrstuvwx", "whsec_ followed by base64"),
        ("whsec_YWJjZGVmZ2hpamtsbW5vcHFyc3R1", "needs 24 to 64 key bytes"),
    ],
)
def test_weak_webhook_secrets_are_refused(secret: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as info:
        Settings(webhook_secrets=[WEBHOOK, secret])
    assert "VIGIL_WEBHOOK_SECRETS[1]" in str(info.value)
    assert secret not in str(info.value) and WEBHOOK not in str(info.value)


def test_security_settings_defaults() -> None:
    s = Settings()
    assert (s.public_probes, s.public_docs, s.metrics_port) == (False, False, None)
    assert (s.max_body_bytes, s.rate_limit_per_s, s.rate_limit_burst) == (1024 * 1024, 20.0, 40)
    assert len(Settings(webhook_secrets=[WEBHOOK]).webhook_secrets) == 1
