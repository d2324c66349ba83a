"""What the service counts (Prometheus metrics) and how it is doing (the health check).

Each process counts its own events in memory (`METRICS`, incremented where they happen: the
polling engine, the pipeline, the outbox's deliverer); `Monitor` adds, at scrape time, the
gauges of the state every worker shares in Redis. Both are served on the bot's HTTP server
(bot/http.py: `/metrics`, `/healthz`).

    newsbot_feeds_polled_total{result}              polls: ok, not_modified, error
    newsbot_fetch_errors_total{kind}                failed polls by FeedError.kind (timeout,
                                                    http, too_large, parse, blocked, url,
                                                    unexpected, ...)
    newsbot_feed_items_cut_total                    items left out of documents over the
                                                    per-document cap (newest kept)
    newsbot_articles_processed_total{result}        placed (new to the store) or duplicate
    newsbot_stories_total{kind}                     articles that created or joined a story
    newsbot_alerts_total{platform,action}           alerts sent or edited in place
    newsbot_delivery_failures_total{platform}       deliveries that failed an attempt
    newsbot_dead_letters_total                      entries moved to the dead-letter list
    newsbot_delivery_latency_seconds{platform}      histogram: story first seen -> alert sent
    newsbot_websub_pushes_total{result,reason}      WebSub pushes received: accepted (ok) or
                                                    rejected (signature, unknown, too_large,
                                                    busy); a bad signature is answered 2xx
                                                    but its content discarded
    newsbot_last_successful_poll_timestamp_seconds  newest successful poll (any worker)
    newsbot_scheduler_heartbeat_timestamp_seconds   this process's last service-loop beat
    newsbot_outbox_depth, newsbot_outbox_dead_letters, newsbot_held_alerts,
    newsbot_feeds_deactivated, newsbot_chats_paused,
    newsbot_websub_subscriptions_active             read from Redis at scrape time
                                                    (chats paused: the bot was blocked, removed
                                                    or the channel archived; see bot.chats)
    newsbot_redis_up                                1 if Redis answered the scrape

Labels are fixed words, never a URL, and every error text the health report carries goes
through `bot.logs.redact`.

`/healthz` is healthy when Redis answers PING, the service loop beat within the last
3 heartbeats (HEARTBEAT_SECONDS each) with its polling and delivery tasks running, and a feed
was polled successfully within the limit (NEWSBOT_HEALTH_MAX_POLL_AGE, by default twice
NEWSBOT_POLL_MAX_INTERVAL). Workers share the newest successful poll through Redis (a sorted
set written on each heartbeat with ZADD GT), so a worker that polled nothing lately is not
unhealthy while the others poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.errors import StoreError
from bot.logs import redact
from bot.store import STORE_DOWN, STORE_FAILURES, Store

if TYPE_CHECKING:
    from bot.chats import ChatDirectory
    from bot.dedup.index import Assignment
    from bot.feeds.poll import PollResult
    from bot.models import Story
    from bot.outbox import Outbox

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
STALE_BEATS = 3            # the scheduler is dead after this many missed heartbeats
CHECK_TIMEOUT = 2.0        # seconds for Redis to answer a health check or a scrape
_SCRAPE_FAILURES: tuple[type[Exception], ...] = (TimeoutError, *STORE_DOWN)
LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)


class Metrics:
    """The counters and histogram one process keeps; `registry` is what `/metrics` shows."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.feeds_polled = Counter("newsbot_feeds_polled", "Feed polls by result.",
                                    ["result"], registry=r)
        self.fetch_errors = Counter("newsbot_fetch_errors", "Failed feed polls by kind.",
                                    ["kind"], registry=r)
        self.items_cut = Counter("newsbot_feed_items_cut",
                                 "Items left out of feed documents over the per-document cap.",
                                 registry=r)
        self.articles = Counter("newsbot_articles_processed",
                                "Articles through the pipeline: placed or duplicate.",
                                ["result"], registry=r)
        self.stories = Counter("newsbot_stories", "Articles that created or joined a story.",
                               ["kind"], registry=r)
        self.alerts = Counter("newsbot_alerts", "Alerts sent or edited, by platform.",
                              ["platform", "action"], registry=r)
        self.delivery_failures = Counter("newsbot_delivery_failures",
                                         "Delivery attempts that failed, by platform.",
                                         ["platform"], registry=r)
        self.dead_letters = Counter("newsbot_dead_letters",
                                    "Outbox entries moved to the dead-letter list.", registry=r)
        self.latency = Histogram("newsbot_delivery_latency_seconds",
                                 "Seconds from a story's first sighting to its alert.",
                                 ["platform"], buckets=LATENCY_BUCKETS, registry=r)
        self.websub_pushes = Counter("newsbot_websub_pushes",
                                     "WebSub pushes received, accepted or rejected (reason).",
                                     ["result", "reason"], registry=r)
        self.last_poll: float | None = None  # wall clock of this process's last good poll

    def polled(self, result: PollResult) -> None:
        """Count one finished poll (the engine calls this for every feed it polls)."""
        if result.error is not None:
            self.feeds_polled.labels(result="error").inc()
            self.fetch_errors.labels(kind=result.error.kind).inc()
            return
        self.feeds_polled.labels(result="not_modified" if result.not_modified else "ok").inc()
        if result.cut:
            self.items_cut.inc(result.cut)
        self.last_poll = time.time()

    def processed(self, assignment: Assignment | None) -> None:
        """Count one article through the pipeline: None means it was a duplicate."""
        if assignment is None:
            self.articles.labels(result="duplicate").inc()
            return
        self.articles.labels(result="placed").inc()
        self.stories.labels(kind="created" if assignment.kind == "new" else "joined").inc()

    def delivered(self, platform: str, story: Story, *, edited: bool,
                  now: datetime | None = None) -> None:
        """Count an alert that went out; a new one also records its delay since first seen."""
        self.alerts.labels(platform=platform, action="edited" if edited else "sent").inc()
        if not edited:
            delay = ((now or datetime.now(UTC)) - story.first_seen).total_seconds()
            self.latency.labels(platform=platform).observe(max(0.0, delay))

    def delivery_failed(self, chat: str) -> None:
        """Count a failed delivery attempt to `chat` (platform-qualified, `telegram:1`)."""
        self.delivery_failures.labels(platform=chat.partition(":")[0]).inc()

    def pushed(self, reason: str = "ok") -> None:
        """Count one WebSub push: accepted when `reason` is "ok", else rejected for it."""
        result = "accepted" if reason == "ok" else "rejected"
        self.websub_pushes.labels(result=result, reason=reason).inc()

    def dead_lettered(self) -> None:
        """Count an outbox entry given up on (moved to the dead letters)."""
        self.dead_letters.inc()

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 if never set), e.g. value("newsbot_alerts_total")."""
        return self.registry.get_sample_value(name, labels) or 0.0


METRICS = Metrics()


class _Gauges(Collector):
    """A fixed set of metric families, collected once (the scrape-time gauges)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class _Feeds(Protocol):
    async def deactivated(self) -> set[str]: ...


class _Subscriptions(Protocol):
    async def active_count(self) -> int: ...


class Monitor:
    """The health check and the scrape for one process over the shared store."""

    def __init__(self, store: Store, *, outbox: Outbox, chats: ChatDirectory,
                 engine: _Feeds | None = None, websub: _Subscriptions | None = None,
                 metrics: Metrics = METRICS,
                 max_poll_age: float = 7200.0,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.store = store
        self.outbox = outbox
        self.chats = chats
        self.engine = engine
        self.websub = websub
        self.metrics = metrics
        self.max_poll_age = max_poll_age
        self.heartbeat_seconds = heartbeat_seconds
        self.heartbeat: float | None = None
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def watch(self, **tasks: asyncio.Task[Any]) -> None:
        """Report the service unhealthy if one of these long-running tasks ends."""
        self._tasks.update(tasks)

    async def beat(self) -> None:
        """The service loop is alive; share this process's newest good poll with the others."""
        self.heartbeat = time.time()
        if self.metrics.last_poll is None:
            return
        try:
            await self.store.share_last_poll(self.metrics.last_poll)
        except STORE_FAILURES as exc:  # the health check reports Redis; the beat goes on
            log.debug("health: cannot share the last poll", extra={"kv": {"error": str(exc)}})

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, report): each check with its figures, and the reasons if unhealthy."""
        now = time.time()
        redis_ok, redis_error, shared = await self._redis_check()
        scheduler = self._scheduler_check(now)
        last = max((t for t in (self.metrics.last_poll, shared) if t is not None), default=None)
        age = None if last is None else round(max(0.0, now - last), 1)
        reasons = [f"redis: {redis_error}"] if not redis_ok else []
        reasons += [f"scheduler: {scheduler}"] if scheduler else []
        if age is None:
            reasons.append("poll: no successful poll yet")
        elif age > self.max_poll_age:
            reasons.append(f"poll: last successful poll {age:.0f} s ago "
                           f"(limit {self.max_poll_age:.0f} s)")
        report: dict[str, Any] = {
            "status": "unhealthy" if reasons else "ok", "reasons": reasons,
            "redis": {"ok": redis_ok, **({"error": redis_error} if redis_error else {})},
            "scheduler": {"ok": not scheduler, "heartbeat_age_seconds":
                          None if self.heartbeat is None else round(now - self.heartbeat, 1)},
            "last_poll": {"ok": age is not None and age <= self.max_poll_age,
                          "age_seconds": age, "max_age_seconds": self.max_poll_age,
                          "at": None if last is None else _iso(last)}}
        return not reasons, report

    async def _redis_check(self) -> tuple[bool, str | None, float | None]:
        """(answered, why not, the shared newest poll) from one PING and one ZSCORE."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                shared = await self.store.answering_last_poll()
        except TimeoutError:
            return False, f"no answer within {CHECK_TIMEOUT:.0f} s", None
        except STORE_DOWN as exc:
            cause = exc.__cause__ if isinstance(exc, StoreError) and exc.__cause__ else exc
            return False, redact(str(cause)) or type(cause).__name__, None
        return True, None, shared

    def _scheduler_check(self, now: float) -> str | None:
        """Why the service loop looks dead, or None if it is alive."""
        for name, task in self._tasks.items():
            if task.done():
                error = None if task.cancelled() else task.exception()
                return f"the {name} task ended" + (f": {redact(repr(error))}" if error else "")
        if self.heartbeat is None:
            return "not started"
        stale = STALE_BEATS * self.heartbeat_seconds
        if now - self.heartbeat > stale:
            return f"no heartbeat for {now - self.heartbeat:.0f} s (limit {stale:.0f} s)"
        return None

    async def exposition(self) -> bytes:
        """The Prometheus text format: this process's counters, then the shared gauges."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Gauges(await self._gauges()))
        return generate_latest(self.metrics.registry) + generate_latest(registry)

    async def _gauges(self) -> list[Metric]:
        """Gauges read now: outbox, dead letters, held alerts, feeds off, times, Redis up."""
        values: dict[str, float] = {}
        shared: float | None = None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                values = await self._shared_state()
                shared = await self.store.shared_last_poll()
        except _SCRAPE_FAILURES as exc:
            log.warning("metrics: cannot read the shared gauges",
                        extra={"kv": {"error": str(exc) or type(exc).__name__}})
            values = {}
        last = max((t for t in (self.metrics.last_poll, shared) if t is not None), default=None)
        times = {"newsbot_last_successful_poll_timestamp_seconds":
                 ("Newest successful feed poll of any worker.", last),
                 "newsbot_scheduler_heartbeat_timestamp_seconds":
                 ("Last beat of this process's service loop.", self.heartbeat)}
        families: list[Metric] = [_gauge(name, text, values[name])
                                  for name, text in _SHARED.items() if name in values]
        families += [_gauge(name, text, value) for name, (text, value) in times.items()
                     if value is not None]
        families.append(_gauge("newsbot_redis_up", "1 if Redis answered this scrape.",
                               1.0 if values else 0.0))
        return families

    async def _shared_state(self) -> dict[str, float]:
        depth = await self.outbox.depth()
        dead = await self.outbox.letters.count()
        held = 0
        for chat in await self.chats.held_chats():
            held += len(await self.chats.held(chat))
        values = {"newsbot_outbox_depth": float(depth), "newsbot_outbox_dead_letters":
                  float(dead), "newsbot_held_alerts": float(held),
                  "newsbot_chats_paused": float(await self.chats.paused_count())}
        if self.engine is not None:
            values["newsbot_feeds_deactivated"] = float(len(await self.engine.deactivated()))
        if self.websub is not None:
            values["newsbot_websub_subscriptions_active"] = float(
                await self.websub.active_count())
        return values


_SHARED: Mapping[str, str] = {
    "newsbot_outbox_depth": "Outbox entries not yet delivered (all workers).",
    "newsbot_outbox_dead_letters": "Outbox entries given up on, waiting for `newsbot outbox`.",
    "newsbot_held_alerts": "Alerts held while their chats are muted or in quiet hours.",
    "newsbot_feeds_deactivated": "Feeds switched off after repeated failures.",
    "newsbot_chats_paused": "Chats the bot can no longer post to (blocked, removed, archived); "
                            "their alerts are held until the bot is added back.",
    "newsbot_websub_subscriptions_active": "WebSub subscriptions verified and not expired.",
}


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
