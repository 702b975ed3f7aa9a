"""Monitoring: reference data of model versions, monitor runs and their metric time series,
alert rules and alert events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "monitoring_references",
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )
    op.create_table(
        "monitor_runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("window_start", sa.BigInteger, nullable=True),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("report_digest", sa.String(64), nullable=True),
        sa.Column("json_digest", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )
    op.create_index("ix_monitor_runs_model", "monitor_runs", ["model_name", "created_at"])
    op.create_table(
        "monitor_metrics",
        sa.Column("run_id", ID, sa.ForeignKey("monitor_runs.id"), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_monitor_metrics_series", "monitor_metrics", ["model_name", "name", "at"])
    op.create_table(
        "alert_rules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(256), nullable=False),
        sa.Column("comparison", sa.String(2), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("window", sa.BigInteger, nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("webhook", sa.String(1024), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
        sa.UniqueConstraint("model_name", "name", name="uq_alert_rules_name"),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("rule_id", ID, sa.ForeignKey("alert_rules.id"), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("run_id", ID, sa.ForeignKey("monitor_runs.id"), nullable=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fired_at", sa.BigInteger, nullable=False),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        sa.Column("acked_at", sa.BigInteger, nullable=True),
        sa.Column("acked_by", sa.String(256), nullable=True),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("delivery_error", sa.Text, nullable=True),
    )
    op.create_index("ix_alert_events_rule", "alert_events", ["rule_id", "status"])
    op.create_index("ix_alert_events_model", "alert_events", ["model_name", "fired_at"])


def downgrade() -> None:
    for table in (
        "alert_events",
        "alert_rules",
        "monitor_metrics",
        "monitor_runs",
        "monitoring_references",
    ):
        op.drop_table(table)
