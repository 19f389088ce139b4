"""The calls of Segment's HTTP tracking API (segment.com: ``track``, ``identify``, ``batch``;
nothing to do with Launchpoint's own segments) and their mapping onto ``EventIn`` and
``UserIn``. Pure: the time of receipt and any stored user are passed in."""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from launchpoint.domain.records import EventIn, RecordId, UserIn, routable_user_id
from launchpoint.domain.timeutil import to_epoch, to_iso
from launchpoint.errors import ErrorDetail, InvalidInput

# Segment's limits; its own libraries split their batches to stay under them.
MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024

ITEM_ID_KEYS = ("item_id", "product_id", "id")
VALUE_KEYS = ("value", "revenue", "rating", "price")
# Where the call-level fields Launchpoint has no column for are kept, inside the event's context.
KEPT_KEY = "_segment"
# Mapped onto the event's own fields, or (writeKey) a secret that must not be stored.
_NOT_KEPT = frozenset(
    {
        "type",
        "event",
        "properties",
        "context",
        "userId",
        "messageId",
        "timestamp",
        "sentAt",
        "writeKey",
    }
)

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def event_type(name: str) -> str:
    """Launchpoint's type for a Segment event name: accents dropped, lower-cased, each run of
    characters other than letters and digits made one ``_``. "Product Viewed": product_viewed."""
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    text = _NOT_WORD.sub("_", text.lower()).strip("_")
    if not _EVENT_TYPE.match(text):
        raise ValueError(
            f"event name {name[:80]!r} gives the type {text[:80]!r}, which must start with a "
            "letter and hold at most 64 letters, digits and '_'"
        )
    return text


def corrected_timestamp(
    timestamp: float | None, sent_at: float | None, received_at: float
) -> float:
    """Segment's clock-skew rule: the device's clock is off by ``sentAt - received_at``, so
    ``timestamp + (received_at - sentAt)``; without ``sentAt`` the timestamp as given; without
    a timestamp, the time of receipt."""
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    return timestamp + (received_at - sent_at)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _in_range(epoch: float) -> bool:
    """Whether the time can be shown as a date (years 1 to 9999), as every response does."""
    try:
        to_iso(epoch)
    except (ValueError, OverflowError, OSError):
        return False
    return math.isfinite(epoch)


def _strict_json(value: Any) -> Any:
    """Refuse NaN and Infinity: Python's parser lets them through, but they are not JSON, and
    PostgreSQL would refuse to store them."""
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, TypeError):
        raise ValueError("NaN and Infinity are not JSON numbers; send null or a string") from None
    return value


def _epoch(value: Any) -> float | None:
    try:
        epoch = to_epoch(value, default_now=False)
    except OverflowError:
        epoch = math.inf
    if epoch is not None and not _in_range(epoch):
        raise ValueError("a timestamp must fall between the years 1 and 9999")
    return epoch


class SegmentCall(BaseModel):
    """The fields every Segment call shares. Unknown fields are allowed and kept."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    user_id: RecordId | None = Field(None, alias="userId")
    anonymous_id: RecordId | None = Field(
        None, alias="anonymousId", description="Used as the user id when there is no userId."
    )
    message_id: str | None = Field(
        None,
        alias="messageId",
        max_length=256,
        pattern=r"^[^\x00-\x1f]{1,256}$",
        description="The idempotency key.",
    )
    timestamp: float | None = Field(None, description="When it happened, by the device's clock.")
    sent_at: float | None = Field(
        None, alias="sentAt", description="When it was sent, by the device's clock."
    )
    context: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _json(cls, data: Any) -> Any:
        return _strict_json(data) if isinstance(data, dict) else data

    @field_validator("user_id", "anonymous_id", "message_id", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("user_id", "anonymous_id")
    @classmethod
    def _routable(cls, value: str | None) -> str | None:
        return None if value is None else routable_user_id(value)

    @field_validator("context", mode="before")
    @classmethod
    def _null_context(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("timestamp", "sent_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        return _epoch(value)

    @model_validator(mode="after")
    def _someone(self) -> SegmentCall:
        if self.user_id is None and self.anonymous_id is None:
            raise ValueError("a call needs a userId or an anonymousId")
        return self

    @property
    def launchpoint_user_id(self) -> str:
        user = self.user_id or self.anonymous_id
        assert user is not None  # checked by _someone
        return user


class TrackCall(SegmentCall):
    """``track``: a user did something. The body of ``POST /v1/track``."""

    type: Literal["track"] = "track"
    event: str = Field(..., min_length=1, description='The event name, e.g. "Product Viewed".')
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("properties", mode="before")
    @classmethod
    def _null_properties(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        event_type(value)
        return value


class IdentifyCall(SegmentCall):
    """``identify``: who the user is. The body of ``POST /v1/identify``."""

    type: Literal["identify"] = "identify"
    traits: dict[str, Any] = Field(default_factory=dict)

    @field_validator("traits", mode="before")
    @classmethod
    def _null_traits(cls, value: Any) -> Any:
        return {} if value is None else value


class BatchCall(BaseModel):
    """``batch``: many typed calls. The calls are checked one by one, so that one bad call is
    reported by its index while the others are stored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    batch: list[Any] = Field(
        ..., description='Calls, each with "type": "track" or "identify" and its fields.'
    )
    sent_at: float | None = Field(
        None, alias="sentAt", description="Applies to every call that has no sentAt of its own."
    )
    context: dict[str, Any] = Field(
        default_factory=dict, description="Merged under each call's own context."
    )

    @field_validator("sent_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        return _epoch(value)

    @field_validator("context", mode="before")
    @classmethod
    def _null_context(cls, value: Any) -> Any:
        return {} if value is None else _strict_json(value)


# -- mapping -----------------------------------------------------------------------------------


def _item_id(properties: Mapping[str, Any]) -> tuple[str, str] | None:
    for key in ITEM_ID_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return key, value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return key, str(value)
    return None


def _value(properties: Mapping[str, Any]) -> float | None:
    for key in VALUE_KEYS:
        value = properties.get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            continue
        if math.isfinite(number):
            return number
    return None


def _derived_message_id(call: TrackCall) -> str:
    """An id from the call's content, ``sentAt`` aside (libraries set it anew on each retry)."""
    content = call.model_dump(mode="json", by_alias=True, exclude={"sent_at"})
    content.pop("writeKey", None)
    payload = json.dumps(content, sort_keys=True, default=str)
    return "s:" + hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def _invalid(exc: ValidationError, names: Mapping[str, str]) -> InvalidInput:
    details = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        loc = names.get(field, field)
        details.append(ErrorDetail(loc, str(err["msg"]).removeprefix("Value error, ")))
    first = details[0]
    return InvalidInput(f"{first.loc}: {first.message}" if first.loc else first.message, details)


def track_to_event(
    call: TrackCall,
    *,
    received_at: float,
    sent_at: float | None = None,
    context: Mapping[str, Any] | None = None,
) -> EventIn:
    """The event a ``track`` call records. ``sent_at`` and ``context`` are a batch's own, used
    where the call has none (context: merged under the call's)."""
    sent = call.sent_at if call.sent_at is not None else sent_at
    merged_context = {**(context or {}), **call.context}
    kept = {
        key: value
        for key, value in call.model_dump(mode="json", by_alias=True, exclude_none=True).items()
        if key not in _NOT_KEPT and value != {}
    }
    if call.user_id is None:
        kept.pop("anonymousId", None)  # it is the event's user id
    if sent is not None and call.timestamp is not None:
        kept.update(originalTimestamp=to_iso(call.timestamp), sentAt=to_iso(sent))
    if kept:
        merged_context[KEPT_KEY] = kept
    timestamp = corrected_timestamp(call.timestamp, sent, received_at)
    if not _in_range(timestamp):
        raise InvalidInput(
            "timestamp: corrected for the clock skew that sentAt shows, it falls outside the "
            "years 1 to 9999; check sentAt",
            [ErrorDetail("timestamp", "out of range after clock-skew correction")],
        )
    item = _item_id(call.properties)
    message_id = call.message_id
    if message_id is None and call.timestamp is not None:
        message_id = _derived_message_id(call)
    try:
        return EventIn(
            message_id=message_id,
            user_id=call.launchpoint_user_id,
            item_id=item[1] if item else None,
            type=event_type(call.event),
            value=_value(call.properties),
            timestamp=timestamp,
            context=merged_context,
            properties=call.properties,
        )
    except ValidationError as exc:
        user = "userId" if call.user_id is not None else "anonymousId"
        names = {"user_id": user, "item_id": f"properties.{item[0] if item else 'item_id'}"}
        raise _invalid(exc, names) from None


def identify_to_user(call: IdentifyCall, stored: Mapping[str, Any] | None = None) -> UserIn:
    """The user after an ``identify``: the traits merged over the stored attributes (a trait
    replaces the attribute of its name, the others stay); consents and the personalisation
    switch are kept as stored."""
    base: Mapping[str, Any] = stored or {}
    try:
        return UserIn(
            id=call.launchpoint_user_id,
            attributes={**(base.get("attributes") or {}), **call.traits},
            consents=base.get("consents") or {},
            personalisation=base.get("personalisation", True),
        )
    except ValidationError as exc:
        raise _invalid(exc, {"id": "userId", "attributes": "traits"}) from None


# -- batches -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str


@dataclass
class BatchPlan:
    """A batch's calls sorted into what to store and what to refuse, each by its index."""

    events: list[tuple[int, EventIn]]
    identifies: list[tuple[int, IdentifyCall]]
    rejected: list[Rejection]


def call_size(call: Any) -> int:
    """The bytes of the call's JSON, without insignificant whitespace."""
    return len(json.dumps(call, separators=(",", ":"), ensure_ascii=False).encode())


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


def _json(value: Any) -> str:
    """How a JSON value's kind is named in a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    names = {str: "a string", int: "a number", float: "a number", list: "an array"}
    return names.get(type(value), "an object")


def plan_batch(
    batch: BatchCall, *, received_at: float, max_call_bytes: int = MAX_CALL_BYTES
) -> BatchPlan:
    plan = BatchPlan([], [], [])
    for index, raw in enumerate(batch.batch):
        if not isinstance(raw, dict):
            plan.rejected.append(Rejection(index, f"a call is a JSON object, not {_json(raw)}"))
            continue
        size = call_size(raw)
        if size > max_call_bytes:
            reason = f"the call is {size:,} bytes of JSON; a call may be at most {max_call_bytes:,}"
            plan.rejected.append(Rejection(index, reason))
            continue
        kind: Any = raw.get("type")
        try:
            if kind == "track":
                call = TrackCall.model_validate(raw)
                event = track_to_event(
                    call, received_at=received_at, sent_at=batch.sent_at, context=batch.context
                )
                plan.events.append((index, event))
            elif kind == "identify":
                plan.identifies.append((index, IdentifyCall.model_validate(raw)))
            else:
                shown = repr(kind)[:40] if isinstance(kind, str) else _json(kind)
                reason = f"type must be 'track' or 'identify', not {shown}"
                plan.rejected.append(Rejection(index, reason))
        except ValidationError as exc:
            plan.rejected.append(Rejection(index, _reason(exc)))
        except InvalidInput as exc:
            plan.rejected.append(Rejection(index, exc.message))
    return plan


def fold_identifies(
    calls: Sequence[tuple[int, IdentifyCall]], stored: Mapping[str, Mapping[str, Any]]
) -> tuple[list[UserIn], list[Rejection]]:
    """Apply identifies in order, each over the user as the previous ones left it (``stored``
    maps a user id to its stored row). Returns one user per id, and the calls refused."""
    users: dict[str, UserIn] = {}
    rejected = []
    for index, call in calls:
        uid = call.launchpoint_user_id
        current: Mapping[str, Any] | None = (
            users[uid].model_dump() if uid in users else stored.get(uid)
        )
        try:
            users[uid] = identify_to_user(call, current)
        except InvalidInput as exc:
            rejected.append(Rejection(index, exc.message))
    return list(users.values()), rejected
