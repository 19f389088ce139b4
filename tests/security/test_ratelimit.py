from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from launchpoint.security import RateLimiter, TokenBucket, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_waits_for_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=2.0, burst_seconds=1.5, clock=clock)
    assert [limiter.check("k", None) for _ in range(3)] == [0.0, 0.0, 0.0]  # 3 = 2/s x 1.5 s
    assert limiter.check("k", None) == 0.5  # one token comes every half second
    clock.now += 0.5
    assert limiter.check("k", None) == 0.0
    assert limiter.check("k", None) == 0.5


def test_keys_have_their_own_buckets_and_rates() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=1.0, burst_seconds=1.0, clock=clock)
    assert limiter.check("a", None) == 0.0
    assert limiter.check("a", None) == 1.0
    assert limiter.check("b", None) == 0.0  # a's bucket is a's
    assert limiter.check("fast", 10.0) == 0.0
    assert limiter.check("fast", 10.0) == 0.0


def test_a_rate_of_zero_means_no_limit() -> None:
    limiter = RateLimiter(default_rate=0.0, burst_seconds=1.0, clock=FakeClock())
    assert all(limiter.check("k", None) == 0.0 for _ in range(10_000))


def test_a_bucket_holds_at_least_one_token_whatever_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=1.0, burst_seconds=1.0, clock=clock)
    assert limiter.check("slow", 0.01) == 0.0
    assert limiter.check("slow", 0.01) == 100.0


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert [retry_after_seconds(w) for w in (0.001, 0.5, 1.0, 1.01, 59.2)] == [1, 1, 1, 2, 60]


@given(
    rate=st.floats(0.1, 1000),
    burst=st.floats(0.01, 10),
    steps=st.lists(st.floats(0, 5), max_size=200),
)
def test_a_bucket_never_allows_more_than_its_burst_plus_its_rate_over_the_time(
    rate: float, burst: float, steps: list[float]
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=rate, burst_seconds=burst, clock=clock)
    start, allowed = clock.now, 0
    for step in steps:
        clock.now += step
        wait = limiter.check("k", None)
        assert wait >= 0.0
        if wait == 0.0:
            allowed += 1
        else:
            assert wait <= 1.0 / rate + 1e-9  # never longer than one token takes
    capacity = max(1.0, rate * burst)
    assert allowed <= capacity + rate * (clock.now - start) + 1e-6


def test_a_clock_stepping_back_refills_nothing() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1.0, tokens=0.0, updated_at=100.0)
    assert bucket.take(50.0) == 1.0
    assert bucket.take(100.5) == 0.5
