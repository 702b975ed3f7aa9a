"""Pipelines: step cache, schedules and their fires, job queue, team quotas.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "step_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("pipeline", sa.String(256), nullable=False),
        sa.Column("step", sa.String(256), nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "schedules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("pipeline", sa.String(512), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("last_fire_at", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("schedule_id", ID, sa.ForeignKey("schedules.id"), primary_key=True),
        sa.Column("fire_at", sa.BigInteger, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("noted_at", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("pipeline", sa.String(512), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cpus", sa.Float, nullable=False),
        sa.Column("gpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.Column("creator", sa.String(256), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("wait_reason", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("host", sa.String(256), nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
    )
    op.create_index("ix_jobs_status_priority", "jobs", ["status", "priority", "seq"])
    op.create_table(
        "quotas",
        sa.Column("team", sa.String(128), primary_key=True),
        sa.Column("max_jobs", sa.Integer, nullable=True),
        sa.Column("cpus", sa.Float, nullable=True),
        sa.Column("gpus", sa.Integer, nullable=True),
        sa.Column("memory_mb", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in ("quotas", "jobs", "schedule_fires", "schedules", "step_cache"):
        op.drop_table(table)
