"""API keys per workspace, their scopes, and per-key rate limits. No HTTP here: the API's
``api/auth.py`` decides which scope each route needs and turns failures into responses."""

from launchpoint.security.authenticator import Authenticator, Principal
from launchpoint.security.keys import (
    NewKey,
    create_key,
    generate_key,
    hash_secret,
    key_id_of,
    parse_key,
    secret_matches,
)
from launchpoint.security.ratelimit import RateLimiter, TokenBucket, retry_after_seconds
from launchpoint.security.scopes import Scope, grants, parse_scopes

__all__ = [
    "Authenticator",
    "NewKey",
    "Principal",
    "RateLimiter",
    "Scope",
    "TokenBucket",
    "create_key",
    "generate_key",
    "grants",
    "hash_secret",
    "key_id_of",
    "parse_key",
    "parse_scopes",
    "retry_after_seconds",
    "secret_matches",
]
