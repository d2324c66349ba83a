"""The `/newsbot` slash command in Slack's words: its payload as a `CommandRequest` for the
interpreter, and a `CommandReply` as mrkdwn (ephemeral, or in the channel for changes to
the channel's settings)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.commands import CommandReply, CommandRequest, split_command
from bot.platforms.slack.render import clip_lines, escape_mrkdwn

COMMAND = "/newsbot"
REPLY_LIMIT = 4000  # characters of a command reply (Slack advises at most 4,000)
FAILED_REPLY = ("newsbot: that command failed on our side; please try again later. "
                "命令执行失败，请稍后再试。")
_MARKUP = re.compile(r"<([^<>]*)>")
_MENTION = re.compile(r"(?<![\w/.:])/(start|help|rules?|topics|subscribe|unsubscribe|digest"
                      r"|mute|unmute|quiet|tz|feeds|status|lang)\b")
_CARET = re.compile(r"\s*\^\s*")
# Commands whose successful reply the whole channel sees (they change the channel's settings);
# None: every form of the command.
_CHANNEL_CHANGES: dict[str, frozenset[str] | None] = {
    "rule": frozenset({"add", "del", "delete", "rm"}), "digest": frozenset({"at", "off"}),
    "subscribe": None, "unsubscribe": None, "mute": None, "unmute": None, "lang": None}


def unescape_command(text: str) -> str:
    """Slash-command text as the user typed it: Slack's `<...>` markup and entities undone.

    `<https://x.org/rss>` -> the URL; `<http://dw.com|dw.com>` (Slack's auto-link of a bare
    name the user typed) -> `dw.com`; `<@U1|ann>` -> `@ann`; `<#C1|news>` -> `#news`;
    `<!here>` -> `@here`; `&lt;`, `&gt;`, `&amp;` -> `<`, `>`, `&`.
    """
    plain = _MARKUP.sub(_plain_markup, text)
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain_markup(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target[:1] in ("@", "#"):
        return target[0] + (label or target[1:])
    if target.startswith("!"):
        return label or "@" + target[1:].split("^", 1)[0]
    if label and target in (f"http://{label}", f"https://{label}", f"mailto:{label}"):
        return label
    return target



def command_request(payload: Mapping[str, Any]) -> CommandRequest:
    """The interpreter's request for a slash-command payload (`/newsbot` alone asks for help).

    In Slack a channel's rules are the channel's: anyone in it may change them (`can_manage`);
    `/feeds` stays with the bot admins (`NEWSBOT_ADMINS`, e.g. `slack:U0123`).
    """
    text = unescape_command(str(payload.get("text") or "")).strip().removeprefix("/")
    title = payload.get("channel_name")
    return CommandRequest(chat=f"slack:{payload.get('channel_id', '')}",
                          user=f"slack:{payload.get('user_id', '')}",
                          text="/" + (text or "help"), can_manage=True,
                          chat_title=str(title) if title else None)


def render_reply(reply: CommandReply, *, limit: int = REPLY_LIMIT,
                 command: str = COMMAND) -> str:
    """A reply as mrkdwn: every line escaped; a rule error's expression and caret as code.

    Commands the reply mentions are spelt as typed in Slack: `/rule add` -> `/newsbot rule add`.
    """
    lines = list(reply.lines) or reply.text.split("\n")
    shown: list[str] = []
    for number, line in enumerate(lines):
        if number and _CARET.fullmatch(line) and shown:
            shown[-1] = f"```\n{escape_mrkdwn(lines[number - 1])}\n{escape_mrkdwn(line)}\n```"
        else:
            shown.append(escape_mrkdwn(_MENTION.sub(rf"{command} \1", line)))
    return clip_lines(shown, limit)


def response_type(request: CommandRequest, reply: CommandReply) -> str:
    """`in_channel` when the command changed the channel's settings, else `ephemeral`."""
    if not reply.ok:
        return "ephemeral"
    name, args = split_command(request.text)
    subs = _CHANNEL_CHANGES.get(name, frozenset())
    sub = args.split(maxsplit=1)[0].lower() if args else ""
    return "in_channel" if subs is None or sub in subs else "ephemeral"

