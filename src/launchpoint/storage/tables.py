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
