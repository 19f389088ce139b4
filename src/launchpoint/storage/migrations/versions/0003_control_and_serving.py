"""API keys, exposures, suppression list, user profile edits, workspace settings, experiments.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("secret_hash", sa.String(256), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("rate_per_second", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_api_keys_workspace", "api_keys", ["workspace_id"])
    op.create_table(
        "exposures",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("recommendation_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("surface", sa.String(128), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("experiment_id", sa.String(128), nullable=True),
        sa.Column("variant", sa.String(128), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_exposures_user", "exposures", ["workspace_id", "user_id", "created_at"])
    op.create_table(
        "suppressed_users",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("deleted_at", sa.Float, nullable=False),
    )
    op.create_table(
        "profiles",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("removed_interests", sa.JSON, nullable=False),
        sa.Column("opt_outs", sa.JSON, nullable=False),
        sa.Column("reset_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "workspace_settings",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "experiments",
        sa.Column("workspace_id", sa.String(128), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "experiments",
        "workspace_settings",
        "profiles",
        "suppressed_users",
        "exposures",
        "api_keys",
    ):
        op.drop_table(table)
