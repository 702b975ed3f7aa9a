"""Model serving: deployments, the prediction log and feedback labels.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", ID, primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("approval_id", ID, sa.ForeignKey("approvals.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
        sa.Column("replaced_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_deployments_target", "deployments", ["target", "status"])
    op.create_index("ix_deployments_version", "deployments", ["version_id"])
    op.create_table(
        "predictions",
        sa.Column("request_id", ID, primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("version_id", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
    )
    op.create_index("ix_predictions_model_time", "predictions", ["model_name", "created_at"])
    op.create_table(
        "feedback",
        sa.Column("request_id", ID, sa.ForeignKey("predictions.request_id"), primary_key=True),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("predictions")
    op.drop_table("deployments")
