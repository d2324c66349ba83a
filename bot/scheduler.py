"""The long-running service: runs what `App.serving` built until SIGINT/SIGTERM.

Feeds are polled by the engine (bot/feeds/engine.py), whose schedule lives in Redis so that
several `newsbot run` processes share it; APScheduler runs the periodic jobs around it, such
as syncing the engine with feeds added or deleted from chat. The outbox is a consumer group
every worker reads (bot/outbox.py); Telegram's long polling runs in one worker at a time, the
holder of the `telegram:poller` lease (`bot.store.Leader`, taken over when its holder dies).
With NEWSBOT_PUBLIC_URL set, every worker answers WebSub hubs at /websub/<feed id> and one
at a time (the `websub` lease) keeps the subscriptions (bot/feeds/websub.py).

Nothing is built here: the front ends, HTTP servers, loops and jobs are `App`'s (bot/app.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.service import Service

log = logging.getLogger(__name__)


async def serve(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Poll on schedule and deliver until SIGINT/SIGTERM (or `stop`); the app's own stop
    event (`App.stop`, which every wait for a platform's slot gives way to) is set then."""
    stop = stop or app.stop
    async with app.serving() as service:
        leading = None
        if service.lead is not None:
            leading = asyncio.create_task(service.lead(stop), name="telegram-poller")
        try:
            await _run(app, service, stop)
        finally:
            stop.set()
            app.stop.set()
            if leading is not None:
                await leading


async def _run(app: App, service: Service, stop: asyncio.Event) -> None:
    """Run the periodic jobs and the long-running loops until `stop` is set."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.warm_up()  # a signal meanwhile is kept: the jobs then stop at once
    scheduler = AsyncIOScheduler(timezone=UTC)
    for job in service.jobs:
        if job.first == "awaited":
            await job.call()
        start = {"next_run_time": datetime.now(UTC)} if job.first == "now" else {}
        scheduler.add_job(job.call, "interval", seconds=job.seconds, id=job.name,
                          max_instances=1, coalesce=True, **start)
    scheduler.start()
    log.info("scheduler: started", extra={"kv": {"feeds": len(app.feeds)}})
    tasks = {name: asyncio.create_task(run(stop), name=name)
             for name, run in service.loops.items()}
    app.monitor.watch(**tasks)
    try:
        await stop.wait()
    finally:
        app.stop.set()  # a digest or an alert waiting for its slot gives way at shutdown
        scheduler.shutdown(wait=False)
        for task in tasks.values():
            await task
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("scheduler: stopped")
