"""How the service is doing: the health check and the scrape (`Monitor`).

Each process counts its own events (`bot.metrics.Metrics`, built by `App`); `Monitor` adds, at
scrape time, the gauges of the state every worker shares in Redis. Both are served on the
bot's HTTP server (bot/http.py: `/metrics`, `/healthz`).

    newsbot_last_successful_poll_timestamp_seconds  newest successful poll (any worker)
    newsbot_scheduler_heartbeat_timestamp_seconds   this process's last service-loop beat
    newsbot_outbox_depth, newsbot_outbox_dead_letters, newsbot_held_alerts,
    newsbot_feeds_deactivated, newsbot_chats_paused,
    newsbot_websub_subscriptions_active             read from Redis at scrape time
                                                    (chats paused: the bot was blocked, removed
                                                    or the channel archived; see bot.chats)
    newsbot_redis_up                                1 if Redis answered the scrape

Every error text the health report carries goes through `bot.logs.redact`.

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
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.chats import ChatDirectory
from bot.errors import StoreError
from bot.logs import redact
from bot.metrics import Metrics
from bot.store import STORE_DOWN, STORE_FAILURES, Store
from bot.store.outbox import Outbox

log = logging.getLogger("bot.metrics")

HEARTBEAT_SECONDS = 10.0
STALE_BEATS = 3            # the scheduler is dead after this many missed heartbeats
CHECK_TIMEOUT = 2.0        # seconds for Redis to answer a health check or a scrape
_SCRAPE_FAILURES: tuple[type[Exception], ...] = (TimeoutError, *STORE_DOWN)


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
                 metrics: Metrics | None = None,
                 max_poll_age: float = 7200.0,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.store = store
        self.outbox = outbox
        self.chats = chats
        self.engine = engine
        self.websub = websub
        self.metrics = metrics if metrics is not None else Metrics()
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
