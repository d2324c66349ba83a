"""When a chat's alerts are held: `/mute` and `/unmute`, `/quiet` hours, and `/tz`, the zone
quiet hours, alert times and new digest times are read in."""

from __future__ import annotations

from datetime import timedelta

from bot.chats import ChatDirectory
from bot.commands.call import (
    MAX_MUTE_DAYS,
    Call,
    Handler,
    UsageError,
    first_word,
    need_manage,
    no_args,
    when,
)
from bot.commands.protocol import CommandReply
from bot.timeparse import duration, time_range, time_zone


class HoldCommands:
    """Mutes and quiet hours (and the time zone they are read in) for a chat."""

    def __init__(self, *, chats: ChatDirectory) -> None:
        self.chats = chats

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"mute": self.mute, "unmute": self.unmute, "quiet": self.quiet, "tz": self.tz}

    async def mute(self, call: Call, args: str) -> CommandReply:
        """`/mute <duration>`: hold alerts until then; `/mute mode batch|digest`: where held
        alerts go when the hold ends."""
        need_manage(call)
        if not args:
            raise UsageError("mute", "mute_mode")
        sub, rest = first_word(args)
        if sub.lower() == "mode":
            mode = rest.strip().lower()
            if mode not in ("batch", "digest"):
                raise UsageError("mute_mode")
            await self.chats.set_held_mode(call.chat, mode)
            return call.reply(call.t(f"mute.mode_{mode}"))
        length = duration(args, maximum=timedelta(days=MAX_MUTE_DAYS))
        if length is None:
            return call.fail("mute.bad", duration=args)
        until = call.now + length
        await self.chats.mute(call.chat, until=until, now=call.now)
        return call.reply(call.t("mute.set", until=when(until)))

    async def unmute(self, call: Call, args: str) -> CommandReply:
        """`/unmute`."""
        need_manage(call)
        no_args(args, "unmute")
        lifted = await self.chats.unmute(call.chat)
        return call.reply(call.t("mute.off" if lifted else "mute.was_off"))

    async def quiet(self, call: Call, args: str) -> CommandReply:
        """`/quiet <HH:MM>-<HH:MM>`: hold alerts every day between those times; `/quiet off`."""
        need_manage(call)
        if args.strip().lower() == "off":
            await self.chats.set_quiet_hours(call.chat, None)
            return call.reply(call.t("quiet.off"))
        hours = time_range(args)
        if hours is None or hours[0] == hours[1]:
            raise UsageError("quiet")
        await self.chats.set_quiet_hours(call.chat, hours)
        return call.reply(call.t("quiet.set", start=f"{hours[0]:%H:%M}", end=f"{hours[1]:%H:%M}",
                                 timezone=await self.chats.timezone(call.chat)))

    async def tz(self, call: Call, args: str) -> CommandReply:
        """`/tz <IANA zone>`: the zone of times in alerts, quiet hours and new digest times."""
        if not args:
            return call.reply(call.t("tz.current", timezone=await self.chats.timezone(call.chat)))
        need_manage(call)
        if len(args.split()) != 1:
            raise UsageError("tz")
        zone = time_zone(args.strip())
        if zone is None:
            return call.fail("digest.bad_zone", timezone=args.strip())
        await self.chats.set_timezone(call.chat, zone)
        return call.reply(call.t("tz.set", timezone=zone))
