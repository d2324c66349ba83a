"""The command protocol: what an adapter hands the interpreter and what it gets back.

Telegram handlers, the Slack slash command and `newsbot chat` build a `CommandRequest` from
their platform's payload and render the `CommandReply`'s plain text for their platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.alerts import StoryList

_COMMAND_RE = re.compile(r"/?([^\s@]*)(?:@\S*)?(?:\s+(.*))?", re.DOTALL)


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
