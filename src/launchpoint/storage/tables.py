"""The schema, declared once. Alembic migrations (``migrations/``) create it; a contract test
checks that the migrations and this declaration never drift apart."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", String(256), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    # Bumped by every write; servers compare it to know their in-memory state is stale.
    Column("data_version", Integer, nullable=False, default=0),
)

items = Table(
    "items",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("id", String(256), primary_key=True),
    Column("title", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("categories", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("available", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("sensitive", JSON, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("id", String(256), primary_key=True),
    Column("attributes", JSON, nullable=False),
    Column("consents", JSON, nullable=False),
    Column("personalisation", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("message_id", String(256), primary_key=True),
    Column("user_id", String(256), nullable=False),
    Column("item_id", String(256), nullable=True),
    Column("type", String(64), nullable=False),
    Column("value", Float, nullable=True),
    Column("ts", Float, nullable=False),
    Column("context", JSON, nullable=False),
    Column("properties", JSON, nullable=False),
    Column("received_at", Float, nullable=False),
    Index("ix_events_user", "workspace_id", "user_id", "ts"),
    Index("ix_events_ts", "workspace_id", "ts"),
)

segments = Table(
    "segments",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

segment_versions = Table(
    "segment_versions",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("segment_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("actor", String(256), nullable=False, default=""),
)

surfaces = Table(
    "surfaces",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

qualification_history = Table(
    "qualification_history",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("segment_id", String(128), primary_key=True),
    Column("at", Float, primary_key=True),
    Column("members", Integer, nullable=False),
    Column("items", Integer, nullable=False),
    Column("qualifies", Boolean, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    # The public part of a key ("lp_<id>_<secret>"); only a hash of the secret is stored.
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(128), nullable=False),
    Column("name", String(256), nullable=False, default=""),
    Column("secret_hash", String(256), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("rate_per_second", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Index("ix_api_keys_workspace", "workspace_id"),
)

exposures = Table(
    "exposures",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("recommendation_id", String(64), primary_key=True),
    Column("user_id", String(256), nullable=False),
    Column("surface", String(128), nullable=False),
    # [{"item_id", "position", "ribbon"}...]: what was shown, where.
    Column("items", JSON, nullable=False),
    Column("experiment_id", String(128), nullable=True),
    Column("variant", String(128), nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_exposures_user", "workspace_id", "user_id", "created_at"),
)

# Users deleted on request: late events for them are dropped, never stored.
suppressed_users = Table(
    "suppressed_users",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("user_id", String(256), primary_key=True),
    Column("deleted_at", Float, nullable=False),
)

# What a user changed about their inferred profile, kept apart from explicit attributes.
profiles = Table(
    "profiles",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("user_id", String(256), primary_key=True),
    Column("removed_interests", JSON, nullable=False),
    Column("opt_outs", JSON, nullable=False),
    # Implicit interests only count events after this moment (a reset).
    Column("reset_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# Per-workspace documents: onboarding questions, signal weights, ...
workspace_settings = Table(
    "workspace_settings",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("workspace_id", String(128), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
