"""The platform-neutral command interpreter: command text in, a reply and store changes out.

Telegram handlers, the Slack slash command and `newsbot chat` are thin adapters: they build a
`CommandRequest` and render the `CommandReply`'s plain text for their platform. Replies are in
the chat's `/lang` language; every user-visible string lives in `bot.i18n`.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from urllib.parse import urlsplit

from bot import i18n
from bot.alerts import AlertComposer, StoryList
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.digest import Digests
from bot.errors import RuleError
from bot.feeds.added import AddedFeeds
from bot.feeds.engine import feed_health
from bot.feeds.guard import Resolver, resolves_internal, url_problem
from bot.feeds.guard import resolve as resolve_host
from bot.feeds.outlets import outlet_from_url
from bot.feeds.sources import feed_id
from bot.logs import redact
from bot.models import Article, FeedSpec, Story
from bot.rules.backtest import backtest, describe_error, described_terms
from bot.rules.book import RuleBook
from bot.rules.grammar import Node, RuleOptions, parse_rule
from bot.rules.grammar import format as format_rule
from bot.store import Store
from bot.text import without_lone_surrogates
from bot.timeparse import clock_time, duration, time_range, time_zone

__all__ = ["MAX_RULES_PER_CHAT", "AddedFeeds", "CommandInterpreter", "CommandReply",
           "CommandRequest", "split_command", "url_problem"]

MAX_RULES_PER_CHAT = 100
MAX_MUTE_DAYS = 30
TEST_STORIES = 5
DIGEST_STORIES = 30
STATUS_FEEDS = 20
DIGEST_WINDOW = timedelta(hours=24)
HELP = ("help", "rule_add", "rule_list", "rule_del", "rule_test", "topics", "subscribe",
        "unsubscribe", "digest_at", "digest_off", "digest_now", "mute", "mute_mode", "unmute",
        "quiet", "tz", "feeds", "feeds_add", "feeds_del", "status", "lang", "whoami")

_COMMAND_RE = re.compile(r"/?([^\s@]*)(?:@\S*)?(?:\s+(.*))?", re.DOTALL)
_LANGUAGE_NAMES = {"en": "en", "english": "en", "zh": "zh", "cn": "zh", "zh-cn": "zh",
                   "中文": "zh", "英文": "en"}
RESOLVE_TIMEOUT = 5.0  # seconds for the DNS check of a feed added from chat
_EPOCH = datetime.fromtimestamp(0, tz=UTC)


@dataclass(frozen=True, kw_only=True)
class CommandRequest:
    """One command as typed in a chat.

    `chat` and `user` are platform-qualified (`telegram:-100123`, `slack:U0123`,
    `console:local`). `text` starts with the command: `/rule add 朝鲜 + 派兵`, or
    `/rule@newsbot_bot add ...` as Telegram sends it in groups; Slack's `/newsbot rule add ...`
    arrives as `/` + the slash command's text. `can_manage` is decided by the adapter: True when
    the user may change this chat's rules, topics, digest, mute and language (Telegram private
    chats and chat administrators; Slack and the console: always).
    """

    chat: str
    user: str
    text: str
    can_manage: bool
    chat_title: str | None = None


@dataclass(frozen=True)
class CommandReply:
    """The answer: plain text for the adapter to escape and render, also split into lines.

    `ok` is False for refusals, usage lines and errors (e.g. Slack may show those only to the
    user who typed the command). `stories` is set for `/digest now`: adapters that can show
    links and summaries render it (`Channel.list_messages`) instead of the plain lines.
    """

    text: str
    lines: tuple[str, ...] = ()
    ok: bool = True
    stories: StoryList | None = None


def split_command(text: str) -> tuple[str, str]:
    """`/rule@newsbot_bot add 朝鲜` -> ("rule", "add 朝鲜"): the command word and its arguments."""
    match = _COMMAND_RE.fullmatch(text.strip())
    if match is None:  # pragma: no cover - every string matches
        return "", ""
    return match.group(1).lower(), (match.group(2) or "").strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Call:
    """One command being handled: who asked, where, in which language, and when."""

    chat: str
    user: str
    can_manage: bool
    lang: str
    now: datetime

    def t(self, key: str, **fields: object) -> str:
        """The message `key` in this chat's language."""
        return i18n.text(self.lang, key, max_days=MAX_MUTE_DAYS, **fields)

    def reply(self, *lines: str, ok: bool = True) -> CommandReply:
        """A reply made of `lines` (each may hold several)."""
        split = tuple(part for line in lines for part in line.split("\n"))
        return CommandReply("\n".join(split), split, ok)

    def fail(self, key: str, **fields: object) -> CommandReply:
        """A one-line refusal or error."""
        return self.reply(self.t(key, **fields), ok=False)


class _UsageError(Exception):
    """The command was malformed; answer with the usage lines of `keys`."""

    def __init__(self, *keys: str) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


class _RefusedError(Exception):
    """The user may not do this here; answer with the message `key`."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(slots=True)
class _Hits:
    """The archived articles of one story that a rule (or a chat's rules) matched."""

    titles: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)

    def add(self, article: Article, terms: Iterable[str], rules: Iterable[str] = ()) -> None:
        """Count one matching article."""
        self.titles.append(article.title)
        self.outlets.append(article.outlet)
        self.terms.extend(terms)
        self.rules.update(rules)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Found:
    """A matching story as listed: headline, outlets, times and the terms that matched."""

    headline: str
    outlets: tuple[str, ...]
    first_seen: datetime
    updated: datetime
    terms: tuple[str, ...]
    rules: frozenset[str] = frozenset()


_Handler = Callable[[_Call, str], Awaitable[CommandReply]]


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
        self.resolve = resolve  # host, port -> addresses (DNS); checked when a feed is added
        self._handlers: dict[str, _Handler] = {
            "start": self._help, "help": self._help, "rule": self._rule, "rules": self._rules,
            "topics": self._topics, "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe, "digest": self._digest, "mute": self._mute,
            "unmute": self._unmute, "quiet": self._quiet, "tz": self._tz,
            "feeds": self._feeds, "status": self._status, "lang": self._lang,
            "whoami": self._whoami}

    @property
    def window(self) -> timedelta:
        """How far back stored articles reach (the archive's time to live)."""
        return timedelta(seconds=self.archive.ttl)

    async def handle(self, request: CommandRequest) -> CommandReply:
        """Run one command and return the reply; malformed commands get their usage line.

        A lone surrogate in the text (a chat client's bad `\\ud800` escape) becomes U+FFFD,
        so nothing downstream (folding, Redis) meets a string it cannot encode."""
        name, args = split_command(without_lone_surrogates(request.text))
        call = _Call(chat=request.chat, user=request.user, can_manage=request.can_manage,
                     lang=await self._language(request.chat), now=self.clock())
        handler = self._handlers.get(name or "help")
        if handler is None:
            return call.fail("unknown", command=name[:32])
        try:
            return await handler(call, args)
        except _UsageError as exc:
            usage = "\n".join(call.t(f"usage.{key}") for key in exc.keys)
            return call.fail("usage", usage=usage)
        except _RefusedError as exc:
            return call.fail(exc.key)

    async def digest(self, chat: str) -> CommandReply:
        """The chat's digest now (`bot.digest`): stories first seen in the last 24 hours that
        match its rules or topics, most outlets first, then most recent. The reply's lines
        are one per story; `stories` carries the digest for the platform to render with
        summaries and links."""
        call = _Call(chat=chat, user="", can_manage=False, lang=await self._language(chat),
                     now=self.clock())
        digest = await self.digests.digest(chat, now=call.now)
        if digest is None:
            return call.reply(call.t("digest.follows_nothing"))
        if not digest.stories:
            return call.reply(call.t("digest.empty"))
        lines = [digest.title]
        lines += [call.t("digest.item", rank=n, headline=s.headline,
                         outlets=" · ".join(o for o, _ in s.outlets))
                  for n, s in enumerate(digest.stories, 1)]
        more = [call.t("more", count=digest.more)] if digest.more else []
        return replace(call.reply(*lines, *more), stories=digest)

    async def _language(self, chat: str) -> str:
        return await self.chats.language(chat) or i18n.DEFAULT_LANGUAGE

    # --- help -------------------------------------------------------------------------------

    async def _help(self, call: _Call, args: str) -> CommandReply:
        """`/start`, `/help`: what the bot does and one usage line per command."""
        return call.reply(call.t("help.intro"), *(call.t(f"usage.{key}") for key in HELP))

    # --- rules ------------------------------------------------------------------------------

    async def _rule(self, call: _Call, args: str) -> CommandReply:
        """`/rule add|list|del|test ...`."""
        sub, rest = _first_word(args)
        handlers: dict[str, _Handler] = {
            "add": self._rule_add, "list": self._rules, "ls": self._rules,
            "del": self._rule_del, "delete": self._rule_del, "rm": self._rule_del,
            "test": self._rule_test}
        handler = handlers.get(sub.lower())
        if handler is None:
            raise _UsageError("rule_add", "rule_list", "rule_del", "rule_test")
        return await handler(call, rest)

    async def _rule_add(self, call: _Call, expression: str) -> CommandReply:
        """Validate, store, and say how many stored stories the rule would have matched."""
        _need_manage(call)
        if not expression:
            raise _UsageError("rule_add")
        existing = await self.chats.rules_of(call.chat)
        if len(existing) >= MAX_RULES_PER_CHAT:
            return call.fail("rule.too_many", limit=MAX_RULES_PER_CHAT)
        try:
            parsed = parse_rule(expression, entities=self.rules.entities)
            if same := next((r for r in existing if self._parses_to(r.expression, parsed)),
                            None):
                return call.fail("rule.duplicate", number=_number(same.id))
            rule = await self.chats.add_rule(call.chat, expression)
            found = await self._backtest(expression, now=call.now)
            terms = described_terms(expression, entities=self.rules.entities)
        except RuleError as exc:
            return _invalid(call, exc)
        return call.reply(
            call.t("rule.added", number=_number(rule.id), rule=format_rule(*parsed)),
            *(f"  {t}" for t in terms),
            call.t("rule.window", hours=self._hours, count=len(found)))

    def _parses_to(self, expression: str, parsed: tuple[Node, RuleOptions]) -> bool:
        """True when a stored expression means the same rule (same parse, same options)."""
        try:
            return parse_rule(expression, entities=self.rules.entities) == parsed
        except RuleError:
            return False

    async def _rules(self, call: _Call, args: str) -> CommandReply:
        """`/rules`, `/rule list`: the chat's rules with their ids."""
        _no_args(args, "rule_list")
        rules = await self.chats.rules_of(call.chat)
        if not rules:
            return call.reply(call.t("rule.list.empty"))
        return call.reply(call.t("rule.list.header"), *(
            call.t("rule.list.item", number=_number(r.id), expression=r.expression)
            for r in rules))

    async def _rule_del(self, call: _Call, args: str) -> CommandReply:
        """`/rule del <id>`."""
        _need_manage(call)
        number = args.removeprefix("#")
        if not number.isdecimal():
            raise _UsageError("rule_del")
        number = str(int(number))
        if not await self.chats.delete_rule(call.chat, number):
            return call.fail("rule.not_found", number=number)
        return call.reply(call.t("rule.deleted", number=number))

    async def _rule_test(self, call: _Call, expression: str) -> CommandReply:
        """Backtest without saving: up to five matching stories and the total."""
        if not expression:
            raise _UsageError("rule_test")
        try:
            parsed = parse_rule(expression, entities=self.rules.entities)
            stories = await self._backtest(expression, now=call.now)
            terms = described_terms(expression, entities=self.rules.entities)
        except RuleError as exc:
            return _invalid(call, exc)
        lines = [call.t("rule.test.header", rule=format_rule(*parsed), count=len(stories),
                        hours=self._hours), *(f"  {t}" for t in terms)]
        lines += [call.t("rule.test.item", headline=s.headline, outlets=" · ".join(s.outlets),
                         terms=", ".join(s.terms)) for s in stories[:TEST_STORIES]]
        return call.reply(*lines, *_more(call, len(stories), TEST_STORIES))

    @property
    def _hours(self) -> int:
        return round(self.window.total_seconds() / 3600)

    async def _backtest(self, expression: str, *, now: datetime) -> list[_Found]:
        """The stored stories `expression` matches, ranked; raises RuleError if invalid."""
        pairs = await self.archive.since(now - self.window)
        results = backtest(expression, [a for a, _ in pairs], entities=self.rules.entities)
        hits: dict[str, _Hits] = {}
        for (article, story_id), result in zip(pairs, results, strict=True):
            if result.matched:
                hits.setdefault(story_id, _Hits()).add(article, result.terms)
        return await self._ranked(hits)

    async def _ranked(self, hits: dict[str, _Hits]) -> list[_Found]:
        """The stories behind `hits`, most outlets first, then most recently updated."""
        stories = await self.store.get_stories(list(hits))
        found = [self._found(story, h) for story, h in zip(stories, hits.values(), strict=True)]
        return sorted(found, key=lambda f: (-len(f.outlets), -f.updated.timestamp(),
                                            f.headline))

    @staticmethod
    def _found(story: Story | None, hits: _Hits) -> _Found:
        terms, rules = tuple(dict.fromkeys(hits.terms)), frozenset(hits.rules)
        if story is None:  # the story record aged out before its archived articles
            return _Found(headline=hits.titles[0], outlets=tuple(dict.fromkeys(hits.outlets)),
                          first_seen=_EPOCH, updated=_EPOCH, terms=terms, rules=rules)
        return _Found(headline=story.headline, outlets=story.outlets,
                      first_seen=story.first_seen, updated=story.updated, terms=terms,
                      rules=rules)

    # --- topics -----------------------------------------------------------------------------

    async def _topics(self, call: _Call, args: str) -> CommandReply:
        """`/topics`: every shared topic, marked when this chat follows it."""
        _no_args(args, "topics")
        topics = sorted(self.rules.topics.values(), key=lambda t: t.name)
        if not topics:
            return call.reply(call.t("topics.empty"))
        followed = await self.chats.topics_of(call.chat)
        return call.reply(call.t("topics.header"), *(
            call.t("topics.on" if t.name in followed else "topics.off", name=t.name,
                   description=t.description or t.expression) for t in topics))

    async def _subscribe(self, call: _Call, args: str) -> CommandReply:
        """`/subscribe <topic>`."""
        _need_manage(call)
        name = _one_word(args, "subscribe")
        topic = self._topic_named(name)
        if topic is None:
            return self._unknown_topic(call, name)
        added = await self.chats.subscribe(call.chat, topic)
        return call.reply(call.t("topic.subscribed" if added else "topic.already", topic=topic))

    async def _unsubscribe(self, call: _Call, args: str) -> CommandReply:
        """`/unsubscribe <topic>` (also a topic that was removed from the rule files)."""
        _need_manage(call)
        name = _one_word(args, "unsubscribe")
        followed = await self.chats.topics_of(call.chat)
        topic = name if name in followed else self._topic_named(name)
        if topic is None:
            return self._unknown_topic(call, name)
        removed = await self.chats.unsubscribe(call.chat, topic)
        return call.reply(call.t("topic.unsubscribed" if removed else "topic.not_followed",
                                 topic=topic))

    def _topic_named(self, name: str) -> str | None:
        """The topic called `name`, ignoring case."""
        return {t.lower(): t for t in self.rules.topics}.get(name.lower())

    def _unknown_topic(self, call: _Call, name: str) -> CommandReply:
        """An unknown topic: list the closest names (or all of them, if none is close)."""
        names = sorted(self.rules.topics)
        close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3,
                                          cutoff=0.4)
        shown = [n for n in names if n.lower() in close] or names[:10]
        return call.fail("topic.unknown", topic=name,
                         names=", ".join(shown) or call.t("word.none"))

    # --- digest -----------------------------------------------------------------------------

    async def _digest(self, call: _Call, args: str) -> CommandReply:
        """`/digest at <HH:MM> [<zone>]`, `/digest off`, `/digest now`."""
        sub, rest = _first_word(args)
        sub = sub.lower()
        if sub == "at":
            return await self._digest_at(call, rest)
        if sub == "off" and not rest:
            _need_manage(call)
            cleared = await self.chats.clear_digest(call.chat)
            return call.reply(call.t("digest.off" if cleared else "digest.was_off"))
        if sub == "now" and not rest:
            return await self.digest(call.chat)
        raise _UsageError("digest_at", "digest_off", "digest_now")

    async def _digest_at(self, call: _Call, args: str) -> CommandReply:
        """Store the time (HH:MM) and IANA zone of the chat's daily digest."""
        _need_manage(call)
        parts = args.split()
        if len(parts) not in (1, 2):
            raise _UsageError("digest_at")
        clock = clock_time(parts[0])
        if clock is None:
            return call.fail("digest.bad_time", time=parts[0])
        at = f"{clock:%H:%M}"
        current = await self.chats.digest_of(call.chat)
        wanted = parts[1] if len(parts) == 2 else current[1] if current else "UTC"
        zone = time_zone(wanted)
        if zone is None:
            return call.fail("digest.bad_zone", timezone=wanted)
        await self.chats.set_digest(call.chat, at=at, timezone=zone, now=call.now)
        return call.reply(call.t("digest.set", time=at, timezone=zone))

    # --- mute -------------------------------------------------------------------------------

    async def _mute(self, call: _Call, args: str) -> CommandReply:
        """`/mute <duration>`: hold alerts until then; `/mute mode batch|digest`: where held
        alerts go when the hold ends."""
        _need_manage(call)
        if not args:
            raise _UsageError("mute", "mute_mode")
        sub, rest = _first_word(args)
        if sub.lower() == "mode":
            mode = rest.strip().lower()
            if mode not in ("batch", "digest"):
                raise _UsageError("mute_mode")
            await self.chats.set_held_mode(call.chat, mode)
            return call.reply(call.t(f"mute.mode_{mode}"))
        length = duration(args, maximum=timedelta(days=MAX_MUTE_DAYS))
        if length is None:
            return call.fail("mute.bad", duration=args)
        until = call.now + length
        await self.chats.mute(call.chat, until=until, now=call.now)
        return call.reply(call.t("mute.set", until=_when(until)))

    async def _unmute(self, call: _Call, args: str) -> CommandReply:
        """`/unmute`."""
        _need_manage(call)
        _no_args(args, "unmute")
        lifted = await self.chats.unmute(call.chat)
        return call.reply(call.t("mute.off" if lifted else "mute.was_off"))

    # --- quiet hours and time zone ---------------------------------------------------------

    async def _quiet(self, call: _Call, args: str) -> CommandReply:
        """`/quiet <HH:MM>-<HH:MM>`: hold alerts every day between those times; `/quiet off`."""
        _need_manage(call)
        if args.strip().lower() == "off":
            await self.chats.set_quiet_hours(call.chat, None)
            return call.reply(call.t("quiet.off"))
        hours = time_range(args)
        if hours is None or hours[0] == hours[1]:
            raise _UsageError("quiet")
        await self.chats.set_quiet_hours(call.chat, hours)
        return call.reply(call.t("quiet.set", start=f"{hours[0]:%H:%M}", end=f"{hours[1]:%H:%M}",
                                 timezone=await self.chats.timezone(call.chat)))

    async def _tz(self, call: _Call, args: str) -> CommandReply:
        """`/tz <IANA zone>`: the zone of times in alerts, quiet hours and new digest times."""
        if not args:
            return call.reply(call.t("tz.current", timezone=await self.chats.timezone(call.chat)))
        _need_manage(call)
        if len(args.split()) != 1:
            raise _UsageError("tz")
        zone = time_zone(args.strip())
        if zone is None:
            return call.fail("digest.bad_zone", timezone=args.strip())
        await self.chats.set_timezone(call.chat, zone)
        return call.reply(call.t("tz.set", timezone=zone))

    # --- feeds ------------------------------------------------------------------------------

    async def _feeds(self, call: _Call, args: str) -> CommandReply:
        """`/feeds`, `/feeds add <url> [<outlet>]`, `/feeds del <id>`: bot admins only."""
        if call.user not in self.admins:
            raise _RefusedError("refused.admin")
        sub, rest = _first_word(args)
        sub = sub.lower()
        if not sub:
            return await self._feeds_list(call)
        if sub == "add":
            return await self._feeds_add(call, rest)
        if sub in ("del", "delete", "rm"):
            return await self._feeds_del(call, rest)
        raise _UsageError("feeds", "feeds_add", "feeds_del")

    async def _all_feeds(self) -> list[tuple[FeedSpec, str]]:
        """(feed, origin key) for the feeds file's feeds, then those added from chat."""
        added = [(f, "feeds.origin.chat") for f in await self.added_feeds.all()]
        return [(f, "feeds.origin.file") for f in self.feeds] + added

    async def _feeds_list(self, call: _Call) -> CommandReply:
        feeds = await self._all_feeds()
        return call.reply(call.t("feeds.header", count=len(feeds)), *(
            call.t("feeds.item", id=f.id, location=redact(f.location), origin=call.t(origin),
                   outlet=f" · {f.outlet}" if f.outlet else "") for f, origin in feeds))

    async def _feeds_add(self, call: _Call, args: str) -> CommandReply:
        """Add an http(s) feed with a public host; the id comes from its URL."""
        url, outlet = _first_word(args)
        if not url or len(outlet) > 64:
            raise _UsageError("feeds_add")
        problem = url_problem(url) or await self._resolves_internal(url)
        if problem is not None:
            key, fields = problem
            return call.fail(key, **{k: redact(v) for k, v in fields.items()})
        spec = FeedSpec(id=feed_id(url), url=url, outlet=outlet or None)
        known = {f.id for f, _ in await self._all_feeds()}
        if spec.id in known or not await self.added_feeds.add(spec, by=call.user, at=call.now):
            return call.fail("feeds.exists", id=spec.id)
        return call.reply(call.t("feeds.added", id=spec.id, url=redact(url),
                                 outlet=f" · {outlet}" if outlet else ""))

    async def _resolves_internal(self, url: str) -> tuple[str, dict[str, str]] | None:
        """Refuse a host that resolves (now) to any internal address. A name that does not
        resolve is let through: the fetcher resolves and checks again on every connection and
        every redirect (bot/feeds/guard.py), since DNS answers change."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                blocked = await resolves_internal(host, port, resolver=self.resolve)
        except TimeoutError:
            return None
        return None if blocked is None else ("feeds.resolves_internal",
                                             {"host": host, "address": blocked})

    async def _feeds_del(self, call: _Call, args: str) -> CommandReply:
        """Remove a feed added from chat (the feeds file's feeds are edited in the file)."""
        fid = _one_word(args, "feeds_del")
        if any(f.id == fid for f in self.feeds):
            return call.fail("feeds.in_file", id=fid)
        if not await self.added_feeds.remove(fid):
            return call.fail("feeds.not_found", id=fid)
        return call.reply(call.t("feeds.deleted", id=fid))

    # --- status and language ----------------------------------------------------------------

    async def _status(self, call: _Call, args: str) -> CommandReply:
        """`/status`: feed health and last poll, then this chat's rules, topics, digest, mute."""
        _no_args(args, "status")
        return call.reply(*await self._feed_health(call), *await self._chat_settings(call),
                          *await self._paused_lines(call))

    async def _paused_lines(self, call: _Call) -> list[str]:
        """Whether this chat is paused (the bot cannot post here: alerts held until it is
        added back) and, for bot admins, every paused chat."""
        paused = await self.chats.paused_chats()
        lines = [call.t("status.paused_here", reason=i18n.paused_reason(call.lang, p.reason),
                        since=_when(p.at)) for p in paused.values() if p.chat == call.chat]
        if call.user in self.admins and paused:
            lines.append(call.t("status.paused_chats", chats="; ".join(
                f"{p.chat} ({p.reason}, {_when(p.at)})" for p in paused.values())))
        return lines

    async def _feed_health(self, call: _Call) -> list[str]:
        """The feeds' health: admins see redacted URLs, errors and warnings; everyone else
        names and health only (no URL, no error text, which may quote one)."""
        admin = call.user in self.admins
        states = [(f, await self.store.feed_state(f.id)) for f, _ in await self._all_feeds()]
        failing = [(f, s) for f, s in states if s.get("status") == "error"]
        polls = [float(s["last_poll"]) for _, s in states if s.get("last_poll")]
        ok = sum(s.get("status") == "ok" for _, s in states)
        last = _when(datetime.fromtimestamp(max(polls), tz=UTC)) if polls else None
        lines = [call.t("status.feeds", count=len(states), ok=ok, failing=len(failing),
                        last_poll=last or call.t("word.never"))]
        ordered = failing + [(f, s) for f, s in states if s.get("status") != "error"]
        lines += [_feed_line(call, f, s, admin=admin) for f, s in ordered[:STATUS_FEEDS]]
        return lines + _more(call, len(ordered), STATUS_FEEDS)

    async def _chat_settings(self, call: _Call) -> list[str]:
        none, off = call.t("word.none"), call.t("word.off")
        rules = await self.chats.rules_of(call.chat)
        topics = sorted(await self.chats.topics_of(call.chat))
        digest = await self.chats.digest_of(call.chat)
        muted = await self.chats.muted_until(call.chat, now=call.now)
        quiet = await self.chats.quiet_hours(call.chat)
        held = len(await self.chats.held(call.chat))
        return [
            call.t("status.rules", rules="; ".join(f"#{_number(r.id)} {r.expression}"
                                                   for r in rules) or none),
            call.t("status.topics", topics=", ".join(topics) or none),
            call.t("status.digest", digest=" ".join(digest) if digest else off),
            call.t("status.mute", mute=call.t("status.until", until=_when(muted))
                   if muted else off),
            call.t("status.quiet", quiet=f"{quiet[0]:%H:%M}-{quiet[1]:%H:%M}" if quiet else off,
                   timezone=await self.chats.timezone(call.chat), held=held)]

    async def _lang(self, call: _Call, args: str) -> CommandReply:
        """`/lang en|zh`: the language of this chat's replies."""
        _need_manage(call)
        lang = _LANGUAGE_NAMES.get(args.lower())
        if lang is None:
            raise _UsageError("lang")
        await self.chats.set_language(call.chat, lang)
        changed = replace(call, lang=lang)
        return changed.reply(changed.t("lang.set"))

    async def _whoami(self, call: _Call, args: str) -> CommandReply:
        """`/whoami`: the user's and the chat's platform-qualified ids, what goes into
        NEWSBOT_ADMINS, and whether the user is a bot admin already."""
        admin = "whoami.admin" if call.user in self.admins else "whoami.not_admin"
        return call.reply(call.t("whoami.ids", user=call.user, chat=call.chat),
                          call.t(admin, user=call.user))


def _feed_line(call: _Call, feed: FeedSpec, state: dict[str, str], *, admin: bool) -> str:
    """One feed's health for `/status`: for admins its outlet (else its URL, redacted), last
    error and encoding warning; for others its name and health only."""
    location = (feed.outlet or redact(feed.location)) if admin else _feed_name(feed)
    health = feed_health(state)
    if health == "off":
        error = state.get("last_error", "")
        return call.t("status.feed_off", id=feed.id, location=location,
                      reason=redact(error) if admin else _error_kind(error))
    if health == "error":
        error = state.get("last_error", "")
        return call.t("status.feed_error", id=feed.id, location=location,
                      errors=state.get("errors", "?"),
                      last_error=redact(error) if admin else _error_kind(error))
    if state.get("last_poll"):
        polled = datetime.fromtimestamp(float(state["last_poll"]), tz=UTC)
        line = call.t("status.feed_ok", id=feed.id, location=location, last_poll=_when(polled),
                      push=_push_note(call, state, admin=admin))
        if admin and (warning := state.get("warning", "")):
            line += call.t("status.feed_warning", warning=redact(warning)[:200])
        return line
    return call.t("status.feed_new", id=feed.id, location=location)


def _error_kind(error: str) -> str:
    """A stored feed error without its message (which may quote a URL): `http`, `timeout`,
    or `deactivated after 15 failures in a row`."""
    switched_off, marker, _ = error.partition("; last:")
    return switched_off if marker else error.partition(":")[0]


def _feed_name(feed: FeedSpec) -> str:
    """A feed as named where URLs may not be shown: its outlet, else its site (`dw.com`), else
    its folder's name."""
    if feed.outlet:
        return feed.outlet
    if feed.url is not None:
        return outlet_from_url(feed.url)
    return PurePath(feed.path or feed.id).name or feed.id


def _push_note(call: _Call, state: dict[str, str], *, admin: bool) -> str:
    """The feed's WebSub subscription (bot.feeds.websub) as `/status` shows it, if any; the
    error (which may quote the hub's URL) for admins only, redacted."""
    push = state.get("websub_status", "")
    until = float(state.get("websub_until") or 0)
    if push == "active" and until > call.now.timestamp():
        return call.t("status.push_active", until=_when(datetime.fromtimestamp(until, tz=UTC)))
    if push in ("denied", "error"):
        if not admin:
            return call.t("status.push_state", state=push)
        return call.t("status.push_problem", state=push,
                      error=redact(state.get("websub_error", ""))[:200])
    return ""


def _need_manage(call: _Call) -> None:
    """Refuse changes to the chat's settings from users the adapter says may not manage it."""
    if not call.can_manage:
        raise _RefusedError("refused.manage")


def _no_args(args: str, usage: str) -> None:
    if args:
        raise _UsageError(usage)


def _one_word(args: str, usage: str) -> str:
    """The single argument of a command, or its usage line."""
    if not args or len(args.split()) != 1:
        raise _UsageError(usage)
    return args


def _first_word(args: str) -> tuple[str, str]:
    """("add", "朝鲜 + 派兵") from "add 朝鲜 + 派兵"."""
    parts = args.split(maxsplit=1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (args, "")


def _number(rule_id: str) -> str:
    """The per-chat number of a rule id `chat:<chat>:<n>`."""
    return rule_id.rsplit(":", 1)[-1]


def _invalid(call: _Call, exc: RuleError) -> CommandReply:
    """A rule error: the message with its column, then the expression and a caret under it."""
    pointer = describe_error(exc).splitlines()[1:]
    return call.reply(call.t("rule.invalid", column=exc.position + 1, message=exc.message),
                      *pointer, ok=False)


def _more(call: _Call, total: int, shown: int) -> list[str]:
    return [call.t("more", count=total - shown)] if total > shown else []


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
