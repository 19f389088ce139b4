"""The api_keys table, on every backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from launchpoint.errors import Conflict, NotFound
from launchpoint.storage.database import Database
from launchpoint.storage.keys import KeyRecord, KeyStore


@pytest.fixture
def store(backend_url: str) -> Iterator[KeyStore]:
    db = Database(backend_url)
    db.migrate()
    yield KeyStore(db)
    db.dispose()


def _record(workspace: str, created_at: float = 1.0, **changes: object) -> KeyRecord:
    values: dict[str, object] = {
        "id": uuid.uuid4().hex[:12],
        "workspace_id": workspace,
        "name": "web",
        "secret_hash": "sha256:" + "0" * 64,
        "scopes": ("ingest", "serve"),
        "rate_per_second": None,
        "created_at": created_at,
    }
    values.update(changes)
    return KeyRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def ws() -> str:
    # Unique per test, so tests sharing one PostgreSQL database never meet.
    return f"w{uuid.uuid4().hex[:12]}"


def test_a_stored_key_reads_back_as_it_was(store: KeyStore, ws: str) -> None:
    record = _record(ws, rate_per_second=2.5)
    store.insert(record)
    assert store.get(record.id) == record
    assert store.get("no-such-key") is None


def test_an_id_is_stored_once(store: KeyStore, ws: str) -> None:
    record = _record(ws)
    store.insert(record)
    with pytest.raises(Conflict, match=record.id):
        store.insert(_record(ws, id=record.id, name="other"))
    assert store.get(record.id) == record


def test_a_workspace_lists_its_own_keys_oldest_first(store: KeyStore, ws: str) -> None:
    other = f"{ws}-other"
    newer, older, foreign = _record(ws, 20.0), _record(ws, 10.0), _record(other, 5.0)
    for record in (newer, older, foreign):
        store.insert(record)
    assert list(store.for_workspace(ws)) == [older, newer]
    assert list(store.for_workspace(other)) == [foreign]
    assert list(store.for_workspace(f"{ws}-none")) == []


def test_revoking_keeps_the_first_time_and_can_hide_revoked_keys(store: KeyStore, ws: str) -> None:
    kept, gone = _record(ws, 1.0), _record(ws, 2.0)
    store.insert(kept)
    store.insert(gone)
    revoked = store.revoke(ws, gone.id, at=50.0)
    assert revoked.revoked_at == 50.0 and revoked.revoked
    assert store.revoke(ws, gone.id, at=99.0).revoked_at == 50.0
    assert store.get(gone.id) == revoked
    assert list(store.for_workspace(ws, include_revoked=False)) == [kept]
    assert [r.id for r in store.for_workspace(ws)] == [kept.id, gone.id]


def test_a_key_cannot_be_revoked_through_another_workspace(store: KeyStore, ws: str) -> None:
    record = _record(ws)
    store.insert(record)
    with pytest.raises(NotFound, match="launchpoint keys list"):
        store.revoke(f"{ws}-other", record.id, at=5.0)
    assert store.get(record.id) == record
    with pytest.raises(NotFound):
        store.revoke(ws, "no-such-key", at=5.0)
