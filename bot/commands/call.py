"""One command being handled, and the small helpers every area's handlers share: the chat's
language, usage lines and refusals, argument splitting, and how times and counts are shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot import i18n
from bot.chats import ChatDirectory
from bot.commands.protocol import CommandReply

MAX_MUTE_DAYS = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
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


Handler = Callable[[Call, str], Awaitable[CommandReply]]


class UsageError(Exception):
    """The command was malformed; answer with the usage lines of `keys`."""

    def __init__(self, *keys: str) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


class RefusedError(Exception):
    """The user may not do this here; answer with the message `key`."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


async def language(chats: ChatDirectory, chat: str) -> str:
    """The language of the chat's replies (`/lang`), else the default."""
    return await chats.language(chat) or i18n.DEFAULT_LANGUAGE


def need_manage(call: Call) -> None:
    """Refuse changes to the chat's settings from users the adapter says may not manage it."""
    if not call.can_manage:
        raise RefusedError("refused.manage")


def no_args(args: str, usage: str) -> None:
    """Refuse arguments to a command that takes none (its usage line)."""
    if args:
        raise UsageError(usage)


def one_word(args: str, usage: str) -> str:
    """The single argument of a command, or its usage line."""
    if not args or len(args.split()) != 1:
        raise UsageError(usage)
    return args


def first_word(args: str) -> tuple[str, str]:
    """("add", "朝鲜 + 派兵") from "add 朝鲜 + 派兵"."""
    parts = args.split(maxsplit=1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (args, "")


def rule_number(rule_id: str) -> str:
    """The per-chat number of a rule id `chat:<chat>:<n>`."""
    return rule_id.rsplit(":", 1)[-1]


def more(call: Call, total: int, shown: int) -> list[str]:
    """A line counting what was left out of a list, if anything was."""
    return [call.t("more", count=total - shown)] if total > shown else []


def when(moment: datetime) -> str:
    """A moment as replies show it: `2026-01-01 09:30 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
