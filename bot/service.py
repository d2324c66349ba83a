"""What `newsbot run` runs, as App wires it (`App.serving`): the command front ends, the HTTP
servers (/healthz and webhooks; /metrics on its own address), the long-running loops and
the periodic jobs. bot/scheduler.py runs them; nothing here runs on its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import SecretStr

from bot.channel import Channel
from bot.commands import CommandInterpreter
from bot.config import Settings
from bot.dedup.index import StoryIndex
from bot.digest import Digests
from bot.errors import ConfigError
from bot.feeds.engine import PollEngine
from bot.feeds.websub import WebSub
from bot.http import HttpServer, build_http_app, health_routes, monitor_routes
from bot.models import Article
from bot.monitor import Monitor
from bot.outbox import Deliverer
from bot.store import Leader, Store

if TYPE_CHECKING:  # the front ends' libraries are imported for the service only
    from bot.platforms.telegram import TelegramFrontEnd

log = logging.getLogger("bot.scheduler")  # the service's lines, as they always were

FEED_SYNC_SECONDS = 30.0
POLLER_LEASE_SECONDS = 15.0  # a dead poller's successor on another host waits this long
DIGEST_TICK_SECONDS = 60.0

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]  # runs until the event is set


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job of the service: `call` every `seconds`, first `awaited` before the
    scheduler starts, run `now` as it starts, or one interval `later`."""

    name: str
    call: Callable[[], Awaitable[None]]
    seconds: float
    first: Literal["awaited", "now", "later"] = "later"


@dataclass(frozen=True, slots=True)
class Service:
    """What `newsbot run` runs, built by `App.serving` (servers listening, front ends
    started): the long-running loops by name, the periodic jobs, and the Telegram command
    poller's campaign for its lease (None with a webhook or without Telegram)."""

    loops: dict[str, Loop]
    jobs: tuple[Job, ...]
    lead: Loop | None = None


# Analysed once in a thread before the first poll (`ServiceWiring.warm_up`): the segmenter's
# and the bilingual dictionary's first use loads them (seconds on a busy machine), which would
# otherwise stall the event loop, /healthz and /metrics included, during the first poll.
WARM_UP = Article(outlet="newsbot", title="韩国召见俄罗斯大使 South Korea summons envoy",
                  text="韓國外交部週一召見俄羅斯駐首爾大使。")


class ServiceWiring:
    """App's part that builds the service (App holds the pieces it is built from)."""

    settings: Settings
    store: Store
    channels: dict[str, Channel]
    commands: CommandInterpreter
    digests: Digests
    deliverer: Deliverer
    engine: PollEngine
    websub: WebSub | None
    monitor: Monitor
    index: StoryIndex

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Service]:
        """Start the HTTP servers (/healthz and webhooks; /metrics on its own address) and
        the command front ends; yields what the service runs, and stops them on exit."""
        async with AsyncExitStack() as stack:
            routes, telegram = await self._front_ends(stack)
            server = await stack.enter_async_context(HttpServer(
                self.settings.http_port, build_http_app([*health_routes(self.monitor),
                                                         *routes])))
            log.info("http: listening", extra={"kv": {
                "host": server.host, "port": server.port}})
            await self._metrics_server(stack)
            lead = None
            if telegram is not None:
                await stack.enter_async_context(telegram)
                lead = None if telegram.webhook_url else self._poller(telegram)
            yield Service(loops=self._loops(), jobs=self._jobs(), lead=lead)

    async def _front_ends(self, stack: AsyncExitStack
                          ) -> tuple[list[web.RouteDef], TelegramFrontEnd | None]:
        """The routes of the command front ends (Slack's started) and of WebSub, and the
        Telegram front end, started once the HTTP server listens."""
        from bot.platforms.slack import SlackChannel, SlackFrontEnd
        from bot.platforms.telegram import TelegramChannel, TelegramFrontEnd

        s, routes = self.settings, list[web.RouteDef]()
        slack = self.channels.get("slack")
        if isinstance(slack, SlackChannel) and (s.slack_signing_secret or s.slack_app_token):
            front = await stack.enter_async_context(SlackFrontEnd(
                slack, self.commands, signing_secret=_secret(s.slack_signing_secret),
                app_token=_secret(s.slack_app_token)))
            routes += front.routes()
        telegram = self.channels.get("telegram")
        tg_front = None
        if isinstance(telegram, TelegramChannel):
            tg_front = TelegramFrontEnd(telegram, self.commands,
                                        webhook_url=s.telegram_webhook_url,
                                        webhook_secret=_secret(s.telegram_webhook_secret),
                                        poll=False)
            routes += tg_front.routes()
        if self.websub is not None:
            routes += self.websub.routes()
        return routes, tg_front

    async def warm_up(self) -> None:
        """Load the text analysis' dictionaries in a thread (see WARM_UP)."""
        await asyncio.to_thread(self.index.analyzer.analyse, WARM_UP)

    def _poller(self, front: TelegramFrontEnd) -> Loop:
        """Telegram's long polling, in one worker at a time: the holder of the lease."""
        leader = Leader(self.store, "telegram:poller", ttl=POLLER_LEASE_SECONDS)
        return functools.partial(leader.run, elected=front.start_polling,
                                 deposed=front.stop_polling)

    async def _metrics_server(self, stack: AsyncExitStack) -> HttpServer | None:
        """/metrics and /healthz on NEWSBOT_METRICS_HOST:NEWSBOT_METRICS_PORT. A port already
        taken (a second worker on one host with the default) is logged as an error and the
        service runs on without it: metrics never stop alerts."""
        s = self.settings
        try:
            server = await stack.enter_async_context(HttpServer(
                s.metrics_port, build_http_app(monitor_routes(self.monitor)),
                host=s.metrics_host))
        except ConfigError as exc:
            log.error("metrics: not served (give each worker on one host its own "
                      "NEWSBOT_METRICS_PORT, or 0 for a free one)", extra={"kv": {
                          "host": s.metrics_host, "port": s.metrics_port, "error": str(exc)}})
            return None
        log.info("metrics: listening", extra={"kv": {
            "host": server.host, "port": server.port, "url": f"{server.url}/metrics"}})
        return server

    def _loops(self) -> dict[str, Loop]:
        """The service's long-running tasks, each until its stop event is set."""
        loops: dict[str, Loop] = {"polling": self.engine.run, "delivery": self.deliverer.run}
        if self.websub is not None:
            loops["websub"] = self.websub.run
        return loops

    def _jobs(self) -> tuple[Job, ...]:
        """The periodic jobs: the feeds added or deleted from chat (once before the rest),
        digests due (a late one on start too) and held alerts whose mute or quiet hours
        ended, and the heartbeat the health check reads."""
        return (Job("sync-feeds", self.sync_feeds, FEED_SYNC_SECONDS, first="awaited"),
                Job("digests", self.digest_tick, DIGEST_TICK_SECONDS, first="now"),
                Job("heartbeat", self.monitor.beat, self.monitor.heartbeat_seconds,
                    first="now"))

    async def sync_feeds(self) -> None:
        """Start polling feeds added from chat and stop polling deleted ones (shared
        schedule)."""
        try:
            added = await self.engine.sync()
        except Exception:  # Redis away for a moment: the next sync tries again
            log.exception("scheduler: syncing the feeds failed")
            return
        if added:
            log.info("scheduler: feeds scheduled", extra={"kv": {"added": added}})

    async def digest_tick(self) -> None:
        """Send due digests and release held alerts; an error is logged, the job stays."""
        try:
            await self.digests.tick(self.channels)
        except Exception:  # the next tick retries; one bad chat must not stop the scheduler
            log.exception("scheduler: digest tick failed")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
