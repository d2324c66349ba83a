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


FEED_SYNC_SECONDS = 30.0


def schedule_feed(app: App, scheduler: AsyncIOScheduler, feed: FeedSpec) -> None:
    """Poll `feed` at its interval, first run now, never two polls of one feed at once."""
    scheduler.add_job(_poll_job, "interval", args=(app, feed), seconds=feed.interval,
                      id=f"poll:{feed.id}", next_run_time=datetime.now(UTC),
                      max_instances=1, coalesce=True, misfire_grace_time=None,
                      replace_existing=True)


async def sync_feeds(app: App, scheduler: AsyncIOScheduler) -> None:
    """Start polling feeds added from chat and stop polling deleted ones."""
    feeds = {f"poll:{f.id}": f for f in await app.all_feeds()}
    jobs = {job.id for job in scheduler.get_jobs() if job.id.startswith("poll:")}
    for job_id in jobs - feeds.keys():
        scheduler.remove_job(job_id)
    for job_id in feeds.keys() - jobs:
        schedule_feed(app, scheduler, feeds[job_id])


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
    await sync_feeds(app, scheduler)
    scheduler.add_job(sync_feeds, "interval", args=(app, scheduler), seconds=FEED_SYNC_SECONDS,
                      id="sync-feeds", max_instances=1, coalesce=True)
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
