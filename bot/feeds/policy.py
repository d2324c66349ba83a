"""The polling policy: when a feed is next due after a poll, and its health.

When a feed is next due (defaults; all are settings in bot/config.py):

- After a success (200 or 304): the feed's learned interval, half the mean gap between its
  newest 20 dated items counted up to now (so a feed that goes quiet slows down by itself),
  with +/-10 % jitter, kept between NEWSBOT_POLL_MIN_INTERVAL (60 s) and the feed's own
  `interval` (feeds file, default 300 s; the longest it waits, held to
  NEWSBOT_POLL_MAX_INTERVAL, 3600 s; an own interval below the minimum is honoured as
  written, the feeds file being trusted). A feed without dated items is polled at its own
  interval. The server's word is honoured up to the max interval, even past the feed's own:
  Cache-Control max-age (less Age) or Expires, the RSS `<ttl>`, a Retry-After with a 200.
- After failure k in a row: exponential backoff min(1 day, 60 s * 2^(k-1)), with "equal
  jitter" (a random point in its upper half), and never sooner than a 429/503's Retry-After
  (capped at a day). Delays: 30-60 s, 1-2 min, 2-4 min, ... 17-34 h, then 12-24 h.
- After 15 failures in a row (NEWSBOT_POLL_MAX_FAILURES) the feed is deactivated: taken off
  the schedule, marked in its state (`/status` shows it with its last error) and the
  `on_deactivated` hook is called (the app tells the admins). With the defaults that is 2.2
  to 4.4 days of uninterrupted failure; one success resets the count. A feed added from chat
  whose host resolves to an internal address (kind `blocked`) is deactivated at once.
  `reactivate` puts a feed back; deleting a chat feed and adding it again does too.
- An exception while polling or handling one feed (say, an item the pipeline cannot take) is
  that feed's failure (kind `unexpected`), counted and backed off like the others, its
  traceback logged once; only the store being away is retried without counting.
- The `min_delay` hook may hold a feed back after a good poll: a feed whose WebSub hub pushes
  its items (bot/feeds/websub.py) is polled at about NEWSBOT_POLL_MAX_INTERVAL, a fallback.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.feeds.poll import PollResult
from bot.logs import redact

RATE_ITEMS = 20          # newest dated items the publishing rate is learned from
RATE_FACTOR = 0.5        # poll twice per mean gap between items


@dataclass(frozen=True, slots=True, kw_only=True)
class PollPolicy:
    """How often to poll and how to back off; seconds throughout (see the module docstring)."""

    min_interval: float = 60.0
    max_interval: float = 3600.0
    backoff_base: float = 60.0
    backoff_max: float = 86_400.0
    max_failures: int = 15
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.min_interval <= self.max_interval:
            raise ValueError(f"poll intervals must satisfy 0 < min ({self.min_interval}) "
                             f"<= max ({self.max_interval})")
        if not 0 < self.backoff_base <= self.backoff_max:
            raise ValueError(f"backoff must satisfy 0 < base ({self.backoff_base}) "
                             f"<= max ({self.backoff_max})")
        if self.max_failures < 1 or not 0 <= self.jitter < 1:
            raise ValueError("max_failures must be >= 1 and jitter in [0, 1)")

    def bounds(self, feed_interval: float) -> tuple[float, float]:
        """A feed's [shortest, longest] interval: its own interval is its longest wait (held
        to max_interval), and an own interval below min_interval lowers the minimum too."""
        longest = min(feed_interval, self.max_interval)
        return min(self.min_interval, longest), longest

    def clamp(self, seconds: float, feed_interval: float | None = None) -> float:
        """`seconds` kept within the feed's bounds (the policy's when no feed is given)."""
        low, high = self.bounds(self.max_interval if feed_interval is None else feed_interval)
        return min(high, max(low, seconds))


@dataclass(frozen=True, slots=True)
class Decision:
    """When to poll a feed next, the schedule fields to keep in its state, or to switch it off."""

    delay: float
    fields: Mapping[str, str | int | float] = field(default_factory=dict)
    deactivate: bool = False


def learned_interval(since: float, items: int, *, now: float, policy: PollPolicy,
                     feed_interval: float | None = None) -> float:
    """Half the mean gap between `items` published since `since`, counted up to `now`."""
    gap = max(0.0, now - since) / max(1, items)
    return policy.clamp(gap * RATE_FACTOR, feed_interval)


def publishing_rate(published: Iterable[datetime | None], *, now: float
                    ) -> tuple[float, int] | None:
    """(oldest time, count) of the newest RATE_ITEMS dated items, or None for fewer than 2."""
    times = sorted((t.timestamp() for t in published if t is not None), reverse=True)
    recent = [t for t in times if t <= now][:RATE_ITEMS]
    return (recent[-1], len(recent)) if len(recent) >= 2 else None


def success_delay(interval: float, *, hints: Iterable[float | None], policy: PollPolicy,
                  rng: random.Random, feed_interval: float | None = None) -> float:
    """The jittered interval, but no sooner than the server's hints allow (up to the max)."""
    jittered = policy.clamp(interval * rng.uniform(1 - policy.jitter, 1 + policy.jitter),
                            feed_interval)
    hint = max((h for h in hints if h), default=0.0)
    return max(jittered, min(hint, policy.max_interval))


def failure_delay(failures: int, *, retry_after: float | None, policy: PollPolicy,
                  rng: random.Random) -> float:
    """Exponential backoff with equal jitter, and no sooner than Retry-After (up to the cap)."""
    ceiling = min(policy.backoff_max, policy.backoff_base * 2.0 ** min(max(failures, 1) - 1, 60))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after:
        delay = max(delay, min(retry_after, policy.backoff_max))
    return delay


def decide(result: PollResult, *, now: float, policy: PollPolicy,
           rng: random.Random) -> Decision:
    """When to poll `result.feed` next, given how this poll went (see the module docstring)."""
    if result.error is not None:
        return _after_failure(result, policy=policy, rng=rng)
    interval, fields = _interval(result, now=now, policy=policy)
    ttl = result.ttl if result.response is not None and not result.not_modified else (
        _number(result.state.get("ttl")))
    response = result.response
    hints = (response.max_age, response.retry_after) if response is not None else ()
    delay = success_delay(interval, hints=(*hints, ttl), policy=policy, rng=rng,
                          feed_interval=result.feed.interval)
    return Decision(delay, {**fields, "interval": f"{interval:.1f}",
                            "ttl": f"{ttl:.0f}" if ttl else ""})


def feed_health(state: Mapping[str, str]) -> str:
    """One feed's health from its stored state, as every listing says it (`newsbot feeds
    list`, `/status`): `off` (switched off after repeated failures or an internal host; not
    polled until `newsbot feeds reactivate`), `error` (failing, polled again with backoff),
    `ok`, or `new` (never polled)."""
    if state.get("deactivated_at"):
        return "off"
    return state.get("status") or "new"


def _after_failure(result: PollResult, *, policy: PollPolicy, rng: random.Random) -> Decision:
    error = result.error
    assert error is not None
    if result.failures >= policy.max_failures or error.kind == "blocked":
        reason = ("its host is internal" if error.kind == "blocked"
                  else f"{result.failures} failure{'s' * (result.failures != 1)} in a row")
        return Decision(0.0, {"status": "error", "deactivated_at": f"{time.time():.0f}",
                              "last_error": redact(f"deactivated after {reason}; last: "
                                                   f"{error.kind}: {error}")[:500]},
                        deactivate=True)
    retry_after = getattr(error, "retry_after", None)
    delay = failure_delay(result.failures, retry_after=retry_after, policy=policy, rng=rng)
    return Decision(delay, {})


def _interval(result: PollResult, *, now: float, policy: PollPolicy
              ) -> tuple[float, dict[str, str]]:
    """The feed's base interval after a success, and the rate fields to store."""
    own = result.feed.interval
    default = policy.clamp(own, own)
    if result.response is None:  # a local folder: its configured interval
        return default, {}
    if not result.not_modified:
        rate = publishing_rate((a.published for a in result.articles), now=now)
        if rate is None:
            return default, {"rate_since": "", "rate_items": ""}
        since, items = rate
        return (learned_interval(since, items, now=now, policy=policy, feed_interval=own),
                {"rate_since": f"{since:.0f}", "rate_items": str(items)})
    stored_since = _number(result.state.get("rate_since"))
    stored_items = _number(result.state.get("rate_items"))
    if stored_since and stored_items:
        return learned_interval(stored_since, int(stored_items), now=now, policy=policy,
                                feed_interval=own), {}
    return default, {}


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
