"""When the engine polls a feed next: learned intervals, server hints, backoff, deactivation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import FetchError
from bot.feeds.fetch import FetchResult, RateLimitedError
from bot.feeds.guard import first_internal, resolves_internal
from bot.feeds.policy import (
    PollPolicy,
    decide,
    failure_delay,
    learned_interval,
    publishing_rate,
    success_delay,
)
from bot.feeds.poll import PollResult
from bot.models import Article, FeedSpec

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = PollPolicy()
FEED = FeedSpec(id="f", url="https://example.org/rss", interval=300)
HOURLY = FeedSpec(id="h", url="https://example.org/hourly", interval=3600)


def _response(**fields: object) -> FetchResult:
    base: dict[str, object] = {"status": 200, "content": b"", "etag": None,
                               "last_modified": None, "not_modified": False,
                               "url": FEED.url or ""}
    return FetchResult(**{**base, **fields})  # type: ignore[arg-type]


def _articles(*ages: timedelta | None) -> tuple[Article, ...]:
    return tuple(Article(outlet="X", title=f"t{i}", text="", published=None if age is None
                         else NOW - age) for i, age in enumerate(ages))


LEARNED = [
    # (items, spread from the oldest counted item to now, expected interval in seconds)
    (20, timedelta(hours=10), 900.0),          # a 30-minute mean gap, polled every 15 min
    (20, timedelta(minutes=20), 60.0),         # a 1-minute gap: held at the 60 s minimum
    (10, timedelta(days=10), 3600.0),          # a day apart: held at the one-hour maximum
    (4, timedelta(hours=2), 900.0),            # 30 minutes apart
]


@pytest.mark.parametrize(("items", "spread", "expected"), LEARNED)
def test_learned_interval_is_half_the_mean_gap_within_bounds(
        items: int, spread: timedelta, expected: float) -> None:
    """The learned interval is half the mean gap between items, within the policy's bounds."""
    now = NOW.timestamp()
    assert learned_interval(now - spread.total_seconds(), items, now=now,
                            policy=POLICY) == pytest.approx(expected)


@pytest.mark.parametrize(("own", "expected"), [(300.0, 300.0), (30.0, 30.0), (7200.0, 3600.0)])
def test_a_feeds_own_interval_is_its_longest_wait(own: float, expected: float) -> None:
    """A quiet feed waits at most its own interval (held to the max); below the min it rules."""
    now = NOW.timestamp()
    assert learned_interval(now - 10 * 86_400, 10, now=now, policy=POLICY,
                            feed_interval=own) == expected
    assert POLICY.bounds(own) == (min(60.0, expected), expected)


def test_publishing_rate_counts_the_newest_dated_items_only() -> None:
    """The rate uses at most 20 of the newest dated items, ignoring undated and future ones."""
    ages = [timedelta(minutes=10 * i) for i in range(1, 31)]
    published = [a.published for a in _articles(*ages, None, -timedelta(hours=1))]
    since, count = publishing_rate(published, now=NOW.timestamp()) or (0.0, 0)
    assert count == 20 and since == (NOW - timedelta(minutes=200)).timestamp()
    assert publishing_rate([NOW], now=NOW.timestamp()) is None


def test_decide_learns_from_a_fresh_document() -> None:
    """A 200 with dated items stores the rate and schedules within 10 % of the learned interval."""
    result = PollResult(HOURLY, _articles(*(timedelta(minutes=30 * i) for i in range(1, 21))),
                        response=_response())
    decision = decide(result, now=NOW.timestamp(), policy=POLICY, rng=random.Random(1))
    assert float(decision.fields["interval"]) == pytest.approx(900.0, abs=0.1)
    assert decision.fields["rate_items"] == "20" and not decision.deactivate
    assert 810.0 <= decision.delay <= 990.0


def test_decide_keeps_learning_from_the_stored_rate_on_304() -> None:
    """A 304 recomputes the interval from the stored rate, so a quiet feed slows down."""
    since = (NOW - timedelta(hours=20)).timestamp()
    result = PollResult(HOURLY, not_modified=True, response=_response(status=304,
                                                                      not_modified=True),
                        state={"rate_since": f"{since:.0f}", "rate_items": "20"})
    decision = decide(result, now=NOW.timestamp(), policy=POLICY, rng=random.Random(2))
    assert float(decision.fields["interval"]) == pytest.approx(1800.0, abs=0.1)


def test_decide_without_dates_uses_the_configured_interval() -> None:
    """A feed without dated items is polled at its feeds-file interval, held to the max."""
    for interval, expected in ((300.0, 300.0), (5.0, 5.0), (86_400.0, 3600.0)):
        feed = FeedSpec(id="f", url=FEED.url, interval=interval)
        result = PollResult(feed, _articles(None, None), response=_response())
        decision = decide(result, now=NOW.timestamp(), policy=POLICY, rng=random.Random(3))
        assert float(decision.fields["interval"]) == expected


@pytest.mark.parametrize(("hint", "expected"), [(1800.0, 1800.0), (10_000.0, 3600.0)])
def test_server_hints_are_honoured_up_to_the_max_interval(hint: float, expected: float) -> None:
    """max-age, ttl or Retry-After push the next poll out, but never past the max interval."""
    for hints in ((hint, None, None), (None, hint, None), (None, None, hint)):
        assert success_delay(60.0, hints=hints, policy=POLICY,
                             rng=random.Random(4)) == expected


def test_ttl_from_state_is_honoured_on_304() -> None:
    """The `<ttl>` stored from the last document still holds when the server answers 304."""
    result = PollResult(FEED, not_modified=True, state={"ttl": "2400"},
                        response=_response(status=304, not_modified=True))
    decision = decide(result, now=NOW.timestamp(), policy=POLICY, rng=random.Random(5))
    assert decision.delay >= 2400.0 and decision.fields["ttl"] == "2400"


@settings(deadline=None)  # no timing in tests: a slow machine must not fail it
@given(failures=st.integers(1, 200), retry_after=st.none() | st.floats(0, 10**7),
       seed=st.integers(0, 2**32))
def test_backoff_is_exponential_with_equal_jitter(failures: int, retry_after: float | None,
                                                  seed: int) -> None:
    """Failure k waits in [c/2, c] for c = min(1 day, 60 s * 2^(k-1)), and >= Retry-After."""
    ceiling = min(POLICY.backoff_max, POLICY.backoff_base * 2.0 ** min(failures - 1, 60))
    delay = failure_delay(failures, retry_after=retry_after, policy=POLICY,
                          rng=random.Random(seed))
    floor = max(ceiling / 2, min(retry_after or 0.0, POLICY.backoff_max))
    assert floor <= delay <= max(ceiling, floor)


def test_documented_deactivation_span_matches_the_defaults() -> None:
    """With the defaults, 15 failures in a row span 2.2 to 4.4 days (the documented figure)."""
    ceilings = [min(POLICY.backoff_max, POLICY.backoff_base * 2.0 ** (k - 1))
                for k in range(1, POLICY.max_failures)]
    assert POLICY.max_failures == 15 and sum(ceilings) == 382_020.0
    assert round(sum(ceilings) / 2 / 86_400, 1) == 2.2 and round(sum(ceilings) / 86_400, 1) == 4.4


def test_decide_deactivates_after_max_failures_only() -> None:
    """Failure 14 is retried later; failure 15 switches the feed off with the reason kept."""
    error = FetchError("f", "HTTP 500", kind="http")
    retried = decide(PollResult(FEED, error=error, failures=14), now=NOW.timestamp(),
                     policy=POLICY, rng=random.Random(6))
    off = decide(PollResult(FEED, error=error, failures=15), now=NOW.timestamp(),
                 policy=POLICY, rng=random.Random(6))
    assert not retried.deactivate and retried.delay > 0
    assert off.deactivate and str(off.fields["last_error"]).startswith(
        "deactivated after 15 failures")


def test_blocked_feed_is_deactivated_at_once() -> None:
    """A chat feed that reaches an internal address is switched off on its first failure."""
    error = FetchError("f", "internal", kind="blocked")
    decision = decide(PollResult(FEED, error=error, failures=1), now=NOW.timestamp(),
                      policy=POLICY, rng=random.Random(7))
    assert decision.deactivate and "internal" in str(decision.fields["last_error"])


def test_rate_limited_waits_for_retry_after() -> None:
    """A 429 with Retry-After two hours away is retried no sooner than that."""
    error = RateLimitedError("f", "HTTP 429", status=429, retry_after=7200.0)
    decision = decide(PollResult(FEED, error=error, failures=1), now=NOW.timestamp(),
                      policy=POLICY, rng=random.Random(8))
    assert decision.delay == 7200.0


def test_policy_rejects_bounds_out_of_order() -> None:
    """A minimum above the maximum, or no failures allowed, is a clear error."""
    with pytest.raises(ValueError, match="min"):
        PollPolicy(min_interval=600, max_interval=60)
    with pytest.raises(ValueError, match="backoff"):
        PollPolicy(backoff_base=100, backoff_max=10)
    with pytest.raises(ValueError, match="max_failures"):
        PollPolicy(max_failures=0)


ADDRESSES = [
    # (addresses a name resolves to, the one the guard refuses, or None)
    (["93.184.216.34"], None),
    (["93.184.216.34", "10.0.0.7"], "10.0.0.7"),          # every address is checked
    (["127.0.0.1"], "127.0.0.1"),
    (["169.254.169.254"], "169.254.169.254"),             # cloud metadata
    (["100.64.0.1"], "100.64.0.1"),                       # shared (CGNAT) space
    (["192.168.1.1"], "192.168.1.1"),
    (["0.0.0.0"], "0.0.0.0"),
    (["224.0.0.1"], "224.0.0.1"),                         # multicast
    (["2606:4700:4700::1111"], None),
    (["::1"], "::1"),
    (["fe80::1%eth0"], "fe80::1%eth0"),                   # link-local with a scope
    (["fd00::1"], "fd00::1"),                             # unique local
    (["::ffff:127.0.0.1"], "::ffff:127.0.0.1"),           # IPv4-mapped loopback
    (["2002:7f00:1::1"], "2002:7f00:1::1"),               # 6to4 around 127.0.0.1
]


@pytest.mark.parametrize(("addresses", "refused"), ADDRESSES)
def test_guard_refuses_any_internal_address(addresses: list[str], refused: str | None) -> None:
    """The SSRF guard names the first internal address among all a host resolves to."""
    assert first_internal("host.example", addresses) == refused


async def test_resolves_internal_names_the_loopback_address_of_localhost() -> None:
    """A name resolving to loopback is caught by resolution; an unresolvable one is not."""
    assert await resolves_internal("localhost", 80) == "127.0.0.1"
    assert await resolves_internal("no-such-host.invalid", 80) is None
