"""Tables of the alert store (SQLAlchemy Core), portable between SQLite and PostgreSQL.

This is the schema the code expects; databases get it through the Alembic migrations in
``monitor/store/migrations/`` (:meth:`AlertStore.create_schema`, ``vigil db upgrade``).
Change a table here, then add a revision (``alembic revision --autogenerate -m "..."``,
README "Database"); a test checks that the migrations arrive at exactly this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# Stable constraint names, so Alembic migrations can refer to them.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware timestamp that reads back as aware UTC on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is
    stored as naive UTC (SQLAlchemy's fixed-width text format, which sorts and
    compares correctly) and tagged UTC again on read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.String(), primary_key=True),
    sa.Column("event_id", sa.String(), nullable=False, unique=True),
    sa.Column("account_id", sa.String(), nullable=False),
    sa.Column("event_type", sa.String(), nullable=False),
    sa.Column("event_time", UTCDateTime(), nullable=False),
    sa.Column("detected_at", UTCDateTime(), nullable=False),
    sa.Column("score", sa.Double(), nullable=False),
    sa.Column("anomaly_score", sa.Double(), nullable=True),
    sa.Column("severity", sa.String(), nullable=False),
    sa.Column("severity_rank", sa.SmallInteger(), nullable=False),
    sa.Column("rule_ids", sa.JSON(), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("actions", sa.JSON(), nullable=False),
    sa.Column("queue", sa.String(), nullable=True),
    sa.Column("learn_input", sa.JSON(), nullable=True),
    sa.Column("rule_pack_version", sa.String(), nullable=True),
    sa.Column("kafka_partition", sa.Integer(), nullable=True),
    sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
    sa.Index(None, "account_id", "event_time"),
    sa.Index(None, "event_time"),
)

# One row per (alert, rule), with the alert's event time copied in, so "the newest
# alerts rule X raised" is one ordered index range scan on both backends.
# ``alerts.rule_ids`` keeps the ordered list for display.
alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column(
        "alert_id",
        sa.String(),
        sa.ForeignKey(alerts.c.alert_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("rule_id", sa.String(), primary_key=True),
    sa.Column("event_time", UTCDateTime(), nullable=False),
    sa.Index(None, "rule_id", "event_time", "alert_id"),
)


# What shadow rules would have done: recorded live, never acted on (issue: rules as data).
shadow_hits = sa.Table(
    "shadow_hits",
    metadata,
    sa.Column("event_id", sa.String(), primary_key=True),
    sa.Column("rule_id", sa.String(), primary_key=True),
    sa.Column("account_id", sa.String(), nullable=False),
    sa.Column("event_time", UTCDateTime(), nullable=False),
    sa.Column("detected_at", UTCDateTime(), nullable=False),
    sa.Column("rule_pack_version", sa.String(), nullable=False),
    sa.Column("text", sa.String(), nullable=False),
    sa.Column("values", sa.JSON(), nullable=False),
    sa.Index(None, "rule_id", "event_time"),
)


# --- responses (issue: response steps carried out exactly once) ---------------------------
# The transactional outbox: commands written with their alert, published by the dispatcher.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("action_id", sa.String(), nullable=False, unique=True),
    sa.Column("account_id", sa.String(), nullable=False),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),  # the command, as published
    sa.Column("event_time", UTCDateTime(), nullable=True),  # of the triggering event
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    # webhook delivery (when configured): NULL not tried yet, then delivered | dead
    sa.Column("webhook_state", sa.String(), nullable=True),
    # Where the dispatcher publishes the row, by logical name (it maps the name to the
    # configured topic): "actions" (commands, wallet.account-actions; also delivered by
    # webhook) or "verdicts" (support verdicts, wallet.verdicts). See OUTBOX_TOPICS.
    sa.Column("topic", sa.String(), nullable=False, server_default="actions"),
    sa.Index(None, "published_at", "seq"),
    sa.Index(None, "account_id", "seq"),  # an account's commands, for support
)
OUTBOX_TOPICS = ("actions", "verdicts")

# Commands whose webhook delivery failed for good: support acts on them by hand.
webhook_dead_letters = sa.Table(
    "webhook_dead_letters",
    metadata,
    sa.Column("action_id", sa.String(), primary_key=True),
    sa.Column("account_id", sa.String(), nullable=False),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("outcome", sa.String(), nullable=False),  # rejected | exhausted | refused
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("statuses", sa.JSON(), nullable=False),
    sa.Column("last_error", sa.String(), nullable=True),
    sa.Column("failed_at", UTCDateTime(), nullable=False),
)

# What Vigil has done to each account: restrictions in force, recent step-ups/resets
# (monitor.responders.actions.AccountState as JSON).
account_responses = sa.Table(
    "account_responses",
    metadata,
    sa.Column("account_id", sa.String(), primary_key=True),
    sa.Column("state", sa.JSON(), nullable=False),
    sa.Column("next_expiry", UTCDateTime(), nullable=True),  # earliest restriction expiry
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index(None, "next_expiry"),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(), primary_key=True),
    sa.Column("account_id", sa.String(), nullable=False),
    sa.Column("category", sa.String(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("priority", sa.String(), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),  # the whole monitor.responders.cases.Case
    sa.Index(None, "account_id", "category", "status"),
    sa.Index(None, "status", "priority", "due_at"),
)

case_alerts = sa.Table(
    "case_alerts",
    metadata,
    sa.Column("case_id", sa.String(), primary_key=True),
    sa.Column("alert_id", sa.String(), primary_key=True),
)


# One append-only row per mutation made by a person (restores now; the console's workflow
# later): who, as what, did what to what, before and after.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("target", sa.String(), nullable=False),
    sa.Column("before", sa.JSON(), nullable=True),
    sa.Column("after", sa.JSON(), nullable=True),
    sa.Column("request_id", sa.String(), nullable=True),
    sa.Index(None, "target", "at"),
)


# --- support casework (issue: the support case workflow) ----------------------------------
# The workflow state of a case people have worked on (no row: nobody has touched it yet).
# Kept beside ``cases`` because alert routing rewrites a case's row and ``data``; this
# table is written only by monitor.store.casework, always with a case_events row.
case_work = sa.Table(
    "case_work",
    metadata,
    sa.Column(
        "case_id",
        sa.String(),
        sa.ForeignKey(cases.c.case_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("assignee", sa.String(), nullable=True),
    sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
    sa.Column("acknowledged_by", sa.String(), nullable=True),
    sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("verdict", sa.String(), nullable=True),  # fraud | legitimate | inconclusive
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("closed_by", sa.String(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index(None, "assignee"),
)

# Append-only history of a case: every step a person took (never updated, never deleted).
# ``seq`` counts from 1 per case; ``request_id`` makes a retried request a no-op.
case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column(
        "case_id",
        sa.String(),
        sa.ForeignKey(cases.c.case_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    # note | claim | assign | ack | verdict | escalate | contact | restore | password_reset
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("body", sa.JSON(), nullable=False),
    sa.Column("request_id", sa.String(), nullable=True),
    sa.UniqueConstraint("case_id", "kind", "request_id"),
    sa.Index(None, "kind", "at"),
)


# People who use the API and their bearer tokens (monitor/store/users.py).
users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), nullable=False, unique=True),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("queues", sa.JSON(), nullable=False),  # analysts: queue names, or ["*"]
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False, default=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.String(), primary_key=True),
    sa.Column(
        "user_id", sa.String(), sa.ForeignKey(users.c.user_id, ondelete="CASCADE"), nullable=False
    ),
    # SHA-256 hex of the whole token. A fast hash is right here: the token carries 256
    # random bits, so guessing is hopeless however fast the hash (slow, salted hashes are
    # for low-entropy passwords), and an unsalted digest can be looked up by index.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Index(None, "user_id"),
)

# The latest sealed checkpoint of each partition (monitor/checkpoint.py, store/checkpoints.py).
checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("group_id", sa.String(), primary_key=True),
    sa.Column("topic", sa.String(), primary_key=True),
    sa.Column("partition", sa.Integer(), primary_key=True),
    sa.Column("offset", sa.BigInteger(), nullable=False),  # next offset to consume
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
)
