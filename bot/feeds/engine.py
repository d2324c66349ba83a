"""The polling engine: feeds come due in Redis, any of several workers claims them, politely.

Shared schedule (Redis, under the store's key prefix; times are the Redis server's clock):

    poll:due          sorted set   feed id -> when it is next due (seconds since the epoch)
    poll:lease:<id>   string       token of the worker polling that feed, with an expiry (PX)
    poll:off          set          feeds deactivated after too many failures

Claiming is one Lua script: each feed due now gets its lease (`SET NX PX`) and its due time is
moved to the end of the lease, so one feed is polled by one process at a time, and the feeds
of a process that died come due again once their leases expire; the same call returns each
claimed feed's state (validators, error count). A worker renews the leases of the feeds it
is still busy with every third of the lease, and when a poll is done one script records it
(health, validators, next due time) and drops the lease, only if the lease is still its own;
the polls that finish in one turn of the event loop are recorded in one call.
Workers need the same feeds file; feeds added or deleted from chat reach every worker through
`sync` (every 30 s and whenever a claimed id is unknown). Scripts name their lease keys from a
prefix, so the schedule wants one Redis server (not Redis Cluster).

Politeness, per worker: at most `concurrency` feeds in flight (NEWSBOT_POLL_CONCURRENCY, 64)
and at most `per_host` requests at once to one host (NEWSBOT_POLL_PER_HOST, 4); timeouts,
the size cap and decompression-bomb protection are the fetcher's (bot/feeds/fetch.py).

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

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from bot.errors import FeedError, StoreError
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import PollResult, outcome_fields, read_feed, unexpected
from bot.logs import redact
from bot.metrics import METRICS
from bot.models import FeedSpec
from bot.store import Store, done

log = logging.getLogger(__name__)

RATE_ITEMS = 20          # newest dated items the publishing rate is learned from
RATE_FACTOR = 0.5        # poll twice per mean gap between items
IDLE_SECONDS = 2.0       # longest nap between claims when nothing is due (new feeds, takeovers)
REDIS_RETRY_SECONDS = 2.0
SYNC_CHUNK = 1000
FORGET = "forget"

Handler = Callable[[PollResult], Awaitable[object]]
MinDelay = Callable[[PollResult], float | None]
OnDeactivated = Callable[[FeedSpec, FeedError], Awaitable[None]]
FeedSource = Callable[[], Awaitable[Sequence[FeedSpec]]]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: due. ARGV: token, lease ms, limit, lease key prefix, cutoff ('' = now), state prefix.
# Returns {server now, seconds until the next due feed (-1: none), {id, state}...} where
# state is the feed's state hash as a flat list, read in the same step.
_CLAIM = _NOW + """
local lease = tonumber(ARGV[2])
local upto = now
if ARGV[5] ~= '' then upto = math.min(now, tonumber(ARGV[5])) end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', upto, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[4] .. id
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', lease) then
    redis.call('ZADD', KEYS[1], now + lease / 1000, id)
    out[#out + 1] = {id, redis.call('HGETALL', ARGV[6] .. id)}
  else
    local left = math.max(redis.call('PTTL', key), 100)
    redis.call('ZADD', KEYS[1], now + left / 1000, id)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if first[2] then wait = math.max(0, tonumber(first[2]) - now) end
return {tostring(now), tostring(wait), unpack(out)}
"""

# KEYS: due, off. ARGV: token, lease key prefix, state prefix, then for each feed:
# id, mode, delay, number of fields, field, value, ... Returns 1 per feed whose lease was
# still ours (and is now dropped), else 0. mode: next (due again after delay), off
# (deactivate), forget (drop from the schedule).
_COMPLETE = _NOW + """
local out = {}
local i = 4
while i <= #ARGV do
  local id, mode, delay, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local fields = {}
  for j = 1, 2 * n do fields[j] = ARGV[i + 3 + j] end
  i = i + 4 + 2 * n
  local lease = ARGV[2] .. id
  if redis.call('GET', lease) ~= ARGV[1] then
    out[#out + 1] = 0
  else
    redis.call('DEL', lease)
    if mode == 'off' then
      redis.call('ZREM', KEYS[1], id)
      redis.call('SADD', KEYS[2], id)
    elseif mode == 'forget' then
      redis.call('ZREM', KEYS[1], id)
    else
      redis.call('ZADD', KEYS[1], 'XX', now + delay, id)
      fields[#fields + 1] = 'next_poll'
      fields[#fields + 1] = tostring(now + delay)
    end
    if #fields > 0 then redis.call('HSET', ARGV[3] .. id, unpack(fields)) end
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: due. ARGV: token, lease ms, lease key prefix, ids... Returns the ids no longer ours.
_RENEW = _NOW + """
local lost = {}
for i = 4, #ARGV do
  local key = ARGV[3] .. ARGV[i]
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]) / 1000, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

# KEYS: due, off. ARGV: ids. Schedules (due now) each id neither scheduled nor deactivated.
_ADD = _NOW + """
local added = 0
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    added = added + redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i])
  end
end
return added
"""


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


def _host(feed: FeedSpec) -> str:
    """The host (and port) a feed is fetched from; empty for local folders."""
    try:
        return urlsplit(feed.url or "").netloc.lower()
    except ValueError:
        return ""


async def reactivate_feed(store: Store, feed_id: str) -> bool:
    """Put a feed switched off after repeated failures back on the shared schedule, due now,
    with its failures forgotten (any worker picks it up); False if it was not switched off."""
    if not await done(store.redis.srem(store.keys("poll", "off"), feed_id)):
        return False
    await store.update_feed_state(feed_id, {"errors": 0, "deactivated_at": ""})
    await store.redis.zadd(store.keys("poll", "due"), {feed_id: 0})
    return True


class PollEngine:
    """Polls the feeds that are due, sharing the schedule in Redis with other workers.

    `source` lists every feed (the feeds file's and those added from chat); `untrusted` says
    which must go through the SSRF guard (feeds added from chat); `handle` takes each good
    poll's articles (the pipeline) before the feed's validators are committed;
    `on_deactivated` is told about a feed switched off after repeated failures; and
    `min_delay` may say that a feed polled successfully is not due again sooner than so many
    seconds (None: no such floor).
    """

    def __init__(self, store: Store, fetcher: Fetcher, *, source: FeedSource, handle: Handler,
                 untrusted: Callable[[FeedSpec], bool] = lambda feed: False,
                 on_deactivated: OnDeactivated | None = None,
                 min_delay: MinDelay | None = None,
                 policy: PollPolicy | None = None, concurrency: int = 64, per_host: int = 4,
                 lease_seconds: float = 120.0, rng: random.Random | None = None) -> None:
        if concurrency < 1 or per_host < 1 or lease_seconds <= 0:
            raise ValueError("concurrency and per_host must be >= 1 and the lease positive")
        self.store = store
        self.fetcher = fetcher
        self.policy = policy or PollPolicy()
        self.concurrency = concurrency
        self.per_host = per_host
        self.lease_ms = int(lease_seconds * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self.stats: Counter[str] = Counter()
        self._source, self._handle, self._untrusted = source, handle, untrusted
        self._on_deactivated = on_deactivated
        self._min_delay = min_delay
        self._rng = rng or random.Random()
        self._due, self._off = store.keys("poll", "due"), store.keys("poll", "off")
        self._lease_prefix = store.keys("poll", "lease", "")
        self._claim_script = store.redis.register_script(_CLAIM)
        self._complete_script = store.redis.register_script(_COMPLETE)
        self._renew_script = store.redis.register_script(_RENEW)
        self._add_script = store.redis.register_script(_ADD)
        self._state_prefix = store.keys.feed("")
        self._feeds: dict[str, FeedSpec] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._leased: set[str] = set()  # ids whose lease this worker holds and renews
        self._pending: list[tuple[list[str], asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._wake = asyncio.Event()

    # --- the shared schedule -----------------------------------------------------------------

    async def sync(self) -> int:
        """Schedule new feeds (due now), drop deleted ones; returns how many were added."""
        feeds = {f.id: f for f in await self._source()}
        self._feeds = feeds
        scheduled = set(await self.store.redis.zrange(self._due, 0, -1))
        off = set(await done(self.store.redis.smembers(self._off)))
        if gone := scheduled - feeds.keys():
            await self.store.redis.zrem(self._due, *gone)
        if forgotten := off - feeds.keys():  # deleted while off: a fresh start if re-added
            await done(self.store.redis.srem(self._off, *forgotten))
        missing = [fid for fid in feeds if fid not in scheduled and fid not in off]
        added = 0
        for start in range(0, len(missing), SYNC_CHUNK):
            added += int(await self._add_script(keys=[self._due, self._off],
                                                args=missing[start:start + SYNC_CHUNK]))
        if added:
            self._wake.set()
        return added

    async def due_now(self, *feed_ids: str) -> None:
        """Make scheduled feeds due at once (a feed being polled stays with its worker)."""
        if feed_ids:
            await self.store.redis.zadd(self._due, dict.fromkeys(feed_ids, 0), xx=True)
            self._wake.set()

    async def reactivate(self, feed_id: str) -> bool:
        """Put a deactivated feed back on the schedule, due now, with its failures forgotten;
        False if it was not switched off."""
        if not await reactivate_feed(self.store, feed_id):
            return False
        self._wake.set()
        return True

    async def deactivated(self) -> set[str]:
        """Ids of the feeds switched off after repeated failures."""
        return set(await done(self.store.redis.smembers(self._off)))

    async def next_due(self, feed_id: str) -> float | None:
        """When the feed is next due (Redis server time), or None when it is not scheduled."""
        score = await self.store.redis.zscore(self._due, feed_id)
        return None if score is None else float(score)

    async def server_time(self) -> float:
        """The Redis server's clock, which the schedule runs on."""
        seconds, micros = await self.store.redis.time()
        return float(seconds) + float(micros) / 1_000_000

    # --- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and poll due feeds until `stop` is set, then hand back what is unfinished."""
        async with self._renewing(), self._waking_on(stop):
            while not stop.is_set():
                self._wake.clear()
                wait = await self._claim_and_start(cutoff=None)
                if wait > 0 and not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
            await self._finish()

    async def run_once(self) -> int:
        """Poll every feed due now, as one worker among several would; returns how many."""
        polled, cutoff = 0, ""
        async with self._renewing():
            while True:
                self._wake.clear()
                free = self.concurrency - len(self._tasks)
                claimed: list[tuple[str, dict[str, str]]] = []
                if free > 0:
                    now, _, claimed = await self._claim(free, cutoff)
                    cutoff = cutoff or now
                    polled += self._start(claimed)
                    if len(claimed) == free:
                        continue  # maybe more are due
                    if not self._tasks:
                        return polled
                await self._wake.wait()

    async def _claim_and_start(self, *, cutoff: str | None) -> float:
        """Claim as many due feeds as there are free slots; seconds worth waiting after."""
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return IDLE_SECONDS
        try:
            _, wait, claimed = await self._claim(free, cutoff or "")
        except RedisError as exc:
            log.warning("poll: cannot reach the schedule", extra={"kv": {"error": str(exc)}})
            return REDIS_RETRY_SECONDS
        except Exception:  # e.g. the feed source failed: the loop must go on
            log.exception("poll: claiming feeds failed")
            return REDIS_RETRY_SECONDS
        self._start(claimed)
        if len(claimed) == free:
            return 0.0
        return IDLE_SECONDS if wait < 0 else min(wait, IDLE_SECONDS)

    async def _claim(self, limit: int, cutoff: str
                     ) -> tuple[str, float, list[tuple[str, dict[str, str]]]]:
        """(server now, seconds to the next due feed or -1, (id, state) claimed with leases)."""
        now, wait, *rows = await self._claim_script(keys=[self._due], args=[
            self.token, self.lease_ms, limit, self._lease_prefix, cutoff, self._state_prefix])
        claimed = [(str(fid), dict(zip(flat[::2], flat[1::2], strict=True)))
                   for fid, flat in rows]
        self._leased.update(fid for fid, _ in claimed)
        if unknown := [fid for fid, _ in claimed if fid not in self._feeds]:
            await self.sync()
            for fid in unknown:
                if fid not in self._feeds:
                    await self._complete(fid, Decision(0.0), mode=FORGET)
        return str(now), float(wait), [(f, s) for f, s in claimed if f in self._feeds]

    def _start(self, claimed: list[tuple[str, dict[str, str]]]) -> int:
        for fid, state in claimed:
            task = asyncio.create_task(self._poll_one(self._feeds[fid], state),
                                       name=f"poll:{fid}")
            self._tasks[fid] = task
        return len(claimed)

    async def _poll_one(self, feed: FeedSpec, state: dict[str, str]) -> None:
        """Poll one claimed feed, hand its articles on, schedule it; never raises."""
        try:
            async with self._gate(feed):
                result = await read_feed(feed, state, fetcher=self.fetcher,
                                         guard=self._untrusted(feed))
            if result.error is None:
                await self._handle(result)  # before the validators are kept: nothing is lost
            await self._schedule(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an outage with one feed must not stop the rest
            await self._crashed(feed, state, exc)
        finally:
            self._tasks.pop(feed.id, None)
            self._wake.set()

    async def _crashed(self, feed: FeedSpec, state: Mapping[str, str], exc: Exception) -> None:
        """A poll that raised: with Redis away, retried after the backoff base, uncounted;
        anything else (an item the pipeline cannot take, a bug) is the feed's error, counted,
        backed off and in time deactivated like any other, the traceback logged once."""
        self.stats["crashed"] += 1
        if isinstance(exc, RedisError | StoreError):
            log.warning("poll: the store failed while handling a feed", extra={"kv": {
                "feed_id": feed.id, "error": str(exc)}})
            with contextlib.suppress(Exception):
                await self._complete(feed.id, Decision(self.policy.backoff_base))
            return
        failures = int(state.get("errors") or 0) + 1
        log.error("poll: handling a feed failed", exc_info=exc if failures == 1 else None,
                  extra={"kv": {"feed_id": feed.id, "errors_in_a_row": failures,
                                "error": f"{type(exc).__name__}: {exc}"}})
        result = PollResult(feed, error=unexpected(feed, exc), failures=failures, state=state)
        with contextlib.suppress(Exception):
            await self._schedule(result)

    async def _schedule(self, result: PollResult) -> None:
        """Record the poll (health, validators, next due) in one step; switch off if due."""
        decision = decide(result, now=time.time(), policy=self.policy, rng=self._rng)
        floor = self._min_delay(result) if self._min_delay and result.error is None else None
        if floor is not None and floor > decision.delay:
            decision = Decision(floor, decision.fields)
        self.stats["polled"] += 1
        METRICS.polled(result)
        self.stats["failed" if result.error else
                   "not_modified" if result.not_modified else "ok"] += 1
        fields = {**outcome_fields(result), **(result.validators or {}), **decision.fields}
        mode = "off" if decision.deactivate else "next"
        if not await self._complete(result.feed.id, Decision(decision.delay, fields),
                                    mode=mode):
            return
        if decision.deactivate and result.error is not None:
            self.stats["deactivated"] += 1
            log.warning("poll: feed deactivated", extra={"kv": {
                "feed_id": result.feed.id, "feed_url": redact(result.feed.location),
                "failures": result.failures, "error": str(result.error)}})
            if self._on_deactivated is not None:
                try:
                    await self._on_deactivated(result.feed, result.error)
                except Exception:
                    log.exception("poll: the deactivation hook failed",
                                  extra={"kv": {"feed_id": result.feed.id}})

    async def _complete(self, feed_id: str, decision: Decision, *, mode: str = "next") -> bool:
        """Apply `decision` if the lease is still ours; False (and a warning) if it is not.

        Completions that arrive in the same turn of the event loop go to Redis together, in
        one script call.
        """
        self._leased.discard(feed_id)
        fields = [str(x) for pair in decision.fields.items() for x in pair]
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(([feed_id, mode, f"{decision.delay:.3f}", str(len(fields) // 2),
                               *fields], future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="poll:complete")
        ok = await future
        if not ok:
            log.warning("poll: lease lost before the poll was recorded",
                        extra={"kv": {"feed_id": feed_id}})
        return ok

    async def _flush(self) -> None:
        """Send the completions gathered so far in one call; each waiter gets its answer."""
        await asyncio.sleep(0)
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                replies = await self._complete_script(
                    keys=[self._due, self._off],
                    args=[self.token, self._lease_prefix, self._state_prefix,
                          *(arg for args, _ in batch for arg in args)])
            except Exception as exc:  # every waiter sees the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(bool(reply))

    @contextlib.asynccontextmanager
    async def _gate(self, feed: FeedSpec) -> AsyncIterator[None]:
        """At most `per_host` polls of one host at a time in this worker."""
        host = _host(feed)
        if not host:
            yield
            return
        gate = self._hosts.get(host)
        if gate is None:
            gate = self._hosts[host] = asyncio.Semaphore(self.per_host)
        async with gate:
            yield

    @contextlib.asynccontextmanager
    async def _renewing(self) -> AsyncIterator[None]:
        """Renew the leases of the feeds in flight every third of the lease, in the background."""
        task = asyncio.create_task(self._renew_loop(), name="poll:renew")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            held = [fid for fid in self._tasks if fid in self._leased]
            if not held:
                continue
            try:
                lost = await self._renew_script(keys=[self._due], args=[
                    self.token, self.lease_ms, self._lease_prefix, *held])
            except RedisError as exc:
                log.warning("poll: cannot renew leases", extra={"kv": {"error": str(exc)}})
                continue
            for fid in map(str, lost):
                if fid not in self._leased:  # completed meanwhile: nothing was lost
                    continue
                log.warning("poll: lease lost; stopping that poll", extra={"kv": {"feed_id": fid}})
                self._leased.discard(fid)
                if (task := self._tasks.get(fid)) is not None:
                    task.cancel()

    @contextlib.asynccontextmanager
    async def _waking_on(self, stop: asyncio.Event) -> AsyncIterator[None]:
        """Wake the run loop when `stop` is set."""
        async def wake() -> None:
            await stop.wait()
            self._wake.set()

        task = asyncio.create_task(wake(), name="poll:stop")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _finish(self, grace: float = 5.0) -> None:
        """Let polls in flight finish for `grace` seconds, then stop them and free their feeds."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks.values()), timeout=grace)
        unfinished = [fid for fid, task in self._tasks.items() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for fid in unfinished:
            with contextlib.suppress(RedisError):
                await self._complete(fid, Decision(0.0))
