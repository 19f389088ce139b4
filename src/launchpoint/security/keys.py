"""API keys: ``lp_<id>_<secret>``. The id is public (it names the key in lists and logs); the
secret is shown once, when the key is made, and only its hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from launchpoint.errors import Conflict, InvalidInput
from launchpoint.security.scopes import Scope, parse_scopes
from launchpoint.storage.keys import KeyRecord, KeyStore

KEY_PREFIX = "lp"
ID_BYTES = 6  # 12 hex characters: the id only has to be unique, a collision is retried
SECRET_BYTES = 32  # 256 random bits
HASH_SCHEME = "sha256"
_KEY = re.compile(r"^lp_(?P<id>[0-9a-f]{8,32})_(?P<secret>[A-Za-z0-9_\-]{20,128})$")


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``token`` is what the client sends, and is never stored."""

    token: str
    record: KeyRecord


def parse_key(token: str) -> ParsedKey | None:
    """The id and secret of a well-formed key, else None."""
    match = _KEY.match(token)
    if match is None:
        return None
    return ParsedKey(match["id"], match["secret"])


def hash_secret(secret: str) -> str:
    # A plain SHA-256 is enough here, and chosen on purpose: password hashes (scrypt, PBKDF2)
    # slow down guessing of secrets people chose, but these secrets carry 256 random bits, so
    # no guess can succeed, and a slow hash would only hand an attacker a cheap way to burn
    # our CPU with made-up keys. The scheme is stored with the hash so it can change later.
    return f"{HASH_SCHEME}:{hashlib.sha256(secret.encode()).hexdigest()}"


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    if not stored_hash.startswith(f"{HASH_SCHEME}:"):
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def generate_key(
    workspace_id: str,
    scopes: Iterable[str | Scope],
    *,
    name: str = "",
    rate_per_second: float | None = None,
    now: float | None = None,
) -> NewKey:
    """A new key and the record to store for it (nothing is stored here)."""
    held = parse_scopes(str(s) for s in scopes)
    if rate_per_second is not None and not rate_per_second > 0:
        raise InvalidInput(
            f"rate_per_second must be more than 0, not {rate_per_second}; "
            "leave it out to use the rate_limit_per_second setting"
        )
    key_id = secrets.token_hex(ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    record = KeyRecord(
        id=key_id,
        workspace_id=workspace_id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=tuple(sorted(s.value for s in held)),
        rate_per_second=rate_per_second,
        created_at=time.time() if now is None else now,
    )
    return NewKey(f"{KEY_PREFIX}_{key_id}_{secret}", record)


def create_key(
    store: KeyStore,
    workspace_id: str,
    scopes: Iterable[str | Scope],
    *,
    name: str = "",
    rate_per_second: float | None = None,
) -> NewKey:
    """Make a key and store it; returns the token, which cannot be recovered afterwards."""
    scopes = list(scopes)
    for _ in range(3):  # 48-bit ids: a second collision in a row means something else is wrong
        key = generate_key(workspace_id, scopes, name=name, rate_per_second=rate_per_second)
        try:
            store.insert(key.record)
        except Conflict:
            continue
        return key
    raise Conflict("could not find a free key id after 3 tries; is the random source broken?")


def key_id_of(text: str) -> str:
    """A key's id from the id itself or from a whole key, as people paste either."""
    parsed = parse_key(text.strip())
    return parsed.key_id if parsed is not None else text.strip()
