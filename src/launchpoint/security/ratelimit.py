"""Token buckets, one per key. Buckets live in this process: with several workers each keeps
its own, so a key may reach ``workers x rate`` in total."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``rate`` tokens a second, up to ``capacity``; a request takes one."""

    rate: float
    capacity: float
    tokens: float
    updated_at: float

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one will be there."""
        # A clock that steps back (it should not: we use a monotonic one) refills nothing.
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated_at) * self.rate)
        self.updated_at = max(self.updated_at, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """The ``Retry-After`` header's whole seconds: rounded up, and at least 1."""
    return max(1, math.ceil(wait))


class RateLimiter:
    """Buckets by key id. A bucket starts full, so a new key (or a restarted server) can send
    its burst at once."""

    def __init__(
        self,
        *,
        default_rate: float,
        burst_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default_rate = default_rate
        self.burst_seconds = burst_seconds
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def rate_for(self, rate_per_second: float | None) -> float:
        """The key's own rate, else the default; 0 means no limit."""
        return self.default_rate if rate_per_second is None else rate_per_second

    def check(self, key_id: str, rate_per_second: float | None) -> float:
        """Take one token from the key's bucket: 0.0 if allowed, else seconds to wait."""
        rate = self.rate_for(rate_per_second)
        if rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None or bucket.rate != rate:
                capacity = max(1.0, rate * self.burst_seconds)
                bucket = TokenBucket(rate, capacity, capacity, now)
                self._buckets[key_id] = bucket
            return bucket.take(now)
