"""The per-sender token bucket, driven by a fake clock."""

from __future__ import annotations

import pytest

from bot.answers.notices import RATE_LIMITED as RATE_LIMIT_MESSAGE
from bot.gateway.ratelimit import RateLimiter


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_burst_is_allowed_then_refused(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(5)] == [True, True, True, False, False]


def test_tokens_refill_over_time(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=0.5, burst=2, clock=clock)  # one message every two seconds
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    clock.advance(1.0)
    assert not limiter.allow("a")
    clock.advance(1.0)
    assert limiter.allow("a") and not limiter.allow("a")


def test_refill_is_capped_at_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.allow("a")
    clock.advance(3600)
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]


def test_fractional_refills_add_up_to_a_token(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=0.1, burst=1, clock=clock)
    assert limiter.allow("a") and not limiter.allow("a")
    for _ in range(10):
        clock.advance(1.0)
        allowed = limiter.allow("a")
    assert allowed


def test_refused_messages_do_not_delay_the_refill(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.allow("a")
    for _ in range(3):
        clock.advance(0.25)
        assert not limiter.allow("a")  # refused at 0.25, 0.5 and 0.75 s; the retries cost nothing
    clock.advance(0.25)
    assert limiter.allow("a")


def test_senders_are_independent(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.allow("whatsapp:+5215512345678")
    assert not limiter.allow("whatsapp:+5215512345678")
    assert limiter.allow("whatsapp:+34612345678")
    assert limiter.allow("web:session-1")


def test_retry_after(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=0.5, burst=1, clock=clock)
    assert limiter.retry_after("a") == 0.0  # unknown sender
    assert limiter.allow("a")
    assert limiter.retry_after("a") == pytest.approx(2.0)
    clock.advance(1.5)
    assert limiter.retry_after("a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.retry_after("a") == 0.0
    assert limiter.allow("a")


def test_retry_after_does_not_track_unknown_senders(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    limiter.retry_after("a")
    assert len(limiter) == 0


def test_memory_is_bounded_by_evicting_the_least_recently_seen(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=0.001, burst=1, clock=clock, max_senders=3)
    for key in ("a", "b", "c"):
        assert limiter.allow(key)
    assert not limiter.allow("a")  # "a" is now the most recently seen; "b" the least
    assert limiter.allow("d")
    assert len(limiter) == 3
    assert limiter.allow("b")  # evicted, so it starts over with a full bucket
    assert not limiter.allow("a")  # kept, still limited
    for i in range(1000):
        limiter.allow(f"sender-{i}")
    assert len(limiter) == 3


@pytest.mark.parametrize(
    ("rate", "burst", "max_senders"),
    [(0.0, 1, 1), (-1.0, 1, 1), (1.0, 0, 1), (1.0, 1, 0)],
)
def test_nonsense_settings_are_rejected(rate: float, burst: int, max_senders: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst, max_senders=max_senders)


def test_default_clock_is_monotonic_time() -> None:
    limiter = RateLimiter(rate=0.001, burst=1)
    assert limiter.allow("a") and not limiter.allow("a")


def test_message_is_friendly_spanish() -> None:
    assert (
        RATE_LIMIT_MESSAGE
        == "Estás enviando mensajes muy rápido. Espera unos segundos y vuelve a intentarlo."
    )
