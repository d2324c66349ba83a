"""Chats' subscriptions and rules in the store; the command interpreter and routing share it.

Chat lifecycle (issue 15). A chat the bot can no longer post to (Telegram 403: blocked,
kicked, not a member; Slack `not_in_channel`, `channel_not_found`, `is_archived`) is
*paused*: the platforms raise `ChatGoneError`, delivery records the pause here (`pause`:
the hash `paused_chats`, chat -> JSON {reason, error, at}) and, from then on, holds the chat's
new alerts as a mute does (`holding` is true while paused; `digest_chats` leaves paused chats
out, so no digest is attempted) until the bot is added back (`resume`, called by the front
ends on Telegram `my_chat_member` / Slack `member_joined_channel`); the held alerts then
arrive as one batch, as after a mute. A Telegram group that became a supergroup
(`ChatMovedError`) has its records moved to the new id (`migrate`), and `chat:<old>:moved`
points deliveries still queued for the old id to the new one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ChannelError
from bot.models import Rule
from bot.rules.entities import Entities
from bot.rules.grammar import parse
from bot.store.chats import MOVED_TTL, ChatRecords, Paused
from bot.store.sent import MOVED_REF, SENT_TTL

__all__ = ["MOVED_REF", "MOVED_TTL", "PAUSED_HELD_MAX", "SENT_TTL", "ChatDirectory",
           "ChatGoneError", "ChatMovedError", "Paused", "zone_info"]

PAUSED_HELD_MAX = 200    # newest held stories kept for a paused chat


class ChatGoneError(ChannelError):
    """The platform says the bot can no longer post to this chat (blocked, kicked, archived,
    not a member, no such chat): retrying will not help until the bot is added back.
    `reason` is a short code (`blocked`, `kicked`, `not_member`, `not_in_channel`, ...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ChatMovedError(ChannelError):
    """The chat has a new id (a Telegram group upgraded to a supergroup); `new_chat` is the
    platform-qualified new id (`telegram:-100...`)."""

    def __init__(self, message: str, *, new_chat: str) -> None:
        super().__init__(message)
        self.new_chat = new_chat


def zone_info(timezone: str) -> ZoneInfo:
    """The IANA zone `timezone`, or UTC when it is unknown."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class ChatDirectory(ChatRecords):
    """Which chats follow which topics, and each chat's own rules (records: bot/store/chats.py)."""

    async def add_rule(self, chat: str, expression: str, *, entities: Entities | None = None
                       ) -> Rule:
        """Validate (against `entities`, the shipped catalog if None) and store a rule for
        `chat`; raises RuleError on a bad expression."""
        parse(expression, entities=entities)
        return await super().add_rule(chat, expression)

    async def holding(self, chat: str, *, now: datetime) -> bool:
        """True while new alerts to `chat` are held: it is paused, muted or within its quiet
        hours."""
        if await self.muted_until(chat, now=now) is not None or await self.is_paused(chat):
            return True
        hours = await self.quiet_hours(chat)
        if hours is None:
            return False
        local = now.astimezone(zone_info(await self.timezone(chat))).time()
        start, end = hours
        return start <= local < end if start <= end else local >= start or local < end

