"""Launchpoint's exceptions.

Every error the engine raises on purpose is a ``LaunchpointError``; the API turns each into
one JSON envelope with the status the class carries::

    LaunchpointError            500  something went wrong inside the engine
    ├── InvalidInput            422  the request or file is malformed (what, where, allowed)
    │   └── RuleError           422  a segment rule does not parse or does not type-check
    ├── Unauthorized            401  no API key, or one that is malformed, unknown or revoked
    ├── Forbidden               403  a valid key whose workspace or scopes do not reach this
    ├── NotFound                404  an id that does not exist in this workspace
    ├── Conflict                409  the request contradicts stored state
    ├── PayloadTooLarge         413  a request body over its size limit
    └── TooManyRequests         429  a key over its rate limit; ``retry_after`` says when to retry
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class ErrorDetail:
    """One precise problem: where it is (``loc``) and what is wrong with it."""

    loc: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "message": self.message, **self.extra}


class LaunchpointError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "details": [d.as_dict() for d in self.details],
        }


class InvalidInput(LaunchpointError):
    status = 422
    code = "invalid_input"


class RuleError(InvalidInput):
    """A rule that cannot be parsed or checked; ``details`` point at the offending token."""

    code = "invalid_rule"


class NotFound(LaunchpointError):
    status = 404
    code = "not_found"


class Conflict(LaunchpointError):
    status = 409
    code = "conflict"


class PayloadTooLarge(LaunchpointError):
    status = 413
    code = "payload_too_large"


class Unauthorized(LaunchpointError):
    status = 401
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        # RFC 9110: a 401 names the scheme the client should use.
        return {"WWW-Authenticate": 'Bearer realm="launchpoint"'}


class Forbidden(LaunchpointError):
    status = 403
    code = "forbidden"


class TooManyRequests(LaunchpointError):
    status = 429
    code = "rate_limited"

    def __init__(
        self, message: str, retry_after: int, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(message, details)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
