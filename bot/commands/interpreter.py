"""The interpreter: reads a command's word, finds the area that answers it, and turns usage
mistakes and refusals into replies. Each area (rules, topics, digest, holds, feeds, status,
chat) lives in its own module with the handlers for its commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from bot.alerts import AlertComposer
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands.call import Call, Handler, RefusedError, UsageError, language
from bot.commands.chat import ChatCommands
from bot.commands.digest import DigestCommands
from bot.commands.feeds import FeedCommands
from bot.commands.holds import HoldCommands
from bot.commands.protocol import CommandReply, CommandRequest, split_command
from bot.commands.ranking import StoryRanking
from bot.commands.rules import RuleCommands
from bot.commands.status import StatusCommands
from bot.commands.topics import TopicCommands
from bot.digest import Digests
from bot.feeds.guard import Resolver
from bot.feeds.guard import resolve as resolve_host
from bot.models import FeedSpec
from bot.routing import RuleBook
from bot.store import AddedFeeds, Store
from bot.text import without_lone_surrogates

HELP = ("help", "rule_add", "rule_list", "rule_del", "rule_test", "topics", "subscribe",
        "unsubscribe", "digest_at", "digest_off", "digest_now", "mute", "mute_mode", "unmute",
        "quiet", "tz", "feeds", "feeds_add", "feeds_del", "status", "lang", "whoami")


class CommandInterpreter:
    """Runs chat commands against the store; the same words on every platform."""

    def __init__(self, store: Store, *, chats: ChatDirectory, rules: RuleBook, archive: Archive,
                 admins: Sequence[str] = (), feeds: Sequence[FeedSpec] = (),
                 digests: Digests | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 resolve: Resolver = resolve_host) -> None:
        self.store = store
        self.chats = chats
        self.rules = rules
        self.archive = archive
        self.digests = digests or Digests(
            store, chats=chats, rules=rules, archive=archive,
            composer=AlertComposer(chats=chats, archive=archive), clock=clock)
        self.admins = frozenset(admins)
        self.feeds = tuple(feeds)
        self.added_feeds = AddedFeeds(store)
        self.clock = clock
        self._feeds = FeedCommands(admins=self.admins, feeds=self.feeds,
                                   added_feeds=self.added_feeds, resolve=resolve)
        self._digest = DigestCommands(chats=chats, digests=self.digests, clock=clock)
        self._ranking = StoryRanking(store, archive=archive, rules=rules)
        self._handlers: dict[str, Handler] = {
            "start": self._help, "help": self._help,
            **RuleCommands(chats=chats, rules=rules, ranking=self._ranking).handlers(),
            **TopicCommands(chats=chats, rules=rules).handlers(),
            **self._digest.handlers(), **HoldCommands(chats=chats).handlers(),
            **self._feeds.handlers(),
            **StatusCommands(store, chats=chats, admins=self.admins,
                             feeds=self._feeds).handlers(),
            **ChatCommands(chats=chats, admins=self.admins).handlers()}

    @property
    def window(self) -> timedelta:
        """How far back stored articles reach (the archive's time to live)."""
        return self._ranking.window

    async def handle(self, request: CommandRequest) -> CommandReply:
        """Run one command and return the reply; malformed commands get their usage line.

        A lone surrogate in the text (a chat client's bad `\\ud800` escape) becomes U+FFFD,
        so nothing downstream (folding, Redis) meets a string it cannot encode."""
        name, args = split_command(without_lone_surrogates(request.text))
        call = Call(chat=request.chat, user=request.user, can_manage=request.can_manage,
                    lang=await language(self.chats, request.chat), now=self.clock())
        handler = self._handlers.get(name or "help")
        if handler is None:
            return call.fail("unknown", command=name[:32])
        try:
            return await handler(call, args)
        except UsageError as exc:
            usage = "\n".join(call.t(f"usage.{key}") for key in exc.keys)
            return call.fail("usage", usage=usage)
        except RefusedError as exc:
            return call.fail(exc.key)

    async def digest(self, chat: str) -> CommandReply:
        """The chat's digest now, as `/digest now` shows it (bot/commands/digest.py)."""
        return await self._digest.digest(chat)

    async def _help(self, call: Call, args: str) -> CommandReply:
        """`/start`, `/help`: what the bot does and one usage line per command."""
        return call.reply(call.t("help.intro"), *(call.t(f"usage.{key}") for key in HELP))
