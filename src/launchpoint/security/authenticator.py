"""From a presented key to the principal it stands for: its workspace, scopes and rate.

Verified keys are kept in memory for ``cache_seconds``, so serving pays a dictionary look-up
and one SHA-256, not a database round trip; when an entry expires its row is read again, so a
key revoked by any process stops working within ``cache_seconds`` everywhere."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from launchpoint.errors import Unauthorized
from launchpoint.security.keys import ParsedKey, parse_key, secret_matches
from launchpoint.security.scopes import Scope, grants
from launchpoint.storage.keys import KeyRecord, KeyStore

BOOTSTRAP_KEY_ID = "admin-key-setting"
MAX_CACHED_KEYS = 10_000
CREATE_HINT = "create one with `launchpoint keys create --scope ...`"
_KNOWN_SCOPES = frozenset(s.value for s in Scope)


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key of one workspace."""

    key_id: str
    workspace_id: str
    scopes: frozenset[Scope]
    rate_per_second: float | None = None

    def allows(self, needed: Scope) -> bool:
        return grants(self.scopes, needed)


@dataclass(frozen=True)
class _Cached:
    record: KeyRecord | None  # None: no key has this id
    principal: Principal | None  # made once, not per request
    expires_at: float


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _parse(token: str) -> ParsedKey:
    parsed = parse_key(token)
    if parsed is None:
        raise Unauthorized(
            "the API key is malformed: keys look like lp_<id>_<secret>; " + CREATE_HINT
        )
    return parsed


class Authenticator:
    """Checks keys against the store, and against the bootstrap admin key from settings."""

    def __init__(
        self,
        store: KeyStore,
        *,
        cache_seconds: float = 1.0,
        bootstrap_key: str = "",
        bootstrap_workspace: str = "default",
        clock: Callable[[], float] = time.monotonic,
        max_cached: int = MAX_CACHED_KEYS,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.max_cached = max_cached
        self.clock = clock
        # Digests, so the comparison below takes the same time whatever the lengths.
        self._bootstrap_digest = _digest(bootstrap_key) if bootstrap_key else None
        self._bootstrap = Principal(BOOTSTRAP_KEY_ID, bootstrap_workspace, frozenset({Scope.ADMIN}))
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal:
        """The key's principal, reading the store when the cache cannot answer."""
        principal = self.authenticate_cached(token)
        if principal is not None:
            return principal
        parsed = _parse(token)
        record = self.store.get(parsed.key_id)
        entry = _Cached(record, _principal(record), self.clock() + self.cache_seconds)
        self._remember(parsed.key_id, entry)
        return self._verify(entry, parsed.secret)

    def authenticate_cached(self, token: str) -> Principal | None:
        """The key's principal without touching the store; None when the store must be read.
        Raises Unauthorized for a key known to be bad. Cheap enough for the event loop."""
        if self._bootstrap_digest is not None and hmac.compare_digest(
            _digest(token), self._bootstrap_digest
        ):
            return self._bootstrap
        parsed = _parse(token)
        with self._lock:
            cached = self._cache.get(parsed.key_id)
        if cached is None or cached.expires_at <= self.clock():
            return None
        return self._verify(cached, parsed.secret)

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache, so this process sees a revocation at once."""
        with self._lock:
            self._cache.pop(key_id, None)

    def _remember(self, key_id: str, entry: _Cached) -> None:
        if self.cache_seconds <= 0:
            return
        with self._lock:
            self._cache[key_id] = entry
            self._cache.move_to_end(key_id)
            # Unknown ids are cached too (a client retrying a bad key costs no query), so the
            # cache is bounded: the oldest entries go first.
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)

    def _verify(self, entry: _Cached, secret: str) -> Principal:
        record = entry.record
        # An unknown id and a wrong secret read the same, so ids cannot be probed.
        if record is None or not secret_matches(secret, record.secret_hash):
            raise Unauthorized("the API key is not valid; " + CREATE_HINT)
        if entry.principal is None:
            raise Unauthorized(f"the API key {record.id!r} was revoked; " + CREATE_HINT)
        return entry.principal


def _principal(record: KeyRecord | None) -> Principal | None:
    """What a live key stands for; None for no key or a revoked one."""
    if record is None or record.revoked:
        return None
    return Principal(
        key_id=record.id,
        workspace_id=record.workspace_id,
        # A scope this version does not know (written by a newer one) grants nothing.
        scopes=frozenset(Scope(s) for s in record.scopes if s in _KNOWN_SCOPES),
        rate_per_second=record.rate_per_second,
    )
