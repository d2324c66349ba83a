"""The long-running service: one APScheduler interval job per feed, delivery alongside."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from datetime import UTC, datetime

from aiohttp.web import RouteDef
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr

from bot.app import App
from bot.http import HttpServer, build_http_app
from bot.models import FeedSpec
from bot.platforms.slack import SlackChannel, SlackFrontEnd
from bot.platforms.telegram import TelegramChannel, TelegramFrontEnd

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
    async with AsyncExitStack() as stack:
        await _front_ends(app, stack)
        await _poll_and_deliver(app, stop)


async def _front_ends(app: App, stack: AsyncExitStack) -> None:
    """Start the chat command front ends and, if any needs it, the bot's HTTP server."""
    s, routes = app.settings, list[RouteDef]()
    slack = app.channels.get("slack")
    if isinstance(slack, SlackChannel) and (s.slack_signing_secret or s.slack_app_token):
        front = await stack.enter_async_context(SlackFrontEnd(
            slack, app.commands, signing_secret=_secret(s.slack_signing_secret),
            app_token=_secret(s.slack_app_token)))
        routes += front.routes()
    telegram = app.channels.get("telegram")
    tg_front = None
    if isinstance(telegram, TelegramChannel):
        tg_front = TelegramFrontEnd(telegram, app.commands, webhook_url=s.telegram_webhook_url,
                                    webhook_secret=_secret(s.telegram_webhook_secret))
        routes += tg_front.routes()
    if routes:
        await stack.enter_async_context(HttpServer(s.http_port, build_http_app(routes)))
    if tg_front is not None:
        await stack.enter_async_context(tg_front)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


async def _poll_and_deliver(app: App, stop: asyncio.Event) -> None:
    """Run the poll jobs and the delivery loop until `stop` is set."""
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
