"""The ``api_keys`` table: one row per key, holding a hash of its secret, never the secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from launchpoint.errors import Conflict, NotFound
from launchpoint.storage import tables as t
from launchpoint.storage.database import Database


@dataclass(frozen=True)
class KeyRecord:
    """A stored key. ``scopes`` are names (``admin``, ``ingest``, ``serve``); checking them is
    the security package's business, not storage's."""

    id: str
    workspace_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    rate_per_second: float | None
    created_at: float
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=tuple(row.scopes),
        rate_per_second=row.rate_per_second,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class KeyStore:
    """Keys of every workspace. Reads take a key id alone, since a request names its key before
    anyone knows its workspace; writes that a person asks for name the workspace too, so a typo
    in one workspace cannot revoke another's key."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, record: KeyRecord) -> None:
        values = {
            "id": record.id,
            "workspace_id": record.workspace_id,
            "name": record.name,
            "secret_hash": record.secret_hash,
            "scopes": list(record.scopes),
            "rate_per_second": record.rate_per_second,
            "created_at": record.created_at,
            "revoked_at": record.revoked_at,
        }
        try:
            with self.db.write() as conn:
                conn.execute(t.api_keys.insert().values(**values))
        except IntegrityError as exc:
            raise Conflict(f"a key with id {record.id!r} already exists") from exc

    def get(self, key_id: str) -> KeyRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
        return None if row is None else _record(row)

    def for_workspace(
        self, workspace_id: str, *, include_revoked: bool = True
    ) -> Sequence[KeyRecord]:
        """The workspace's keys, oldest first."""
        query = select(t.api_keys).where(t.api_keys.c.workspace_id == workspace_id)
        if not include_revoked:
            query = query.where(t.api_keys.c.revoked_at.is_(None))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(t.api_keys.c.created_at, t.api_keys.c.id))
            return [_record(row) for row in rows]

    def revoke(self, workspace_id: str, key_id: str, at: float) -> KeyRecord:
        """Mark the key revoked at ``at``; revoking it again keeps the first time."""
        with self.db.write() as conn:
            conn.execute(
                update(t.api_keys)
                .where(
                    t.api_keys.c.id == key_id,
                    t.api_keys.c.workspace_id == workspace_id,
                    t.api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
            row = conn.execute(
                select(t.api_keys).where(
                    t.api_keys.c.id == key_id, t.api_keys.c.workspace_id == workspace_id
                )
            ).first()
        if row is None:
            raise NotFound(
                f"no key {key_id!r} in workspace {workspace_id!r}; "
                "`launchpoint keys list` shows the workspace's keys"
            )
        return _record(row)
