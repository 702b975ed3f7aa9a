"""Evaluation: suite results per model version, the evaluation policy of a model, overrides.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("dataset_version_id", ID, sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("suite_name", sa.String(128), nullable=False),
        sa.Column("suite_digest", sa.String(64), nullable=False),
        sa.Column("suite", sa.Text, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("checks", sa.Text, nullable=False),
        sa.Column("compared_with", sa.Text, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("report_digest", sa.String(64), nullable=True),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )
    op.create_index("ix_evaluations_version", "evaluations", ["version_id", "created_at"])
    op.create_table(
        "evaluation_policies",
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), primary_key=True),
        sa.Column("suite_name", sa.String(128), nullable=False),
        sa.Column("suite", sa.Text, nullable=False),
        sa.Column("suite_digest", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "evaluation_overrides",
        sa.Column("id", ID, primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("evaluation_id", ID, sa.ForeignKey("evaluations.id"), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )
    op.create_index(
        "ix_evaluation_overrides_version", "evaluation_overrides", ["version_id", "created_at"]
    )


def downgrade() -> None:
    for table in ("evaluation_overrides", "evaluation_policies", "evaluations"):
        op.drop_table(table)
