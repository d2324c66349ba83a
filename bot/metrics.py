"""What one process counts (Prometheus counters), in memory, where it happens.

`App` builds one `Metrics` and hands it to everything that counts: the polling engine, the
pipeline, the outbox's deliverer, the WebSub callback, and the `bot.monitor.Monitor` that
serves it (with the gauges of the shared state) on the bot's HTTP server (bot/http.py:
`/metrics`). This module sits low: it knows the records it counts only by the fields it reads.

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

The gauges read from Redis at scrape time are `bot.monitor`'s. Labels are fixed words, never
a URL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.errors import FeedError
from bot.models import Story

LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)


class Polled(Protocol):
    """What counting reads of a finished poll (`bot.feeds.poll.PollResult`)."""

    @property
    def error(self) -> FeedError | None: ...
    @property
    def not_modified(self) -> bool: ...
    @property
    def cut(self) -> int: ...


class Placed(Protocol):
    """What counting reads of an article's placement (`bot.dedup.index.Assignment`)."""

    @property
    def kind(self) -> str: ...


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

    def polled(self, result: Polled) -> None:
        """Count one finished poll (the engine calls this for every feed it polls)."""
        if result.error is not None:
            self.feeds_polled.labels(result="error").inc()
            self.fetch_errors.labels(kind=result.error.kind).inc()
            return
        self.feeds_polled.labels(result="not_modified" if result.not_modified else "ok").inc()
        if result.cut:
            self.items_cut.inc(result.cut)
        self.last_poll = time.time()

    def processed(self, assignment: Placed | None) -> None:
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
