"""Feature store: applied definitions with versions, materialization windows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
        sa.UniqueConstraint("kind", "name", "version", name="uq_feature_definitions_version"),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("view_id", ID, sa.ForeignKey("feature_definitions.id"), nullable=False),
        sa.Column("online_store", sa.String(512), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=True),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.String(256), nullable=False),
    )
    op.create_index(
        "ix_feature_materializations_view",
        "feature_materializations",
        ["view_id", "online_store", "end_ms"],
    )


def downgrade() -> None:
    op.drop_table("feature_materializations")
    op.drop_table("feature_definitions")
