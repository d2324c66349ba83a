"""The polling engine: feeds come due in Redis, any of several workers claims them, politely.

Shared schedule (bot/store/schedule.py: `poll:due`, `poll:lease:<id>`, `poll:off`; times are
the Redis server's clock).

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

When a feed is next due after a poll is the policy's (bot/feeds/policy.py).
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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from bot.errors import FeedError
from bot.events import forwarding, in_background
from bot.feeds.fetch import Fetcher
from bot.feeds.policy import Decision, PollPolicy, decide, feed_health
from bot.feeds.poll import PollResult, outcome_fields, read_feed, unexpected
from bot.logs import redact
from bot.metrics import Metrics
from bot.models import FeedSpec
from bot.store import STORE_FAILURES, Store
from bot.store.schedule import PollSchedule

__all__ = ["FeedSource", "PollEngine", "PollPolicy", "feed_health", "reactivate_feed"]

log = logging.getLogger(__name__)

IDLE_SECONDS = 2.0       # longest nap between claims when nothing is due (new feeds, takeovers)
REDIS_RETRY_SECONDS = 2.0
SYNC_CHUNK = 1000
FORGET = "forget"

Handler = Callable[[PollResult], Awaitable[object]]
MinDelay = Callable[[PollResult], float | None]
OnDeactivated = Callable[[FeedSpec, FeedError], Awaitable[None]]
FeedSource = Callable[[], Awaitable[Sequence[FeedSpec]]]


def _host(feed: FeedSpec) -> str:
    """The host (and port) a feed is fetched from; empty for local folders."""
    try:
        return urlsplit(feed.url or "").netloc.lower()
    except ValueError:
        return ""


async def reactivate_feed(store: Store, feed_id: str) -> bool:
    """Put a feed switched off after repeated failures back on the shared schedule, due now,
    with its failures forgotten (any worker picks it up); False if it was not switched off."""
    return await PollSchedule(store).reactivate(feed_id)


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
                 lease_seconds: float = 120.0, rng: random.Random | None = None,
                 metrics: Metrics | None = None) -> None:
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
        self.metrics = metrics if metrics is not None else Metrics()
        self._source, self._handle, self._untrusted = source, handle, untrusted
        self._on_deactivated = on_deactivated
        self._min_delay = min_delay
        self._rng = rng or random.Random()
        self.schedule = PollSchedule(store)
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
        scheduled = await self.schedule.scheduled()
        off = await self.schedule.switched_off()
        if gone := scheduled - feeds.keys():
            await self.schedule.unschedule(gone)
        if forgotten := off - feeds.keys():  # deleted while off: a fresh start if re-added
            await self.schedule.forget_off(forgotten)
        missing = [fid for fid in feeds if fid not in scheduled and fid not in off]
        added = 0
        for start in range(0, len(missing), SYNC_CHUNK):
            added += await self.schedule.add(missing[start:start + SYNC_CHUNK])
        if added:
            self._wake.set()
        return added

    async def due_now(self, *feed_ids: str) -> None:
        """Make scheduled feeds due at once (a feed being polled stays with its worker)."""
        if feed_ids:
            await self.schedule.due_now(feed_ids)
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
        return await self.schedule.switched_off()

    async def next_due(self, feed_id: str) -> float | None:
        """When the feed is next due (Redis server time), or None when it is not scheduled."""
        return await self.schedule.next_due(feed_id)

    async def server_time(self) -> float:
        """The Redis server's clock, which the schedule runs on."""
        return await self.schedule.server_time()

    # --- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and poll due feeds until `stop` is set, then hand back what is unfinished."""
        async with self._renewing(), forwarding(stop, self._wake, name="poll:stop"):
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
        except STORE_FAILURES as exc:
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
        now, wait, claimed = await self.schedule.claim(self.token, lease_ms=self.lease_ms,
                                                        limit=limit, cutoff=cutoff)
        self._leased.update(fid for fid, _ in claimed)
        if unknown := [fid for fid, _ in claimed if fid not in self._feeds]:
            await self.sync()
            for fid in unknown:
                if fid not in self._feeds:
                    await self._complete(fid, Decision(0.0), mode=FORGET)
        return now, wait, [(f, s) for f, s in claimed if f in self._feeds]

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
        if isinstance(exc, STORE_FAILURES):
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
        self.metrics.polled(result)
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
                replies = await self.schedule.complete(self.token, [args for args, _ in batch])
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

    def _renewing(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Renew the leases of the feeds in flight every third of the lease, in the background."""
        return in_background(self._renew_loop(), name="poll:renew")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            held = [fid for fid in self._tasks if fid in self._leased]
            if not held:
                continue
            try:
                lost = await self.schedule.renew(self.token, lease_ms=self.lease_ms, ids=held)
            except STORE_FAILURES as exc:
                log.warning("poll: cannot renew leases", extra={"kv": {"error": str(exc)}})
                continue
            for fid in lost:
                if fid not in self._leased:  # completed meanwhile: nothing was lost
                    continue
                log.warning("poll: lease lost; stopping that poll", extra={"kv": {"feed_id": fid}})
                self._leased.discard(fid)
                if (task := self._tasks.get(fid)) is not None:
                    task.cancel()

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
            with contextlib.suppress(*STORE_FAILURES):
                await self._complete(fid, Decision(0.0))
