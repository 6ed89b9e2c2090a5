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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

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
    batch_max_records: int = Field(1000, gt=0)
    poll_timeout_ms: int = Field(200, gt=0)
    fetch_max_wait_ms: int = Field(
        20,
        gt=0,
        description="how long the broker may hold a fetch waiting for data: the "
        "floor of decision latency under light load (aiokafka's default is 500)",
    )
    topic_partitions: int = Field(4, gt=0, description="partitions when Vigil creates topics")

    # Store
    database_url: str = "sqlite:///./data/vigil.db"

    # Detection
    rules_dir: Path = Path("rules")
    rules_watch_s: float = Field(2.0, gt=0, description="how often rule files are checked")
    admin_token: SecretStr | None = Field(
        None, description="bearer token for admin endpoints (rule reload); unset: disabled"
    )
    anomaly_warmup: int = Field(500, ge=0, description="events per model before it may flag")
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

    log_level: str = "INFO"

    @field_validator("admin_token")
    @classmethod
    def _strong_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 24:
            raise ValueError("VIGIL_ADMIN_TOKEN must be at least 24 characters")
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
