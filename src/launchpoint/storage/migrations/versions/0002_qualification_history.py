"""Qualification history: members and items per segment over time, for the report's trend.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qualification_history",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("segment_id", sa.String(128), primary_key=True),
        sa.Column("at", sa.Float, primary_key=True),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("qualifies", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("qualification_history")
