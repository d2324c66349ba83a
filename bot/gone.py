"""Delivery to chats that went away (issue 15; see bot/outbox.py and bot/chats.py): a chat
that moved has its records and entries moved to its new id, a chat the bot can no longer post
to is paused, its admins told once, and its new alerts held until the bot is added back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot import i18n
from bot.channel import Channel
from bot.chats import PAUSED_HELD_MAX, ChatGoneError, ChatMovedError
from bot.consumer import Item, OutboxConsumer
from bot.errors import ChannelError
from bot.models import Delivery
from bot.pacing import PacingStoppedError
from bot.store import LISTED_PREFIX

log = logging.getLogger("bot.outbox")


class ChatsGone(OutboxConsumer):
    """What delivery does when a chat turns out moved or gone."""

    async def _chat_went(self, chat: str, channel: Channel,
                         exc: ChatGoneError | ChatMovedError) -> None:
        """Record a migration, or pause the chat and tell the admins (once per pause)."""
        chats = self.composer.chats
        if isinstance(exc, ChatMovedError):
            if await chats.migrate(chat, exc.new_chat):
                log.warning("delivery: chat moved to a new id; its rules, topics, digest and "
                            "alerts moved with it", extra={"kv": {
                                "chat": chat, "new_chat": exc.new_chat}})
            return
        if not await chats.pause(chat, reason=exc.reason, error=str(exc), now=self.clock()):
            return
        log.warning("delivery: chat paused; its alerts are held until the bot is added back",
                    extra={"kv": {"chat": chat, "reason": exc.reason, "error": str(exc)}})
        await self._tell_admins(chat, exc)

    async def _tell_admins(self, chat: str, exc: ChatGoneError) -> None:
        """A direct message to each admin (in the language they chose with /lang) saying that
        `chat` is paused and why; a notice that cannot be sent is logged."""
        chats = self.composer.chats
        for admin in self.admins:
            channel = self.channels.get(admin.partition(":")[0])
            if (channel is None or admin == chat or channel.platform == "console"
                    or await chats.is_paused(admin)):  # the admin's own chat is gone too
                continue
            lang = await chats.language(admin) or i18n.DEFAULT_LANGUAGE
            text = paused_notice(lang, chat, exc.reason, str(exc))
            try:
                for message in channel.notice_messages(text):
                    await self._call(admin, channel, channel.post, admin, message)
            except (ChannelError, PacingStoppedError) as error:
                log.warning("delivery: could not tell an admin that a chat is paused",
                            extra={"kv": {"admin": admin, "chat": chat, "error": str(error)}})

    async def _divert(self, chat: str, items: Sequence[Item]) -> None:
        """Items for a chat that turned out moved (queued for its new id) or paused (held)."""
        if not items:
            return
        moved = await self.composer.chats.moved_to(chat)
        if moved is None:
            await self._hold_paused(chat, items)
            return
        await self._redirect(moved, [(item.ids, Delivery(chat=moved, story_id=item.story.id,
                                                         rule_ids=item.rules))
                                     for item in items])

    async def _hold_paused(self, chat: str, items: Sequence[Item]) -> None:
        """Hold the new alerts of a paused chat (the newest PAUSED_HELD_MAX), drop its edits
        (the message cannot be reached), acknowledge the entries."""
        for item in items:
            if item.sent is None or item.sent.ref.startswith(LISTED_PREFIX):
                await self.composer.chats.hold(chat, item.story.id, now=self.clock(),
                                               keep=PAUSED_HELD_MAX)
            await self.outbox.ack(*item.ids)

    async def _redirect(self, new_chat: str,
                        moves: Sequence[tuple[tuple[str, ...], Delivery]]) -> None:
        """Queue deliveries for a chat's new id and acknowledge the old entries."""
        await self.outbox.put_all([delivery for _, delivery in moves])
        await self.outbox.ack(*(entry_id for ids, _ in moves for entry_id in ids))
        log.info("delivery: entries redirected to a migrated chat's new id", extra={"kv": {
            "new_chat": new_chat, "stories": len(moves)}})


def paused_notice(lang: str, chat: str, reason: str, error: str) -> str:
    """The admins' notice that delivery to `chat` is paused, in `lang` (bot/i18n.py)."""
    return i18n.text(lang, "paused.notice", chat=chat,
                     reason=i18n.paused_reason(lang, reason), error=error)
