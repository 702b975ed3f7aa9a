"""Alert events keep the delivery of their resolution notice apart from that of their firing
notice, so a resolution no longer overwrites how the firing went.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_events") as table:
        table.add_column(sa.Column("resolution_delivered_at", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("resolution_delivery_error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_events") as table:
        table.drop_column("resolution_delivery_error")
        table.drop_column("resolution_delivered_at")
