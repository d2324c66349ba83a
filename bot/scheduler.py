"""The long-running service: the polling engine, APScheduler for periodic jobs, delivery.

Feeds are polled by the engine (bot/feeds/engine.py), whose schedule lives in Redis so that
several `newsbot run` processes share it; APScheduler runs the periodic jobs around it, such
as syncing the engine with feeds added or deleted from chat. The outbox is a consumer group
every worker reads (bot/outbox.py); Telegram's long polling runs in one worker at a time, the
holder of the `telegram:poller` lease (`bot.store.Leader`, taken over when its holder dies).
With NEWSBOT_PUBLIC_URL set, every worker answers WebSub hubs at /websub/<feed id> and one
at a time (the `websub` lease) keeps the subscriptions (bot/feeds/websub.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr

from bot.app import App
from bot.errors import ConfigError
from bot.http import HttpServer, build_http_app, health_routes, monitor_routes
from bot.platforms.slack import SlackChannel, SlackFrontEnd
from bot.platforms.telegram import TelegramChannel, TelegramFrontEnd
from bot.store import Leader

log = logging.getLogger(__name__)


FEED_SYNC_SECONDS = 30.0
POLLER_LEASE_SECONDS = 15.0  # a dead poller's successor on another host waits this long
DIGEST_TICK_SECONDS = 60.0


async def sync_feeds(app: App) -> None:
    """Start polling feeds added from chat and stop polling deleted ones (shared schedule)."""
    try:
        added = await app.engine.sync()
    except Exception:  # Redis away for a moment: the next sync tries again
        log.exception("scheduler: syncing the feeds failed")
        return
    if added:
        log.info("scheduler: feeds scheduled", extra={"kv": {"added": added}})


async def serve(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Poll on schedule and deliver until SIGINT/SIGTERM (or `stop`)."""
    stop = stop or asyncio.Event()
    async with AsyncExitStack() as stack:
        poller = await _front_ends(app, stack)
        leading = None
        if poller is not None:
            leader = Leader(app.store, "telegram:poller", ttl=POLLER_LEASE_SECONDS)
            leading = asyncio.create_task(leader.run(
                stop, elected=poller.start_polling, deposed=poller.stop_polling),
                name="telegram-poller")
        try:
            await _poll_and_deliver(app, stop)
        finally:
            stop.set()
            if leading is not None:
                await leading


async def _front_ends(app: App, stack: AsyncExitStack) -> TelegramFrontEnd | None:
    """Start the bot's HTTP servers (/healthz and webhooks; /metrics on its own address) and
    the command front ends; returns the Telegram front end that polls once elected (None with
    a webhook)."""
    s, routes = app.settings, health_routes(app.monitor)
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
                                    webhook_secret=_secret(s.telegram_webhook_secret),
                                    poll=False)
        routes += tg_front.routes()
    if app.websub is not None:
        routes += app.websub.routes()
    server = await stack.enter_async_context(HttpServer(s.http_port, build_http_app(routes)))
    log.info("http: listening", extra={"kv": {"host": server.host, "port": server.port}})
    await _metrics_server(app, stack)
    if tg_front is None:
        return None
    await stack.enter_async_context(tg_front)
    return None if tg_front.webhook_url else tg_front


async def _metrics_server(app: App, stack: AsyncExitStack) -> HttpServer | None:
    """/metrics and /healthz on NEWSBOT_METRICS_HOST:NEWSBOT_METRICS_PORT. A port already
    taken (a second worker on one host with the default) is logged as an error and the
    service runs on without it: metrics never stop alerts."""
    s = app.settings
    try:
        server = await stack.enter_async_context(HttpServer(
            s.metrics_port, build_http_app(monitor_routes(app.monitor)), host=s.metrics_host))
    except ConfigError as exc:
        log.error("metrics: not served (give each worker on one host its own "
                  "NEWSBOT_METRICS_PORT, or 0 for a free one)", extra={"kv": {
                      "host": s.metrics_host, "port": s.metrics_port, "error": str(exc)}})
        return None
    log.info("metrics: listening", extra={"kv": {"host": server.host, "port": server.port,
                                                 "url": f"{server.url}/metrics"}})
    return server


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


async def _digest_tick(app: App) -> None:
    """Send due digests and release held alerts; an error is logged, the job stays."""
    try:
        await app.digests.tick(app.channels)
    except Exception:  # the next tick retries; one bad chat must not stop the scheduler
        log.exception("scheduler: digest tick failed")


async def _poll_and_deliver(app: App, stop: asyncio.Event) -> None:
    """Run the polling engine, the periodic jobs and the delivery loop until `stop` is set."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app.digests.pacer.stop = stop  # a digest waiting for its slot gives way at shutdown
    scheduler = AsyncIOScheduler(timezone=UTC)
    await sync_feeds(app)
    scheduler.add_job(sync_feeds, "interval", args=(app,), seconds=FEED_SYNC_SECONDS,
                      id="sync-feeds", max_instances=1, coalesce=True)
    # Digests due (a late one on start too) and held alerts whose mute or quiet hours ended.
    scheduler.add_job(_digest_tick, "interval", args=(app,), seconds=DIGEST_TICK_SECONDS,
                      id="digests", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC))
    scheduler.add_job(app.monitor.beat, "interval", seconds=app.monitor.heartbeat_seconds,
                      id="heartbeat", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC))
    scheduler.start()
    log.info("scheduler: started", extra={"kv": {"feeds": len(app.feeds)}})
    polling = asyncio.create_task(app.engine.run(stop), name="polling")
    delivery = asyncio.create_task(app.deliverer.run(stop), name="delivery")
    app.monitor.watch(polling=polling, delivery=delivery)
    websub = None
    if app.websub is not None:
        websub = asyncio.create_task(app.websub.run(stop), name="websub")
        app.monitor.watch(websub=websub)
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await polling
        await delivery
        if websub is not None:
            await websub
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("scheduler: stopped")
