"""Timestamps are stored as float seconds since the Unix epoch, UTC; these convert at the edges."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

MIN_EPOCH = -62135596800.0  # 0001-01-01T00:00:00Z
MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z


def to_epoch(
    value: datetime | float | int | str | None, *, default_now: bool = True
) -> float | None:
    """Accept a datetime, an epoch number (seconds, or milliseconds when it is that large) or an
    ISO 8601 string; naive datetimes are taken as UTC."""
    if value is None or value == "":
        return time.time() if default_now else None
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        # 1e11 s is the year 5138: anything larger is an epoch in milliseconds.
        if abs(seconds) > 1e11:
            seconds /= 1000.0
        return _in_calendar(seconds, value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            return to_epoch(number)
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a timestamp: use ISO 8601 (2024-05-01T12:00:00Z) "
                "or seconds since the Unix epoch"
            ) from exc
    if not isinstance(value, datetime):
        raise ValueError(
            f"a timestamp must be an ISO 8601 string or a number of seconds, not "
            f"{type(value).__name__}"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _in_calendar(value.timestamp(), value)


def _in_calendar(seconds: float, given: object) -> float:
    if not (MIN_EPOCH <= seconds <= MAX_EPOCH):
        raise ValueError(f"{given!r} is not a timestamp between the years 1 and 9999")
    return seconds


def to_iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")
