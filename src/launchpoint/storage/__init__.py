"""Storage: the only package that speaks SQL. SQLite by default, PostgreSQL by URL."""

from launchpoint.storage.database import Database, head_revision, normalise_url
from launchpoint.storage.store import WorkspaceStore

__all__ = ["Database", "WorkspaceStore", "head_revision", "normalise_url"]
