"""`/lang` and `/whoami`: the language of a chat's replies, and the ids of who is asking."""

from __future__ import annotations

from dataclasses import replace

from bot.chats import ChatDirectory
from bot.commands.call import Call, Handler, UsageError, need_manage
from bot.commands.protocol import CommandReply

_LANGUAGE_NAMES = {"en": "en", "english": "en", "zh": "zh", "cn": "zh", "zh-cn": "zh",
                   "中文": "zh", "英文": "en"}


class ChatCommands:
    """The chat's reply language and the user's and chat's ids."""

    def __init__(self, *, chats: ChatDirectory, admins: frozenset[str]) -> None:
        self.chats = chats
        self.admins = admins

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"lang": self.lang, "whoami": self.whoami}

    async def lang(self, call: Call, args: str) -> CommandReply:
        """`/lang en|zh`: the language of this chat's replies."""
        need_manage(call)
        lang = _LANGUAGE_NAMES.get(args.lower())
        if lang is None:
            raise UsageError("lang")
        await self.chats.set_language(call.chat, lang)
        changed = replace(call, lang=lang)
        return changed.reply(changed.t("lang.set"))

    async def whoami(self, call: Call, args: str) -> CommandReply:
        """`/whoami`: the user's and the chat's platform-qualified ids, what goes into
        NEWSBOT_ADMINS, and whether the user is a bot admin already."""
        admin = "whoami.admin" if call.user in self.admins else "whoami.not_admin"
        return call.reply(call.t("whoami.ids", user=call.user, chat=call.chat),
                          call.t(admin, user=call.user))
