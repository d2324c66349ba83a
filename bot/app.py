"""One place wires everything: store, rules, story index, pipeline, outbox, channels, feeds,
and for `newsbot run` the front ends, the HTTP servers and the periodic jobs (`serving`, in
bot/service.py).

Shared pieces are built here once and passed in at construction: the `Metrics` every
counting object increments, the stop event every wait for a platform's slot gives way to
(`stop`), the pacer of digests and notices. Nothing is assigned onto an object after it is
built; bot/scheduler.py runs what `serving` built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from types import TracebackType
from typing import Self

from bot import i18n
from bot.alerts import AlertComposer
from bot.archive import Archive
from bot.channel import Channel
from bot.chats import ChatDirectory
from bot.commands import AddedFeeds, CommandInterpreter
from bot.config import Settings
from bot.dedup.index import StoryIndex
from bot.digest import Digests
from bot.errors import ChannelError, FeedError
from bot.feeds.engine import PollEngine, PollPolicy
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import PollResult, commit_poll, poll_feed
from bot.feeds.sources import load_feeds
from bot.feeds.websub import WebSub
from bot.logs import redact
from bot.metrics import Metrics
from bot.models import FeedSpec, Topic
from bot.monitor import Monitor
from bot.outbox import Deliverer, Outbox
from bot.pacing import Pacer, PacingStoppedError
from bot.pipeline import Outcome, Pipeline
from bot.platforms.console import ConsoleChannel
from bot.routing import RuleBook
from bot.rules.entities import Entities
from bot.rules.topics import load_rule_files
from bot.service import ServiceWiring
from bot.store import Store, open_store
from bot.timeparse import utc_now

log = logging.getLogger(__name__)

CONSOLE_CHAT = "console:local"


def _log_rule_engine(rules: RuleBook) -> None:
    """One line at start: which path the rule engine runs, the C core or pure Python."""
    if rules.ruleset.native:
        log.info("rules: engine runs the C core", extra={"kv": {
            "path": "c", "module": "bot.rules._cmatch"}})
    else:
        log.info("rules: engine runs pure Python (bot.rules._cmatch not built: reinstall "
                 "with a C compiler for about 10x faster matching)", extra={"kv": {
                     "path": "python", "module": "bot.rules.engine"}})


class App(ServiceWiring):
    """The running bot; an async context manager that owns every long-lived resource."""

    def __init__(self, settings: Settings, *, channels: Sequence[Channel] | None = None) -> None:
        self.settings = settings
        rule_files = load_rule_files(settings.rules_dir)
        self.entities: Entities = rule_files.entities  # the one catalog rules are parsed against
        self.topics: list[Topic] = rule_files.topics
        self.feeds: list[FeedSpec] = load_feeds(settings.feeds_file)
        self._file_feed_ids = frozenset(f.id for f in self.feeds)
        self._extra_channels = list(channels or [])
        self._stack = AsyncExitStack()
        self.metrics = Metrics()  # this process's counters, given to everything that counts
        self.stop = asyncio.Event()  # set at shutdown: waits for a platform's slot give way
        self.clock: Callable[[], datetime] = utc_now  # the one clock of every part that reads it

    async def __aenter__(self) -> Self:
        s = self.settings
        url = s.redis_url.get_secret_value() if s.redis_url else None
        self.store: Store = await self._stack.enter_async_context(
            open_store(redis_url=url, data_dir=s.data_dir, prefix=s.key_prefix))
        self.fetcher = await self._stack.enter_async_context(
            Fetcher(timeout=s.fetch_timeout, max_bytes=s.max_feed_bytes,
                    max_items=s.max_items_per_feed, connect_timeout=s.fetch_connect_timeout,
                    max_connections=max(100, s.poll_concurrency),
                    user_agent=s.http_user_agent))
        self.chats = ChatDirectory(self.store)
        self.rules = RuleBook(self.topics, self.chats, entities=self.entities)
        _log_rule_engine(self.rules)
        self.outbox = Outbox(self.store)
        await self.outbox.ensure_group()
        self.index = StoryIndex(self.store, window_seconds=s.window_seconds,
                                seen_seconds=int(s.seen_days * 86_400))
        self.archive = Archive(self.store, ttl=s.window_seconds + 86_400)
        self.pipeline = Pipeline(self.store, index=self.index, rules=self.rules,
                                 outbox=self.outbox, archive=self.archive,
                                 metrics=self.metrics, clock=self.clock)
        self.composer = AlertComposer(chats=self.chats, archive=self.archive)
        self.pacer = Pacer(self.store, stop=self.stop)  # digests and notices to admins
        self.digests = Digests(self.store, chats=self.chats, rules=self.rules,
                               archive=self.archive, composer=self.composer, pacer=self.pacer,
                               clock=self.clock)
        self.commands = CommandInterpreter(
            self.store, chats=self.chats, rules=self.rules, archive=self.archive,
            admins=(*s.admins, CONSOLE_CHAT), feeds=self.feeds, digests=self.digests,
            clock=self.clock)
        self.channels = {c.platform: c for c in [ConsoleChannel(), *await self._platforms(),
                                                 *self._extra_channels]}
        self.deliverer = Deliverer(self.store, self.outbox, self.channels,
                                   composer=self.composer,  # a consumer name of its own
                                   admins=self.settings.admins, metrics=self.metrics,
                                   stop=self.stop, clock=self.clock)
        self.websub = await self._websub()
        self.engine = self._poll_engine()
        self.monitor = Monitor(self.store, outbox=self.outbox, chats=self.chats,
                               engine=self.engine, websub=self.websub,
                               metrics=self.metrics, max_poll_age=s.max_poll_age)
        if not (s.telegram_enabled or s.slack_enabled):
            for topic in self.topics:
                await self.chats.subscribe(CONSOLE_CHAT, topic.name)
        return self

    async def _platforms(self) -> list[Channel]:
        """The chat platforms whose tokens are set, started (their connections checked)."""
        s, channels = self.settings, list[Channel]()
        if s.telegram_bot_token is not None:
            from bot.platforms.telegram import TelegramChannel

            channels.append(await self._stack.enter_async_context(TelegramChannel(
                token=s.telegram_bot_token.get_secret_value(), api_url=s.telegram_api_url)))
        if s.slack_bot_token is not None:
            from bot.platforms.slack import SlackChannel

            channels.append(await self._stack.enter_async_context(SlackChannel(
                token=s.slack_bot_token.get_secret_value(), api_url=s.slack_api_url,
                buttons=bool(s.slack_signing_secret or s.slack_app_token))))  # presses answered
        return channels

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._stack.aclose()

    # --- the service (`newsbot run`) ----------------------------------------------------------

    def _policy(self) -> PollPolicy:
        s = self.settings
        return PollPolicy(min_interval=s.poll_min_interval, max_interval=s.poll_max_interval,
                          backoff_base=s.poll_backoff_base, backoff_max=s.poll_backoff_max,
                          max_failures=s.poll_max_failures)

    def _poll_engine(self) -> PollEngine:
        """The polling engine over the shared schedule, feeding the pipeline."""
        s = self.settings
        return PollEngine(self.store, self.fetcher, source=self.all_feeds,
                          handle=self.handle_poll, untrusted=self.from_chat,
                          on_deactivated=self.feed_deactivated,
                          min_delay=self.websub.poll_floor if self.websub else None,
                          policy=self._policy(), concurrency=s.poll_concurrency,
                          per_host=s.poll_per_host, lease_seconds=s.poll_lease,
                          metrics=self.metrics)

    async def _websub(self) -> WebSub | None:
        """Subscriptions to the hubs feeds advertise, when NEWSBOT_PUBLIC_URL is set."""
        s = self.settings
        if s.public_url is None:
            return None
        return await self._stack.enter_async_context(WebSub(
            self.store, source=self.all_feeds, handle=self.process, public_url=s.public_url,
            untrusted=self.from_chat, policy=self._policy(), lease_seconds=s.websub_lease,
            max_bytes=s.max_feed_bytes, max_items=s.max_items_per_feed, timeout=s.fetch_timeout,
            connect_timeout=s.fetch_connect_timeout,
            allow_networks=self.fetcher.allow_networks, user_agent=s.http_user_agent,
            metrics=self.metrics))

    def from_chat(self, feed: FeedSpec) -> bool:
        """True for a feed added from chat (fetched through the SSRF guard), not the file's."""
        return feed.id not in self._file_feed_ids

    async def feed_deactivated(self, feed: FeedSpec, error: FeedError) -> None:
        """Tell the admins a feed was switched off: a warning in the log, a notice on the
        console, and a direct message to each admin on Telegram or Slack (in the language
        they chose with /lang), paced like every message; a failed notice is logged."""
        location, shown = redact(feed.location), redact(str(error))
        notice = (f"[FEED OFF] feed {feed.id} ({location}) was deactivated after repeated "
                  f"failures: {shown}. Admins: {', '.join(self.settings.admins) or 'none set'}")
        log.warning("feeds: feed deactivated; admins told", extra={"kv": {
            "feed_id": feed.id, "feed_url": location, "kind": error.kind,
            "admins": ",".join(self.settings.admins), "error": shown}})
        console = self.channels.get("console")
        if isinstance(console, ConsoleChannel):
            print(notice, file=console.stream, flush=True)
        for admin in self.settings.admins:
            channel = self.channels.get(admin.partition(":")[0])
            if channel is None or channel is console:
                continue
            lang = await self.chats.language(admin) or i18n.DEFAULT_LANGUAGE
            reason = (i18n.text(lang, "feeds.off_blocked") if error.kind == "blocked" else
                      i18n.text(lang, "feeds.off_failures",
                                failures=self.settings.poll_max_failures))
            text = i18n.text(lang, "feeds.off_notice", id=feed.id, location=location,
                             reason=reason, error=shown)
            try:
                for message in channel.notice_messages(text):
                    await self.pacer.call(admin, channel.platform, channel.post, admin,
                                          message)
            except (ChannelError, PacingStoppedError) as exc:
                log.warning("feeds: could not tell an admin", extra={"kv": {
                    "admin": admin, "feed_id": feed.id, "error": str(exc)}})

    async def all_feeds(self) -> list[FeedSpec]:
        """The feeds file's feeds plus those admins added from chat."""
        added = await AddedFeeds(self.store).all()
        return [*self.feeds, *(f for f in added if f.id not in self._file_feed_ids)]

    async def handle_poll(self, result: PollResult) -> list[Outcome]:
        """The polling engine's handler: the articles through the pipeline, then the
        document's WebSub hub noted (pushes take `process` alone)."""
        outcomes = await self.process(result)
        if self.websub is not None:
            await self.websub.discovered(result)
        return outcomes

    async def process(self, result: PollResult) -> list[Outcome]:
        """Run a poll's (or a push's) articles through the pipeline, a chunk at a time."""
        return await self.pipeline.process_many(result.articles)

    async def run_once(self) -> int:
        """Poll every feed once, process all articles (delivering after each chunk of them);
        returns the messages delivered."""
        gate = asyncio.Semaphore(self.settings.poll_concurrency)

        async def fetch(feed: FeedSpec) -> PollResult:
            async with gate:
                return await poll_feed(feed, store=self.store, fetcher=self.fetcher,
                                       guard=self.from_chat(feed))

        results = await asyncio.gather(*(fetch(f) for f in await self.all_feeds()))
        delivered = 0
        async for _ in self.pipeline.process_chunks([a for r in results for a in r.articles]):
            delivered += await self.deliverer.drain()  # each chunk's alerts as soon as queued
        for result in results:
            await commit_poll(result, store=self.store)
        return delivered + await self.deliverer.drain()
