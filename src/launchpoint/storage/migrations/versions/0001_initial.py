"""Workspaces, catalogue, users, events, segments and surfaces.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("data_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("sensitive", sa.JSON, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("consents", sa.JSON, nullable=False),
        sa.Column("personalisation", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("message_id", sa.String(256), primary_key=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("item_id", sa.String(256), nullable=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_index("ix_events_user", "events", ["workspace_id", "user_id", "ts"])
    op.create_index("ix_events_ts", "events", ["workspace_id", "ts"])
    op.create_table(
        "segments",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "segment_versions",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("segment_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
    )
    op.create_table(
        "surfaces",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("surfaces", "segment_versions", "segments", "events", "users", "items"):
        op.drop_table(table)
    op.drop_table("workspaces")
