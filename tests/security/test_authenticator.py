from __future__ import annotations

from pathlib import Path

import pytest

from launchpoint.errors import Unauthorized
from launchpoint.security import Authenticator, Principal, Scope, create_key
from launchpoint.security.authenticator import BOOTSTRAP_KEY_ID, MAX_CACHED_KEYS
from launchpoint.storage import tables as t
from launchpoint.storage.database import Database
from launchpoint.storage.keys import KeyRecord, KeyStore


class CountingStore(KeyStore):
    """A real store that counts its reads, to show what the cache saves."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.reads = 0

    def get(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        return super().get(key_id)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    db = Database(f"sqlite:///{tmp_path / 'keys.db'}")
    db.migrate()
    return CountingStore(db)


def test_a_key_becomes_its_principal(store: CountingStore) -> None:
    key = create_key(store, "shop", ["serve"], rate_per_second=5.0)
    principal = Authenticator(store).authenticate(key.token)
    assert principal == Principal(key.record.id, "shop", frozenset({Scope.SERVE}), 5.0)
    assert principal.allows(Scope.SERVE) and not principal.allows(Scope.INGEST)


def test_a_verified_key_is_served_from_the_cache_until_it_expires(store: CountingStore) -> None:
    key = create_key(store, "shop", ["serve"])
    clock = FakeClock()
    auth = Authenticator(store, cache_seconds=1.0, clock=clock)
    assert auth.authenticate_cached(key.token) is None  # nothing known yet: read the store
    auth.authenticate(key.token)
    for _ in range(100):
        assert auth.authenticate_cached(key.token) is not None
        auth.authenticate(key.token)
    assert store.reads == 1
    clock.now += 1.0
    assert auth.authenticate_cached(key.token) is None
    auth.authenticate(key.token)
    assert store.reads == 2


def test_a_revoked_key_stops_working_when_its_cache_entry_expires(store: CountingStore) -> None:
    key = create_key(store, "shop", ["admin"])
    clock = FakeClock()
    auth = Authenticator(store, cache_seconds=1.0, clock=clock)
    auth.authenticate(key.token)
    store.revoke("shop", key.record.id, at=123.0)  # as another process would
    clock.now += 0.5
    assert auth.authenticate(key.token).key_id == key.record.id  # still cached
    clock.now += 0.5
    with pytest.raises(Unauthorized, match="was revoked"):
        auth.authenticate(key.token)
    with pytest.raises(Unauthorized, match="was revoked"):  # and the refusal is cached
        auth.authenticate_cached(key.token)


def test_forget_makes_this_process_see_a_revocation_at_once(store: CountingStore) -> None:
    key = create_key(store, "shop", ["admin"])
    auth = Authenticator(store, cache_seconds=60.0, clock=FakeClock())
    auth.authenticate(key.token)
    store.revoke("shop", key.record.id, at=1.0)
    auth.forget(key.record.id)
    with pytest.raises(Unauthorized, match="was revoked"):
        auth.authenticate(key.token)


def test_with_no_cache_every_check_reads_the_store(store: CountingStore) -> None:
    key = create_key(store, "shop", ["admin"])
    auth = Authenticator(store, cache_seconds=0.0)
    for _ in range(3):
        assert auth.authenticate_cached(key.token) is None
        auth.authenticate(key.token)
    assert store.reads == 3


def test_a_wrong_secret_and_an_unknown_id_read_the_same(store: CountingStore) -> None:
    key = create_key(store, "shop", ["admin"])
    auth = Authenticator(store, clock=FakeClock())
    wrong_secret = key.token[:-4] + ("AAAA" if not key.token.endswith("AAAA") else "BBBB")
    unknown_id = key.token.replace(key.record.id, "0123456789ab")
    messages = set()
    for token in (wrong_secret, unknown_id):
        with pytest.raises(Unauthorized) as raised:
            auth.authenticate(token)
        messages.add(raised.value.message)
    assert len(messages) == 1 and "not valid" in messages.pop()
    # The right key still works once its id is cached from the wrong attempt.
    assert auth.authenticate(key.token).workspace_id == "shop"


def test_an_unknown_id_is_cached_too(store: CountingStore) -> None:
    auth = Authenticator(store, clock=FakeClock())
    unknown = "lp_0123456789ab_" + "x" * 43
    for _ in range(5):
        with pytest.raises(Unauthorized):
            auth.authenticate(unknown)
    assert store.reads == 1


def test_a_malformed_key_is_refused_without_reading_the_store(store: CountingStore) -> None:
    auth = Authenticator(store)
    with pytest.raises(Unauthorized, match="malformed"):
        auth.authenticate("Bearer something")
    assert store.reads == 0


def test_the_cache_is_bounded_and_drops_the_oldest_first(store: CountingStore) -> None:
    auth = Authenticator(store, clock=FakeClock(), max_cached=3)
    ids = [f"{n:012x}" for n in range(5)]
    for key_id in ids:
        with pytest.raises(Unauthorized):
            auth.authenticate(f"lp_{key_id}_" + "x" * 43)
    assert list(auth._cache) == ids[2:]
    assert Authenticator(store).max_cached == MAX_CACHED_KEYS


def test_the_bootstrap_key_is_an_admin_of_its_workspace(store: CountingStore) -> None:
    auth = Authenticator(
        store, bootstrap_key="a-long-enough-bootstrap-admin-key!", bootstrap_workspace="w1"
    )
    principal = auth.authenticate("a-long-enough-bootstrap-admin-key!")
    assert principal == Principal(BOOTSTRAP_KEY_ID, "w1", frozenset({Scope.ADMIN}))
    with pytest.raises(Unauthorized):
        auth.authenticate("a-long-enough-bootstrap-admin-key")
    assert store.reads == 0


def test_an_empty_bootstrap_key_matches_nothing(store: CountingStore) -> None:
    auth = Authenticator(store, bootstrap_key="")
    with pytest.raises(Unauthorized, match="malformed"):
        auth.authenticate("")


def test_a_scope_this_version_does_not_know_grants_nothing(store: CountingStore) -> None:
    key = create_key(store, "shop", ["serve"])
    with store.db.write() as conn:  # as a newer version, with a scope this one lacks, would
        conn.execute(
            t.api_keys.update()
            .where(t.api_keys.c.id == key.record.id)
            .values(scopes=["serve", "superuser"])
        )
    assert Authenticator(store).authenticate(key.token).scopes == {Scope.SERVE}
