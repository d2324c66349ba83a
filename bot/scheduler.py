"""The long-running service: one APScheduler interval job per feed, delivery alongside."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.models import FeedSpec

log = logging.getLogger(__name__)


def schedule_feeds(app: App, scheduler: AsyncIOScheduler) -> None:
    """Add a poll job per feed, first run now, never two polls of one feed at once."""
    for feed in app.feeds:
        scheduler.add_job(_poll_job, "interval", args=(app, feed), seconds=feed.interval,
                          id=f"poll:{feed.id}", next_run_time=datetime.now(UTC),
                          max_instances=1, coalesce=True, misfire_grace_time=None)


async def _poll_job(app: App, feed: FeedSpec) -> None:
    """Poll one feed; an unexpected error is logged and the job stays scheduled."""
    try:
        await app.poll(feed)
    except Exception:  # one feed's bug must not stop the scheduler
        log.exception("scheduler: poll job failed", extra={"kv": {"feed_id": feed.id}})


async def serve(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Poll on schedule and deliver until SIGINT/SIGTERM (or `stop`)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scheduler = AsyncIOScheduler(timezone=UTC)
    schedule_feeds(app, scheduler)
    scheduler.start()
    log.info("scheduler: started", extra={"kv": {"feeds": len(app.feeds)}})
    delivery = asyncio.create_task(app.deliverer.run(stop), name="delivery")
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await delivery
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("scheduler: stopped")
