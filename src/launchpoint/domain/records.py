"""The records a team loads: items, users and events, validated at the edge."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from launchpoint.domain.timeutil import to_epoch

_ID_PATTERN = r"^[^\x00-\x1f]{1,256}$"
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

RecordId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=_ID_PATTERN,
        description="Unique within its workspace; 1-256 printable characters.",
    ),
]

KNOWN_EVENT_TYPES = (
    "view",
    "click",
    "like",
    "save",
    "share",
    "purchase",
    "rate",
    "dismiss",
    "thumbs_up",
    "thumbs_down",
    "dwell",
    "search",
    "tag",
)


_USER_ROUTES = (
    "/ribbons",
    "/segments",
    "/profile",
    "/profile/reset",
    "/personalisation",
    "/consents",
    "/export",
    "/onboarding",
)


def routable_user_id(value: str) -> str:
    for suffix in _USER_ROUTES:
        if value.endswith(suffix):
            raise ValueError(f"a user id may not end with {suffix!r} (it names a route)")
    return value


def finite_json(value: Any, where: str = "") -> Any:
    """Refuse NaN and infinities anywhere in a JSON value: JSON has no such numbers, and
    PostgreSQL's json type rejects them."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'}: {value} is not a JSON number; send a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            finite_json(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            finite_json(item, f"{where}[{n}]")
    return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain the NUL character (\\u0000)")
    return value


class ItemIn(_Record):
    """An item of the catalogue. Unknown keys belong in ``attributes``."""

    id: RecordId

    @field_validator("title", "text")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        return no_nul(value)

    @field_validator("id")
    @classmethod
    def _routable(cls, value: str) -> str:
        if value.endswith("/related"):
            raise ValueError("an item id may not end with '/related' (it names a route)")
        return value

    title: str = Field("", max_length=1024)
    text: str = Field("", max_length=65536)
    categories: list[str] = Field(default_factory=list, description="Categories or tags.")
    attributes: dict[str, Any] = Field(default_factory=dict)
    available: bool = True
    created_at: float | None = Field(
        None, description="ISO 8601 or epoch seconds; default: when first stored."
    )
    sensitive: list[str] = Field(default_factory=list, description="Sensitive-topic labels.")

    @field_validator("created_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        return to_epoch(value, default_now=False)

    @field_validator("attributes")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        return finite_json(value)  # type: ignore[no-any-return]

    @field_validator("categories", "sensitive", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split("|") if part.strip()]
        return value


class UserIn(_Record):
    """A user: explicit attributes, consents per sensitive topic, personalisation switch."""

    @field_validator("id")
    @classmethod
    def _routable(cls, value: str) -> str:
        return routable_user_id(value)

    @field_validator("attributes")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        return finite_json(value)  # type: ignore[no-any-return]

    id: RecordId
    attributes: dict[str, Any] = Field(default_factory=dict)
    consents: dict[str, bool] = Field(default_factory=dict)
    personalisation: bool = True
    created_at: float | None = Field(
        None, description="ISO 8601 or epoch seconds; default: when first stored."
    )

    @field_validator("created_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        return to_epoch(value, default_now=False)


class EventIn(_Record):
    """Something a user did, optionally to an item. ``message_id`` makes it idempotent; when it
    is absent, one is derived from the event's content, timestamp included, so re-sending an
    event with the same timestamp is a no-op. An event without a timestamp is stamped on
    arrival, so retries of such events need a ``message_id``."""

    message_id: str | None = Field(None, max_length=256, pattern=_ID_PATTERN)
    user_id: RecordId
    item_id: RecordId | None = None
    type: str = Field(..., description="view, click, like, save, share, purchase, rate, ...")
    value: float | None = None
    timestamp: float | None = Field(
        None, validate_default=True, description="ISO 8601 or epoch seconds; default now."
    )
    context: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        return to_epoch(value)

    @field_validator("user_id")
    @classmethod
    def _routable(cls, value: str) -> str:
        return routable_user_id(value)

    @field_validator("context", "properties")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        return finite_json(value)  # type: ignore[no-any-return]

    @field_validator("value")
    @classmethod
    def _finite_value(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{value} is not a number an event can carry; send a finite number")
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        value = value.strip().lower()
        if not _EVENT_TYPE.match(value):
            raise ValueError(
                f"event type {value!r} must be a lowercase word (letters, digits, _), "
                f"e.g. {', '.join(KNOWN_EVENT_TYPES[:6])}"
            )
        return value

    def resolved_message_id(self) -> str:
        if self.message_id:
            return self.message_id
        payload = json.dumps(
            [self.user_id, self.item_id, self.type, self.value, self.timestamp, self.properties],
            sort_keys=True,
            default=str,
        )
        return "h:" + hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()
