"""Timestamps are stored as float seconds since the Unix epoch, UTC; these convert at the edges."""

from __future__ import annotations

import time
from datetime import UTC, datetime


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
        seconds = float(value)
        # 1e11 s is the year 5138: anything larger is an epoch in milliseconds.
        return seconds / 1000.0 if abs(seconds) > 1e11 else seconds
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_epoch(float(text))
        except ValueError:
            pass
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a timestamp: use ISO 8601 (2024-05-01T12:00:00Z) "
                "or seconds since the Unix epoch"
            ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def to_iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")
