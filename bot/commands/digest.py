"""`/digest at|off|now`: a chat's daily digest (bot/digest.py builds and sends it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.chats import ChatDirectory
from bot.commands.call import Call, Handler, UsageError, first_word, language, need_manage
from bot.commands.protocol import CommandReply
from bot.digest import Digests
from bot.timeparse import clock_time, time_zone


class DigestCommands:
    """Sets, clears and shows a chat's digest."""

    def __init__(self, *, chats: ChatDirectory, digests: Digests,
                 clock: Callable[[], datetime]) -> None:
        self.chats = chats
        self.digests = digests
        self.clock = clock

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"digest": self.command}

    async def digest(self, chat: str) -> CommandReply:
        """The chat's digest now (`bot.digest`): stories first seen in the last 24 hours that
        match its rules or topics, most outlets first, then most recent. The reply's lines
        are one per story; `stories` carries the digest for the platform to render with
        summaries and links."""
        call = Call(chat=chat, user="", can_manage=False,
                    lang=await language(self.chats, chat), now=self.clock())
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

    async def command(self, call: Call, args: str) -> CommandReply:
        """`/digest at <HH:MM> [<zone>]`, `/digest off`, `/digest now`."""
        sub, rest = first_word(args)
        sub = sub.lower()
        if sub == "at":
            return await self._digest_at(call, rest)
        if sub == "off" and not rest:
            need_manage(call)
            cleared = await self.chats.clear_digest(call.chat)
            return call.reply(call.t("digest.off" if cleared else "digest.was_off"))
        if sub == "now" and not rest:
            return await self.digest(call.chat)
        raise UsageError("digest_at", "digest_off", "digest_now")

    async def _digest_at(self, call: Call, args: str) -> CommandReply:
        """Store the time (HH:MM) and IANA zone of the chat's daily digest."""
        need_manage(call)
        parts = args.split()
        if len(parts) not in (1, 2):
            raise UsageError("digest_at")
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
