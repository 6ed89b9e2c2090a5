"""Settings, read once in the entry point (prefix ``VIGIL_``) and passed down.

>>> s = Settings(kafka_bootstrap="k:9092")
>>> s.events_topic, s.dlq_topic, s.consumer_group
('wallet.events', 'wallet.events.dlq', 'vigil')
>>> s.sqlalchemy_url
'sqlite:///./data/vigil.db'
>>> Settings(database_url="postgresql://u@h/db").sqlalchemy_url
'postgresql+psycopg://u@h/db'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_CHARS = 24
# Placeholders that end up in production when someone copies an example config.
WELL_KNOWN_SECRETS = (
    "changeme",
    "changethis",
    "change-me",
    "secret",
    "password",
    "admin",
    "token",
    "default",
    "example",
    "placeholder",
    "replaceme",
    "your-",
    "xxxxxxxx",
    "12345678",
)


def weak_secret(value: str) -> str | None:
    """Why ``value`` is not fit to be a secret, or ``None`` when it is.

    Refused: fewer than 24 characters, fewer than 8 distinct ones, or a well-known
    placeholder in it (copied from an example config).

    >>> weak_secret("admin")
    'must be at least 24 characters (got 5)'
    >>> weak_secret("changeme-changeme-changeme")[:46]
    "contains the well-known placeholder 'changeme'"
    >>> weak_secret("a" * 30)
    'has fewer than 8 distinct characters: not random'
    >>> weak_secret("vgl_Jq3yW0s8aH1xN6pV2cR9tL5mK7dE4fB")  # None: fine
    """
    if len(value) < MIN_SECRET_CHARS:
        return f"must be at least {MIN_SECRET_CHARS} characters (got {len(value)})"
    if len(set(value)) < 8:
        return "has fewer than 8 distinct characters: not random"
    lowered = value.lower()
    for word in WELL_KNOWN_SECRETS:
        if word in lowered:
            return (
                f"contains the well-known placeholder {word!r}: generate one "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
    return None


class Settings(BaseSettings):
    # hide_input_in_errors: a refused secret (or a URL with a password) must not end up
    # in the startup error, hence in the logs.
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", extra="ignore", hide_input_in_errors=True
    )

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    events_topic: str = "wallet.events"
    dlq_topic: str = "wallet.events.dlq"
    late_topic: str = "wallet.events.late"
    verdicts_topic: str = "wallet.verdicts"
    actions_topic: str = "wallet.account-actions"
    dispatch_actions: bool = Field(
        True,
        description="publish committed commands (off: they "
        "wait in the outbox, e.g. during a migration)",
    )
    dispatch_poll_s: float = Field(1.0, gt=0)
    expiry_check_s: float = Field(
        30.0, gt=0, description="how often expired restrictions are lifted (restore commands)"
    )
    # optional signed webhooks to the wallet's backend (docs/webhooks.md)
    webhook_url: str | None = None
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list, description="whsec_... secrets; several while rotating"
    )
    webhook_allow_private: list[str] = Field(
        default_factory=list,
        description="CIDRs/hosts a webhook may target despite being private (an internal backend)",
    )
    webhook_allow_http_loopback: bool = False  # tests and local development only
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_concurrency: int = Field(8, ge=1)
    labels_topic: str = "wallet.labels"
    consumer_group: str = "vigil"
    client_id: str = "vigil"
    max_event_bytes: int = Field(64 * 1024, gt=0)
    batch_max_records: int = Field(
        4000,
        gt=0,
        description="most events decided per batch (one store transaction and one offset "
        "commit each). Batches fill only when the monitor is behind; then larger ones "
        "cost less per event: `vigil bench e2e` measured ~27k events/s at 1,000, ~29k at "
        "2,000, ~32k at 4,000 and ~33k at 8,000 (docs/benchmarks.md)",
    )
    poll_timeout_ms: int = Field(200, gt=0)
    fetch_max_wait_ms: int = Field(
        5,
        gt=0,
        description="how long the broker may hold a fetch waiting for data (aiokafka's "
        "default is 500). Apache Kafka answers as soon as data arrives, so this only "
        "bounds idle polling there; the embedded broker (Tansu) answers when the wait "
        "is up, so it is the floor of decision latency: 20 ms measured p50 14 ms, 5 ms "
        "p50 9 ms at 3,000 events/s (vigil bench latency)",
    )
    max_poll_interval_ms: int = Field(
        300_000,
        gt=0,
        description="a member that has not polled for this long (a batch stuck, e.g. on "
        "the database) leaves the group and rejoins when it polls again (aiokafka's default)",
    )
    topic_partitions: int = Field(4, gt=0, description="partitions when Vigil creates topics")

    # Store
    database_url: str = "sqlite:///./data/vigil.db"

    # Detection
    rules_dir: Path = Path("rules")
    rules_watch_s: float = Field(2.0, gt=0, description="how often rule files are checked")
    admin_token: SecretStr | None = Field(
        None,
        description="break-glass admin bearer token (principal 'admin-token'); unset: none. "
        "People use their own tokens: vigil users create",
    )
    anomaly_warmup: int = Field(500, ge=0, description="events per model before it may flag")
    gc_threshold: int = Field(
        50_000,
        ge=0,
        description="allocations between generation-0 garbage collections (0: Python's "
        "default 700); see monitor/gctune.py",
    )
    anomaly_quantile: float = Field(0.995, gt=0, lt=1)
    max_future_skew_s: float = Field(300.0, ge=0)
    grace_s: float = Field(
        300.0,
        ge=0,
        description="how far behind its account an event may arrive and still be folded into state",
    )
    account_ttl_days: float = Field(90.0, gt=0, description="idle accounts are forgotten")
    anomaly_learn_every: int = Field(4, ge=1)
    ops_min_events: int = Field(
        20,
        ge=1,
        description="events a 5-min bucket needs (per "
        "partition) before a population spike may fire",
    )
    ops_stuffing_accounts: int = Field(
        8,
        ge=2,
        description="distinct accounts failing from "
        "one IP/subnet in 10 min (per partition) = stuffing",
    )
    verdict_min: int = Field(
        20,
        ge=2,
        description="verdicts per event type (both outcomes) "
        "before the supervised model takes part in decisions",
    )

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    readyz_max_lag: int = Field(100_000, ge=0, description="lag above which /readyz says not ready")
    # API security (docs/security.md)
    public_probes: bool = Field(
        False,
        description="serve /readyz without a token, for orchestrators that cannot send one "
        "(it names internal hosts and lag, so it needs a token by default)",
    )
    public_docs: bool = Field(
        False, description="serve /docs and /openapi.json without a token (the demo does)"
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="serve /metrics unauthenticated on this port (on api_host) instead "
        "of token-protected on the API port",
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="larger request bodies get 413")
    rate_limit_per_s: float = Field(
        20.0, ge=0, description="requests per second per token (0: no limit); excess gets 429"
    )
    rate_limit_burst: int = Field(40, ge=1, description="requests a token may make at once")
    # Support console (docs/security.md)
    session_secret: SecretStr | None = Field(
        None,
        description="key that signs console session cookies (>= 24 chars, the same on every "
        "API process); unset: a random key per process, so sessions end at restart",
    )
    session_hours: float = Field(8.0, gt=0, le=24, description="console sessions last this long")

    # Checkpoints of partition state (monitor/checkpoint.py)
    dispatch_standby_s: float = Field(
        2.0,
        gt=0,
        description="how often a replica that does not publish the outbox checks whether "
        "the publisher is gone (PostgreSQL: one publisher per deployment)",
    )
    checkpoint_key: SecretStr | None = Field(
        None,
        description="HMAC key that signs partition checkpoints (>= 24 chars, the same on "
        "every replica); unset: no checkpoints, state is rebuilt from scratch on restart",
    )
    checkpoint_interval_s: float = Field(
        300.0,
        ge=0,
        description="seconds between periodic checkpoints (0: only when partitions are "
        "revoked and at a clean stop)",
    )

    log_level: str = "INFO"

    @field_validator("checkpoint_key")
    @classmethod
    def _strong_checkpoint_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            problem = weak_secret(v.get_secret_value())
            if problem is not None:
                raise ValueError(f"VIGIL_CHECKPOINT_KEY {problem}")
        return v

    @field_validator("session_secret")
    @classmethod
    def _strong_session_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            problem = weak_secret(v.get_secret_value())
            if problem is not None:
                raise ValueError(f"VIGIL_SESSION_SECRET {problem}")
        return v

    @field_validator("admin_token")
    @classmethod
    def _strong_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            problem = weak_secret(v.get_secret_value())
            if problem is not None:
                raise ValueError(f"VIGIL_ADMIN_TOKEN {problem}")
        return v

    @field_validator("webhook_secrets")
    @classmethod
    def _strong_webhook_secrets(cls, v: list[SecretStr]) -> list[SecretStr]:
        from monitor.responders.signing import secret_key

        for i, secret in enumerate(v):
            value = secret.get_secret_value()
            problem = weak_secret(value)
            if problem is None:
                try:
                    secret_key(value)
                except ValueError as exc:
                    problem = str(exc).removeprefix("a webhook secret ")
            if problem is not None:
                raise ValueError(f"VIGIL_WEBHOOK_SECRETS[{i}] {problem}")
        return v

    def pipeline_options(self) -> dict[str, Any]:
        """Keyword arguments of ``PartitionPipeline`` from these settings: the one place
        the live service, ``vigil evaluate`` and ``vigil replay`` take them from."""
        return {
            "anomaly_warmup": self.anomaly_warmup,
            "anomaly_quantile": self.anomaly_quantile,
            "anomaly_learn_every": self.anomaly_learn_every,
            "max_future_skew_s": self.max_future_skew_s,
            "grace_s": self.grace_s,
            "account_ttl_s": self.account_ttl_days * 86400.0,
            "verdict_min": self.verdict_min,
            "ops": {
                "min_events": self.ops_min_events,
                "stuffing_accounts": self.ops_stuffing_accounts,
            },
        }

    @property
    def sqlalchemy_url(self) -> str:
        """``database_url`` with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
