"""Initial schema: every table of the alert store as it stood when migrations arrived.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

The tables are written out here, frozen, rather than imported from
``monitor.store.schema`` (which moves on with later revisions). :func:`tables` serves
twice: :func:`upgrade` creates them, and :mod:`monitor.store.migrate` compares a database
made before migrations existed (by ``metadata.create_all``) against them before stamping
it with this revision. Types are the ones the database sees (``UTCDateTime`` is a
``DateTime(timezone=True)``); constraint and index names follow the naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def tables() -> sa.MetaData:
    """The schema of revision 0001, on a new ``MetaData``."""
    m = sa.MetaData(naming_convention=NAMING_CONVENTION)
    ts = sa.DateTime(timezone=True)
    serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    sa.Table(
        "alerts",
        m,
        sa.Column("alert_id", sa.String(), primary_key=True),
        sa.Column("event_id", sa.String(), nullable=False, unique=True),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("event_time", ts, nullable=False),
        sa.Column("detected_at", ts, nullable=False),
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
    sa.Table(
        "alert_rules",
        m,
        sa.Column(
            "alert_id",
            sa.String(),
            sa.ForeignKey("alerts.alert_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rule_id", sa.String(), primary_key=True),
        sa.Column("event_time", ts, nullable=False),
        sa.Index(None, "rule_id", "event_time", "alert_id"),
    )
    sa.Table(
        "shadow_hits",
        m,
        sa.Column("event_id", sa.String(), primary_key=True),
        sa.Column("rule_id", sa.String(), primary_key=True),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("event_time", ts, nullable=False),
        sa.Column("detected_at", ts, nullable=False),
        sa.Column("rule_pack_version", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Index(None, "rule_id", "event_time"),
    )
    sa.Table(
        "outbox",
        m,
        sa.Column("seq", serial, primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.String(), nullable=False, unique=True),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("event_time", ts, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("published_at", ts, nullable=True),
        sa.Column("webhook_state", sa.String(), nullable=True),
        sa.Column("topic", sa.String(), nullable=False, server_default="actions"),
        sa.Index(None, "published_at", "seq"),
        sa.Index(None, "account_id", "seq"),
    )
    sa.Table(
        "webhook_dead_letters",
        m,
        sa.Column("action_id", sa.String(), primary_key=True),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("failed_at", ts, nullable=False),
    )
    sa.Table(
        "account_responses",
        m,
        sa.Column("account_id", sa.String(), primary_key=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("next_expiry", ts, nullable=True),
        sa.Column("updated_at", ts, nullable=False),
        sa.Index(None, "next_expiry"),
    )
    sa.Table(
        "cases",
        m,
        sa.Column("case_id", sa.String(), primary_key=True),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("due_at", ts, nullable=False),
        sa.Column("opened_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Index(None, "account_id", "category", "status"),
        sa.Index(None, "status", "priority", "due_at"),
    )
    sa.Table(
        "case_alerts",
        m,
        sa.Column("case_id", sa.String(), primary_key=True),
        sa.Column("alert_id", sa.String(), primary_key=True),
    )
    sa.Table(
        "audit_log",
        m,
        sa.Column("id", serial, primary_key=True, autoincrement=True),
        sa.Column("at", ts, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Index(None, "target", "at"),
    )
    sa.Table(
        "case_work",
        m,
        sa.Column(
            "case_id",
            sa.String(),
            sa.ForeignKey("cases.case_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("acknowledged_at", ts, nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("verdict", sa.String(), nullable=True),
        sa.Column("closed_at", ts, nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("updated_at", ts, nullable=False),
        sa.Index(None, "assignee"),
    )
    sa.Table(
        "case_events",
        m,
        sa.Column(
            "case_id",
            sa.String(),
            sa.ForeignKey("cases.case_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.UniqueConstraint("case_id", "kind", "request_id"),
        sa.Index(None, "kind", "at"),
    )
    sa.Table(
        "users",
        m,
        sa.Column("user_id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
    )
    sa.Table(
        "api_tokens",
        m,
        sa.Column("token_id", sa.String(), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(),
            sa.ForeignKey("users.user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("last_used_at", ts, nullable=True),
        sa.Column("revoked_at", ts, nullable=True),
        sa.Index(None, "user_id"),
    )
    sa.Table(
        "checkpoints",
        m,
        sa.Column("group_id", sa.String(), primary_key=True),
        sa.Column("topic", sa.String(), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    return m


def upgrade() -> None:
    """Create every table of revision 0001 (fails if one exists already)."""
    tables().create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    """Drop every table of revision 0001, and with them all stored data."""
    tables().drop_all(op.get_bind(), checkfirst=False)
