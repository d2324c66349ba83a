"""Membership in Telegram chats: who may manage a chat (its administrators, remembered for a
while), and the bot's own membership changing (back in a chat: resumed; a group upgraded to
a supergroup: its settings moved; see `bot.chats`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot, Chat, ChatMember, ChatMemberRestricted, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter

log = logging.getLogger(__package__)

ADMIN_TTL = 60.0
_MANAGERS = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
_PRESENT = frozenset({ChatMemberStatus.MEMBER, *_MANAGERS})  # the bot can post again
_ALWAYS_MANAGE = frozenset({ChatType.PRIVATE, ChatType.CHANNEL})
_GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
_MAX_CACHED_MEMBERS = 4096


class ChatAdmins:
    """Who may manage a chat: getChatMember's status creator/administrator, remembered for
    `ttl` seconds (`clock`); errors are logged with `scrub` applied."""

    def __init__(self, *, ttl: float = ADMIN_TTL, clock: Callable[[], float] = time.monotonic,
                 scrub: Callable[[str], str] = str) -> None:
        self.ttl = ttl
        self._clock = clock
        self._scrub = scrub
        self._members: dict[tuple[int, int], tuple[float, bool]] = {}

    async def can_manage(self, bot: Bot, message: Message) -> bool:
        """Private chats and channels: yes; groups: their administrators and anonymous admins."""
        chat = message.chat
        if chat.type in _ALWAYS_MANAGE:
            return True
        if chat.type not in _GROUPS:
            return False
        if message.sender_chat is not None:
            return message.sender_chat.id == chat.id  # an anonymous admin of this group
        if message.from_user is None:
            return False
        return await self.is_admin(bot, chat.id, message.from_user.id)

    async def can_press(self, bot: Bot, chat: Chat, user: User | None) -> bool:
        """Private chats: yes; groups, supergroups and channels (where any subscriber can
        press a button): the presser is one of the chat's administrators."""
        if chat.type == ChatType.PRIVATE:
            return True
        if user is None or chat.type not in {*_GROUPS, ChatType.CHANNEL}:
            return False
        return await self.is_admin(bot, chat.id, user.id)

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        """getChatMember status creator/administrator, remembered for `ttl` seconds."""
        now = self._clock()
        cached = self._members.get((chat_id, user_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("telegram: unable to check a chat member", extra={"kv": {
                "chat_id": chat_id, "user_id": user_id, "error": self._scrub(exc.message)}})
            return False
        if len(self._members) >= _MAX_CACHED_MEMBERS:
            self._members = {k: v for k, v in self._members.items() if v[0] > now}
        admin = member.status in _MANAGERS
        self._members[(chat_id, user_id)] = (now + self.ttl, admin)
        return admin


def can_post(member: ChatMember) -> bool:
    """True if the bot, with this membership, may post: a member or administrator, or a
    restricted member still allowed to send messages."""
    if member.status in _PRESENT:
        return True
    return isinstance(member, ChatMemberRestricted) and member.is_member and (
        member.can_send_messages)


class ChatEvents:
    """The bot's membership changing, as PTB handlers: the chat's settings (the
    interpreter's `ChatDirectory`) follow."""

    def __init__(self, interpreter: CommandInterpreter) -> None:
        self.interpreter = interpreter

    @property
    def chats(self) -> ChatDirectory:
        """The interpreter's chats (read when an event comes)."""
        return self.interpreter.chats

    async def on_my_member(self, update: Update, context: object) -> None:
        """The bot's status in a chat changed: back as member or administrator (re-added to a
        group or channel, unblocked in a private chat) resumes a paused chat; its held alerts
        then arrive as one batch (bot.digest). Removal is noticed by the next delivery."""
        changed = update.my_chat_member
        if changed is None or not can_post(changed.new_chat_member):
            return
        chat = f"telegram:{changed.chat.id}"
        try:
            if await self.chats.resume(chat):
                log.info("telegram: the bot is back in a paused chat; resumed", extra={"kv": {
                    "chat": chat, "status": str(changed.new_chat_member.status)}})
        except Exception:
            log.exception("telegram: unable to resume a chat", extra={"kv": {"chat": chat}})

    async def on_migrate(self, update: Update, context: object) -> None:
        """A group became a supergroup: move its rules, topics, digest and alerts to the new
        id now rather than at the next alert (the service message comes in both chats)."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        try:
            if await self.chats.migrate(f"telegram:{old}", f"telegram:{new}"):
                log.warning("telegram: group upgraded to a supergroup; its settings moved",
                            extra={"kv": {"chat": f"telegram:{old}", "new_chat":
                                          f"telegram:{new}"}})
        except Exception:
            log.exception("telegram: unable to move a migrated chat", extra={"kv": {
                "chat": f"telegram:{old}", "new_chat": f"telegram:{new}"}})
