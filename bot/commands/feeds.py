"""`/feeds`, `/feeds add`, `/feeds del`: the feeds polled, and feeds added from chat (bot
admins only). A URL is checked before it is stored (bot/feeds/guard.py): http(s), a host the
fetcher can look up, not internal by its name or, now, by its DNS answers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.commands.call import Call, Handler, RefusedError, UsageError, first_word, one_word
from bot.commands.protocol import CommandReply
from bot.feeds.guard import Resolver, resolves_internal, url_problem
from bot.feeds.sources import feed_id
from bot.logs import redact
from bot.models import FeedSpec
from bot.store import AddedFeeds

RESOLVE_TIMEOUT = 5.0  # seconds for the DNS check of a feed added from chat


class FeedCommands:
    """Lists the feeds (the feeds file's, then those added from chat), adds and removes."""

    def __init__(self, *, admins: frozenset[str], feeds: Sequence[FeedSpec],
                 added_feeds: AddedFeeds, resolve: Resolver) -> None:
        self.admins = admins
        self.feeds = tuple(feeds)
        self.added_feeds = added_feeds
        self.resolve = resolve  # host, port -> addresses (DNS); checked when a feed is added

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"feeds": self.command}

    async def command(self, call: Call, args: str) -> CommandReply:
        """`/feeds`, `/feeds add <url> [<outlet>]`, `/feeds del <id>`: bot admins only."""
        if call.user not in self.admins:
            raise RefusedError("refused.admin")
        sub, rest = first_word(args)
        sub = sub.lower()
        if not sub:
            return await self._list(call)
        if sub == "add":
            return await self._add(call, rest)
        if sub in ("del", "delete", "rm"):
            return await self._delete(call, rest)
        raise UsageError("feeds", "feeds_add", "feeds_del")

    async def all_feeds(self) -> list[tuple[FeedSpec, str]]:
        """(feed, origin key) for the feeds file's feeds, then those added from chat."""
        added = [(f, "feeds.origin.chat") for f in await self.added_feeds.all()]
        return [(f, "feeds.origin.file") for f in self.feeds] + added

    async def _list(self, call: Call) -> CommandReply:
        feeds = await self.all_feeds()
        return call.reply(call.t("feeds.header", count=len(feeds)), *(
            call.t("feeds.item", id=f.id, location=redact(f.location), origin=call.t(origin),
                   outlet=f" · {f.outlet}" if f.outlet else "") for f, origin in feeds))

    async def _add(self, call: Call, args: str) -> CommandReply:
        """Add an http(s) feed with a public host; the id comes from its URL."""
        url, outlet = first_word(args)
        if not url or len(outlet) > 64:
            raise UsageError("feeds_add")
        problem = url_problem(url) or await self._resolves_internal(url)
        if problem is not None:
            key, fields = problem
            return call.fail(key, **{k: redact(v) for k, v in fields.items()})
        spec = FeedSpec(id=feed_id(url), url=url, outlet=outlet or None)
        known = {f.id for f, _ in await self.all_feeds()}
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

    async def _delete(self, call: Call, args: str) -> CommandReply:
        """Remove a feed added from chat (the feeds file's feeds are edited in the file)."""
        fid = one_word(args, "feeds_del")
        if any(f.id == fid for f in self.feeds):
            return call.fail("feeds.in_file", id=fid)
        if not await self.added_feeds.remove(fid):
            return call.fail("feeds.not_found", id=fid)
        return call.reply(call.t("feeds.deleted", id=fid))
