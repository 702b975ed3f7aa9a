"""Model registry: registered models, numbered versions, aliases and their moves, approvals.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
        sa.Column("archived_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("flavour", sa.String(32), nullable=False),
        sa.Column("artifact_path", sa.String(1024), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("trusted_types", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
        sa.Column("archived_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_aliases",
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), primary_key=True),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "alias_moves",
        sa.Column("id", ID, primary_key=True),
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("moved_at", sa.BigInteger, nullable=False),
        sa.Column("moved_by", sa.String(256), nullable=False),
    )
    op.create_index("ix_alias_moves_model", "alias_moves", ["model_id", "alias", "moved_at"])
    op.create_table(
        "approval_requests",
        sa.Column("id", ID, primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("requested_by", sa.String(256), nullable=False),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_approval_requests_version", "approval_requests", ["version_id"])
    op.create_table(
        "approvals",
        sa.Column("id", ID, primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("reviewer", sa.String(256), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_approvals_version", "approvals", ["version_id", "created_at"])


def downgrade() -> None:
    for table in (
        "approvals",
        "approval_requests",
        "alias_moves",
        "model_aliases",
        "model_versions",
        "registered_models",
    ):
        op.drop_table(table)
