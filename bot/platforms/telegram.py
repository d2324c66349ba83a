"""Telegram through python-telegram-bot: the alert channel and the command front end.

Chat ids look like `telegram:<chat_id>` (a number, negative for groups, or `@channelname`);
message references are the Telegram message id as a string. Requests go to
`<api_url>/bot<token>/<method>`, so `TELEGRAM_API_URL` can point at a self-hosted Bot API
server or a test server. PTB errors are translated here into `ChannelError` and
`RetryAfterError`; alert sends never retry, the outbox waits out `retry_after` itself.

Every message the bot posts or edits, alerts and command replies alike, passes one
`FloodControl` (Telegram's limits: about 1 message/s per chat, 20/min per group, 30/s overall).
`TelegramFrontEnd` turns commands (long polling, or a webhook with a secret token) into
`CommandRequest`s for the platform-neutral interpreter and its replies into HTML messages.
Alerts carry an inline keyboard (mute updates, why, outlets: `bot.actions`); the front end
answers the presses (callback queries), each exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot import i18n
from bot.actions import ACTIONS, PREFIX, ActionReply, StoryActions, action_data
from bot.alerts import ListedStory, StoryList, alert_view, outlets_label
from bot.chats import MOVED_REF, ChatGoneError, ChatMovedError
from bot.commands import CommandInterpreter, CommandReply, CommandRequest
from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert
from bot.platforms.layout import join_within

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
MESSAGE_LIMIT = 4096  # Telegram's cap, in UTF-16 code units of the text after entity parsing

# Budgets: characters before escaping for the headline and footer (escaping can sextuple
# them), UTF-16 units after escaping for the outlets; the worst case of headline with its
# link (about 1,850), outlets (1,000) and footer (1,200) fits MESSAGE_LIMIT, and the summary
# takes what room is left, up to _SUMMARY_CHARS.
_HEADLINE_CHARS = 200
_SUMMARY_CHARS = 400
_OUTLET_CHARS = 40
_FOOTER_CHARS = 200
_URL_CHARS = 600  # longer (escaped) URLs are shown unlinked rather than eat the budget
_OUTLETS_BUDGET = 1000
_LIST_SUMMARY_CHARS = 200
_LIST_OUTLETS_BUDGET = 600
_CHAT_ID = re.compile(r"-?\d+|@[A-Za-z0-9_]{4,}")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_NOT_MODIFIED = "message is not modified"
_GONE = "message to edit not found"
# Descriptions of errors that mean the bot cannot post to the chat until it is added back
# (Forbidden, 403, always does): the pause reason for each.
_CHAT_GONE = (("blocked by the user", "blocked"), ("kicked", "kicked"),
              ("not a member", "not_member"), ("user is deactivated", "deactivated"),
              ("can't initiate conversation", "not_started"), ("chat not found", "chat_not_found"),
              ("not enough rights to send", "no_rights"), ("have no rights to send", "no_rights"))


def render_html(alert: Alert, *, update: bool = False) -> str:
    """The alert layout (`bot.alerts`) in Telegram HTML: linked bold headline, summary,
    linked outlets, matched terms and the first report's time in the chat's zone.

    Every outside string is escaped and only http(s) URLs become links. The result's length
    in UTF-16 code units (an upper bound of what Telegram counts) stays within MESSAGE_LIMIT:
    long fields are clipped with an ellipsis and outlets beyond a budget counted, never a tag
    cut.
    """
    view = alert_view(alert, update=update)
    head = f"<b>{_link(escape(_clip(view.headline, _HEADLINE_CHARS)), view.url)}</b>"
    if view.update:
        head += f" <i>{escape(view.label('updated'))}</i>"
    tail = []
    if view.outlets:
        items = [_link(escape(_clip(outlet, _OUTLET_CHARS)), url) for outlet, url in view.outlets]
        label = escape(view.outlets_label)
        tail.append(label + join_within(items, " · ", budget=_OUTLETS_BUDGET - _units(label),
                                        measure=_units, more=view.more))
    if view.footer:
        tail.append(f"<i>{escape(_clip(view.footer, _FOOTER_CHARS))}</i>")
    lines = [head]
    room = MESSAGE_LIMIT - _units(head) - sum(_units(t) + 1 for t in tail) - 3
    if summary := _fit(view.summary, room):
        lines.append(summary)
    return "\n".join(lines) + ("\n\n" + "\n".join(tail) if tail else "")


def alert_keyboard(alert: Alert) -> InlineKeyboardMarkup | None:
    """The buttons under an alert, one row in the chat's language: mute this story's updates,
    why it matched, its outlets (`nb:<action>:<story id>`, see `bot.actions`); None if the
    story id does not fit Telegram's 64-byte callback_data."""
    try:
        row = [InlineKeyboardButton(i18n.text(alert.lang, f"button.{action}"),
                                    callback_data=action_data(action, alert.story.id))
               for action in ACTIONS]
    except ValueError:
        return None
    return InlineKeyboardMarkup([row])


def render_list_html(stories: StoryList, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A digest or held batch as Telegram-HTML messages within `limit`, split between stories:
    bold title (with "part i of n" when split), then per story a numbered linked headline, its
    one-line summary and its linked outlets."""
    blocks = [_listed_html(n, item, stories) for n, item in enumerate(stories.stories, 1)]
    if stories.more:
        blocks.append(escape(stories.label("more", count=stories.more)))
    room = limit - _units(escape(stories.title)) - 60  # title, part label and tags
    messages: list[list[str]] = [[]]
    used = 0
    for block in blocks:
        cost = _units(block) + 2
        if messages[-1] and used + cost > room:
            messages.append([])
            used = 0
        messages[-1].append(block)
        used += cost
    parts = len(messages)
    out = []
    for n, body in enumerate(messages, 1):
        title = stories.title + (" " + stories.label("digest.part", part=n, parts=parts)
                                 if parts > 1 else "")
        out.append("\n\n".join([f"<b>{escape(title)}</b>", *body]))
    return out


def _listed_html(rank: int, item: ListedStory, stories: StoryList) -> str:
    lines = [f"{rank}. <b>{_link(escape(_clip(item.headline, _HEADLINE_CHARS)), item.url)}</b>"]
    if item.summary:
        lines.append(escape(_clip(item.summary, _LIST_SUMMARY_CHARS)))
    if item.outlets:
        label = escape(outlets_label(stories.lang, len(item.outlets)))
        links = [_link(escape(_clip(o, _OUTLET_CHARS)), url) for o, url in item.outlets]
        lines.append(label + join_within(
            links, " · ", budget=_LIST_OUTLETS_BUDGET, measure=_units,
            more=lambda n: i18n.text(stories.lang, "alert.more", count=n)))
    return "\n".join(lines)


def _fit(text: str, room: int) -> str:
    """`text` escaped and clipped (at most _SUMMARY_CHARS) so that it takes <= `room` units."""
    limit = _SUMMARY_CHARS
    while limit > 0:
        escaped = escape(_clip(text, limit))
        if _units(escaped) <= room:
            return escaped
        limit //= 2
    return ""


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def _clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis (before escaping)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def _http_url(url: str | None) -> str | None:
    """`url` if it is a plain absolute http(s) URL we are willing to link, else None."""
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _link(inner_html: str, url: str | None) -> str:
    """`inner_html` wrapped in a link when `url` is linkable."""
    target = _http_url(url)
    href = escape(target, quote=True) if target else ""
    return f'<a href="{href}">{inner_html}</a>' if 0 < len(href) <= _URL_CHARS else inner_html


def _chat_id(chat: str) -> int | str:
    """The Telegram chat id in `telegram:<chat_id>`."""
    platform, _, raw = chat.partition(":")
    if platform != "telegram" or not _CHAT_ID.fullmatch(raw):
        raise ChannelError(f"telegram: not a telegram chat id: {chat!r}")
    return raw if raw.startswith("@") else int(raw)


def _message_id(ref: str) -> int:
    try:
        return int(ref)
    except ValueError:
        raise ChannelError(f"telegram: not a message reference: {ref!r}") from None


def _seconds(value: int | float | timedelta) -> float:
    """PTB 22 gives `retry_after` as int seconds or (opt-in) a timedelta."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _retry_seconds(exc: RetryAfter) -> float:
    """The seconds a RetryAfter asks for, without PTB 22.2+'s type-change warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(exc.retry_after)


# --- flood control ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FloodLimits:
    """Telegram's broadcast limits: per chat, per group or channel, and for the whole bot."""

    chat_interval: float = 1.0
    group_rate: int = 20
    group_period: float = 60.0
    overall_rate: int = 30
    overall_period: float = 1.0


_Sleep = Callable[[float], Awaitable[None]]
_MESSAGE_METHODS = ("send", "edit", "copy", "forward")
_MAX_TRACKED_CHATS = 1024


class FloodControl(BaseRateLimiter[None]):
    """Spaces the messages a bot posts or edits so that Telegram's flood limits are not hit.

    A PTB rate limiter: every `send*`, `edit*`, `copy*` and `forward*` call that names a chat
    first waits for its slot. Slots are reserved in call order, at least `chat_interval`
    apart in one chat, at most `group_rate` per `group_period` in a group or channel (negative
    or `@name` ids), then at most `overall_rate` per `overall_period` for the bot. It never
    retries: a RetryAfter reaches the caller (the outbox and the reply path wait it out).
    `clock` and `sleep` are injectable so that the spacing can be tested without waiting.
    """

    def __init__(self, limits: FloodLimits | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: _Sleep = asyncio.sleep) -> None:
        self.limits = limits or FloodLimits()
        self._clock = clock
        self._sleep = sleep
        self._next: dict[int | str, float] = {}
        self._groups: dict[int | str, deque[float]] = {}
        self._overall: deque[float] = deque(maxlen=max(self.limits.overall_rate, 1))

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(  # noqa: PLR0917 - the signature is PTB's
            self, callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any]
                                                     | list[dict[str, Any]]]],
            args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
            rate_limit_args: None) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the chat's slot when `endpoint` posts into a chat, then call it once."""
        chat_id = data.get("chat_id")
        if chat_id is not None and endpoint.startswith(_MESSAGE_METHODS):
            await self.wait(chat_id)
        return await callback(*args, **kwargs)

    async def wait(self, chat_id: int | str) -> None:
        """Return when one more message may go to `chat_id`."""
        key = _chat_key(chat_id)
        await self._until(self._reserve_chat(key))
        sent = self._reserve_overall()
        self._next[key] = max(self._next.get(key, sent), sent + self.limits.chat_interval)
        await self._until(sent)

    def _reserve_chat(self, key: int | str) -> float:
        """The chat's next slot (and, for groups, within the group quota); reserved now."""
        now, limits = self._clock(), self.limits
        self._prune(now)
        slot = max(now, self._next.get(key, now))
        if limits.group_rate > 0 and (isinstance(key, str) or key < 0):
            times = self._groups.setdefault(key, deque(maxlen=limits.group_rate))
            if len(times) == limits.group_rate:
                slot = max(slot, times[0] + limits.group_period)
            times.append(slot)
        self._next[key] = slot + limits.chat_interval
        return slot

    def _reserve_overall(self) -> float:
        """The bot's next slot within the overall quota; reserved in call order."""
        slot = self._clock()
        if self.limits.overall_rate > 0 and len(self._overall) == self._overall.maxlen:
            slot = max(slot, self._overall[0] + self.limits.overall_period)
        self._overall.append(slot)
        return slot

    async def _until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _prune(self, now: float) -> None:
        """Forget chats whose limits no longer hold anything back."""
        if len(self._next) <= _MAX_TRACKED_CHATS:
            return
        period = self.limits.group_period
        for key in [k for k, slot in self._next.items() if slot <= now]:
            times = self._groups.get(key)
            if not times or times[-1] + period <= now:
                self._next.pop(key)
                self._groups.pop(key, None)


def _chat_key(chat_id: int | str) -> int | str:
    """One key per chat whether PTB got the id as a number or a numeric string."""
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id).lower()


class TelegramChannel:
    """Posts and edits alerts through the Bot API; an async context manager around PTB's Bot."""

    platform = "telegram"

    def __init__(self, *, token: str, api_url: str = DEFAULT_API_URL,
                 flood: FloodControl | None = None) -> None:
        if not token:
            raise ConfigError("telegram: the bot token is empty")
        self.api_url = api_url.rstrip("/")
        self.flood = flood or FloodControl()
        # PTB appends the token to base_url: requests go to <api_url>/bot<token>/<method>.
        self._bot: ExtBot[None] = ExtBot(token, base_url=f"{self.api_url}/bot",
                                         base_file_url=f"{self.api_url}/file/bot",
                                         rate_limiter=self.flood)

    def __repr__(self) -> str:
        return f"TelegramChannel(api_url={self.api_url!r})"

    @property
    def bot(self) -> ExtBot[None]:
        """The underlying PTB bot; never log its repr."""
        return self._bot

    async def __aenter__(self) -> Self:
        """Open the HTTP client and check the token (PTB calls getMe)."""
        try:
            await self._bot.initialize()
        except InvalidToken as exc:
            await self._bot.shutdown()
            self._cause(exc)  # PTB's own message quotes the token: scrub the context too
            raise ConfigError(f"telegram: the bot token was rejected by {self.api_url}") from None
        except TelegramError as exc:
            await self._bot.shutdown()
            raise self._error(exc, f"unable to reach the Bot API at {self.api_url}") from (
                self._cause(exc))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._bot.shutdown()

    async def send(self, alert: Alert) -> str:
        """Post `alert` as a new HTML message without link preview, with its buttons
        (`alert_keyboard`); return its message id."""
        return await self._post(alert.chat, render_html(alert), alert_keyboard(alert))

    async def edit(self, ref: str, alert: Alert) -> None:
        """Re-render the message `ref`; an unchanged message counts as success. A reference
        `telegram:<old id>#<message id>` (see `ChatDirectory.migrate`) is an alert sent before
        the group became a supergroup: it is edited in the old group, where it stays. The
        buttons are sent again (an edit without them would remove them)."""
        home, moved, ref = ref.rpartition(MOVED_REF)
        chat_id, message_id = _chat_id(home if moved else alert.chat), _message_id(ref)
        try:
            await self._bot.edit_message_text(
                text=render_html(alert, update=True), chat_id=chat_id, message_id=message_id,
                parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW,
                reply_markup=alert_keyboard(alert))
        except BadRequest as exc:
            if _NOT_MODIFIED in exc.message.lower():
                return
            if _GONE in exc.message.lower():
                raise MessageGoneError(f"telegram: message {message_id} in chat {chat_id} "
                                       "is gone") from None
            raise self._error(exc, f"unable to edit message {message_id} in chat {chat_id}"
                              ) from self._cause(exc)
        except TelegramError as exc:
            raise self._error(exc, f"unable to edit message {message_id} in chat {chat_id}"
                              ) from self._cause(exc)

    def list_messages(self, stories: StoryList) -> list[Any]:
        """A digest or held batch as HTML messages within Telegram's limit."""
        return list(render_list_html(stories))

    def notice_messages(self, text: str) -> list[Any]:
        """A plain-text notice as escaped HTML messages within Telegram's limit."""
        return list(render_reply(CommandReply(text=text, lines=tuple(text.split("\n")))))

    async def post(self, chat: str, message: Any) -> str:
        """Post one HTML message (an alert, or one from `list_messages` or `notice_messages`)
        without link preview; return its message id."""
        return await self._post(chat, str(message), None)

    async def _post(self, chat: str, html: str, keyboard: InlineKeyboardMarkup | None) -> str:
        chat_id = _chat_id(chat)
        try:
            sent = await self._bot.send_message(
                chat_id=chat_id, text=html, parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW, reply_markup=keyboard)
        except TelegramError as exc:
            raise self._error(exc, f"unable to send to chat {chat_id}") from self._cause(exc)
        return str(sent.message_id)

    def _error(self, exc: TelegramError, what: str) -> ChannelError:
        """Our error for a PTB error, with the token scrubbed from the description: a 429 is a
        `RetryAfterError`, a group upgraded to a supergroup a `ChatMovedError`, and a 403
        (blocked, kicked, not a member) or a chat that is gone or forbids the bot to post a
        `ChatGoneError` (see `bot.chats`: the chat is paused, not retried)."""
        description = self._scrub(exc.message)
        if isinstance(exc, RetryAfter):
            return RetryAfterError(f"telegram: {what}: {description}",
                                   retry_after=_retry_seconds(exc))
        if isinstance(exc, ChatMigrated):
            return ChatMovedError(f"telegram: {what}: {description}",
                                  new_chat=f"telegram:{exc.new_chat_id}")
        if isinstance(exc, Forbidden | BadRequest):
            lowered = description.lower()
            reason = next((r for text, r in _CHAT_GONE if text in lowered),
                          "forbidden" if isinstance(exc, Forbidden) else None)
            if reason is not None:
                return ChatGoneError(f"telegram: {what}: {description}", reason=reason)
        return ChannelError(f"telegram: {what}: {description}")

    def _cause(self, exc: TelegramError) -> TelegramError:
        """The PTB error to chain, scrubbed of the token in place (it is also the context)."""
        clean = self._scrub(exc.message)
        if clean != exc.message:
            exc.message = clean
            exc.args = (clean, *exc.args[1:])
        return exc

    def _scrub(self, text: str) -> str:
        """`text` without the token, in any case (PTB's `capitalize()` lowercases it)."""
        return re.sub(re.escape(self._bot.token), "<token>", text, flags=re.IGNORECASE)


# --- command replies ----------------------------------------------------------------------------

_CARET_LINE = re.compile(r"\s*\^+\s*")
_PRE_TAGS = len("<pre></pre>")


def render_reply(reply: CommandReply, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A command reply as Telegram-HTML messages, split at line boundaries within `limit`.

    Every line is escaped; a rule error (a refusal whose lines hold a caret line) shows the
    expression and its caret in a <pre> block so the caret stays under the position. A line
    longer than a whole message is cut (before escaping, so no entity is split).
    """
    lines = list(reply.lines) or reply.text.split("\n")
    caret = not reply.ok and any(_CARET_LINE.fullmatch(line) for line in lines[1:])
    pre_from = 1 if caret else len(lines)
    budget = limit - _PRE_TAGS
    messages: list[list[tuple[str, bool]]] = [[]]
    used = 0
    for index, line in enumerate(lines):
        for part in _cut(line, budget - 1):
            cost = _units(escape(part)) + 1
            if messages[-1] and used + cost > budget:
                messages.append([])
                used = 0
            messages[-1].append((part, index >= pre_from))
            used += cost
    return [_reply_html(parts) for parts in messages if any(p.strip() for p, _ in parts)]


def _cut(line: str, budget: int) -> list[str]:
    """`line` in pieces whose escaped length fits `budget` UTF-16 units."""
    if _units(escape(line)) <= budget:
        return [line]
    pieces, start, used = [], 0, 0
    for index, char in enumerate(line):
        cost = _units(escape(char))
        if used + cost > budget:
            pieces.append(line[start:index])
            start, used = index, 0
        used += cost
    return [*pieces, line[start:]]


def _reply_html(parts: list[tuple[str, bool]]) -> str:
    plain = "\n".join(escape(text) for text, pre in parts if not pre)
    fixed = [escape(text) for text, pre in parts if pre]
    if not fixed:
        return plain
    block = "<pre>" + "\n".join(fixed) + "</pre>"
    return f"{plain}\n{block}" if plain else block


# --- the command front end ----------------------------------------------------------------------

COMMAND_MENU: tuple[tuple[str, str, str], ...] = (
    ("start", "What this bot does", "机器人简介"),
    ("help", "Commands and how to use them", "命令列表与用法"),
    ("rule", "Add, list, delete or test a rule: /rule add 朝鲜 + 派兵",
     "添加、查看、删除或测试规则：/rule add 朝鲜 + 派兵"),
    ("rules", "This chat's rules", "本聊天的规则"),
    ("topics", "Shared topics", "公共话题"),
    ("subscribe", "Follow a shared topic: /subscribe <topic>", "订阅公共话题：/subscribe <话题>"),
    ("unsubscribe", "Stop following a topic", "取消订阅话题"),
    ("digest", "Daily digest: /digest at 07:30 Asia/Shanghai, off, now",
     "每日摘要：/digest at 07:30 Asia/Shanghai、off、now"),
    ("mute", "Pause alerts: /mute 2h", "暂停提醒：/mute 2h"),
    ("unmute", "Resume alerts", "恢复提醒"),
    ("quiet", "Quiet hours: /quiet 23:00-07:00, off", "免打扰时段：/quiet 23:00-07:00、off"),
    ("tz", "Time zone for alert times: /tz Asia/Taipei", "提醒时间的时区：/tz Asia/Taipei"),
    ("feeds", "The feeds polled (bot admins)", "新闻源（仅机器人管理员）"),
    ("status", "Feed health and this chat's settings", "新闻源状态与本聊天的设置"),
    ("lang", "Reply language: /lang en or /lang zh", "回复语言：/lang en 或 /lang zh"),
    ("whoami", "Your user id, for NEWSBOT_ADMINS", "你的用户 ID（用于 NEWSBOT_ADMINS）"),
)
COMMANDS = tuple(name for name, _, _ in COMMAND_MENU)
# my_chat_member: the bot's own status in a chat changed (added back: the chat is resumed);
# callback_query: a button under an alert was pressed.
ALLOWED_UPDATES = ("message", "channel_post", "my_chat_member", "callback_query")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ADMIN_TTL = 60.0
POLL_TIMEOUT = 10.0
REPLY_ATTEMPTS = 5
MAX_REPLY_WAIT = 60.0
FAILED = ("Sorry, something went wrong with that command; please try again later.\n"
          "抱歉，处理该命令时出错，请稍后再试。")
BUTTON_FAILED = "Sorry, something went wrong; please try again later. 抱歉，出错了，请稍后再试。"
NOTICE_LIMIT = 200  # characters of an answerCallbackQuery text

_MANAGERS = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
_PRESENT = frozenset({ChatMemberStatus.MEMBER, *_MANAGERS})  # the bot can post again
_ALWAYS_MANAGE = frozenset({ChatType.PRIVATE, ChatType.CHANNEL})
_GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
_MAX_CACHED_MEMBERS = 4096
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token


def _can_post(member: ChatMember) -> bool:
    """True if the bot, with this membership, may post: a member or administrator, or a
    restricted member still allowed to send messages."""
    if member.status in _PRESENT:
        return True
    return isinstance(member, ChatMemberRestricted) and member.is_member and (
        member.can_send_messages)


def notice_text(text: str) -> str:
    """`text` within answerCallbackQuery's 200 characters (UTF-16 units, to be safe)."""
    if _units(text) <= NOTICE_LIMIT:
        return text
    cut = text
    while _units(cut) > NOTICE_LIMIT - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"


def webhook_secret_for(token: str) -> str:
    """A webhook secret derived from the bot token: stable across restarts and workers."""
    digest = hmac.new(token.encode(), b"newsbot telegram webhook", hashlib.sha256)
    return digest.hexdigest()


class TelegramFrontEnd:
    """Chat commands from Telegram to the command interpreter and its replies back.

    An async context manager over a PTB `Application` that shares the entered channel's token,
    API root and `FloodControl`. Long polling (getUpdates) by default; with `poll=False` it
    waits for `start_polling`, so that of several workers only the one holding the poller's
    lease polls (Telegram answers 409 Conflict to a second poller; see `bot.store.Leader`).
    With `webhook_url` it calls setWebhook with a secret token instead, and the caller's HTTP
    server routes POSTs at `webhook_path` to `handle_webhook` (every worker can). Only
    commands with a bot_command entity at the start, and not addressed to another bot
    (`/rule@otherbot`), reach the interpreter.

    Presses on the buttons under alerts (callback queries with `nb:` data) go to `actions`
    (by default a `StoryActions` over the interpreter's store, chats and rules); each press is
    answered exactly once with answerCallbackQuery, and "why" and "more" also reply in the
    chat to the alert. Muting needs the right to manage the chat, as commands do.
    """

    def __init__(self, channel: TelegramChannel, interpreter: CommandInterpreter, *,
                 actions: StoryActions | None = None,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 admin_ttl: float = ADMIN_TTL, poll_timeout: float = POLL_TIMEOUT,
                 poll: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: _Sleep = asyncio.sleep) -> None:
        if webhook_url and not _http_url(webhook_url):
            raise ConfigError(f"telegram: the webhook URL is not an http(s) URL: {webhook_url!r}")
        if webhook_secret and not _SECRET.fullmatch(webhook_secret):
            raise ConfigError("telegram: the webhook secret must be 1-256 characters "
                              "from A-Z, a-z, 0-9, _ and -")
        self.channel = channel
        self.interpreter = interpreter
        self._actions = actions
        self.webhook_url = webhook_url or None
        self._secret = (webhook_secret or webhook_secret_for(channel.bot.token)
                        if self.webhook_url else None)
        self.admin_ttl = admin_ttl
        self.poll_timeout = poll_timeout
        self.poll = poll
        self._clock = clock
        self._sleep = sleep
        self._members: dict[tuple[int, int], tuple[float, bool]] = {}
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None

    def __repr__(self) -> str:
        mode = "webhook" if self.webhook_url else "polling"
        return f"TelegramFrontEnd(api_url={self.channel.api_url!r}, mode={mode!r})"

    @property
    def actions(self) -> StoryActions:
        """What the buttons under alerts do (made from the interpreter's store on first use)."""
        if self._actions is None:
            i = self.interpreter
            self._actions = StoryActions(i.store, i.chats, i.rules)
        return self._actions

    @property
    def webhook_path(self) -> str:
        """The path the HTTP server routes to `handle_webhook`: that of `webhook_url`."""
        return (urlsplit(self.webhook_url).path if self.webhook_url else "") or "/"

    async def __aenter__(self) -> Self:
        """Start the application, register the command menu, then poll or set the webhook."""
        app = self._build()
        self._app = app
        try:
            await app.initialize()
            await self._register_menu()
            if self.webhook_url:
                await app.bot.set_webhook(self.webhook_url, secret_token=self._secret,
                                          allowed_updates=ALLOWED_UPDATES)
            await app.start()
            if self.poll:
                await self.start_polling()
        except BaseException as exc:
            await self._close()
            if isinstance(exc, TelegramError):
                raise self.channel._error(exc, "unable to start the command front end") from (
                    self.channel._cause(exc))
            raise
        log.info("telegram: commands started", extra={"kv": {
            "mode": "webhook" if self.webhook_url else "polling"}})
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """Stop polling, finish the commands already received, close the connections."""
        await self._close()

    def _build(self) -> Application[Any, Any, Any, Any, Any, Any]:
        root = self.channel.api_url
        app = (ApplicationBuilder().token(self.channel.bot.token).base_url(f"{root}/bot")
               .base_file_url(f"{root}/file/bot").rate_limiter(self.channel.flood)
               .job_queue(None).build())
        wanted = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        app.add_handler(CommandHandler(COMMANDS, self._on_command, filters=wanted))
        # Unknown commands get the interpreter's hint, but only in private chats.
        app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE
                                       & filters.UpdateType.MESSAGE, self._on_unknown))
        app.add_handler(ChatMemberHandler(self._on_my_member,
                                          ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        app.add_handler(CallbackQueryHandler(self._on_button, pattern=f"^{PREFIX}:"))
        # Any other callback query (not one of our buttons) is still answered, politely.
        app.add_handler(CallbackQueryHandler(self._on_button))
        return app

    @property
    def polling(self) -> bool:
        """True while this front end long-polls getUpdates."""
        return self._app is not None and self._app.updater is not None and (
            self._app.updater.running)

    async def start_polling(self) -> None:
        """Start long polling (no-op with a webhook or when already polling)."""
        app = self._app
        if self.webhook_url or app is None or app.updater is None or app.updater.running:
            return
        await app.updater.start_polling(timeout=timedelta(seconds=self.poll_timeout),
                                        allowed_updates=ALLOWED_UPDATES)
        log.info("telegram: polling for updates")

    async def stop_polling(self) -> None:
        """Stop long polling; the commands already received are still answered."""
        app = self._app
        if app is not None and app.updater is not None and app.updater.running:
            await app.updater.stop()
            log.info("telegram: stopped polling for updates")

    async def _close(self) -> None:
        app, self._app = self._app, None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _register_menu(self) -> None:
        """setMyCommands in English for everyone and in Chinese for `zh` users."""
        assert self._app is not None
        bot = self._app.bot
        english = [BotCommand(name, en) for name, en, _ in COMMAND_MENU]
        chinese = [BotCommand(name, zh) for name, _, zh in COMMAND_MENU]
        try:
            await bot.set_my_commands(english)
            await bot.set_my_commands(chinese, language_code="zh")
        except TelegramError as exc:  # the commands still work without the menu
            log.warning("telegram: unable to set the command menu", extra={"kv": {
                "error": self.channel._scrub(exc.message)}})

    # --- webhook ----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """Routes for the bot's HTTP server: POST `webhook_path` (none when polling)."""
        return [web.post(self.webhook_path, self.handle_webhook)] if self.webhook_url else []

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """An aiohttp handler for Telegram's webhook POSTs: 401 unless the secret matches."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("telegram: webhook request with a wrong secret token", extra={"kv": {
                "remote": request.remote}})
            return web.Response(status=401, text="unauthorized")
        app = self._app
        if app is None or not app.running:
            return web.Response(status=503, text="not running")
        try:
            data = await request.json()
            update = Update.de_json(data, app.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None:
            return web.Response(status=400, text="not an update")
        await app.update_queue.put(update)
        return web.Response(text="ok")

    # --- commands ---------------------------------------------------------------------------

    async def _on_command(self, update: Update, context: object) -> None:
        """Run one command and reply; no error here ever stops the updates."""
        message = update.effective_message
        if message is None or not message.text:
            return
        try:
            reply = await self.interpreter.handle(await self._request(message))
        except Exception:
            log.exception("telegram: command failed", extra={"kv": {
                "chat_id": message.chat.id, "message_id": message.message_id}})
            reply = CommandReply(FAILED, tuple(FAILED.split("\n")), ok=False)
        try:
            await self._reply(message, reply)
        except Exception:
            log.exception("telegram: unable to reply", extra={"kv": {
                "chat_id": message.chat.id, "message_id": message.message_id}})

    # --- buttons under alerts (see bot.actions) -----------------------------------------------

    async def _on_button(self, update: Update, context: object) -> None:
        """A press on a button: the action's reply, answered exactly once (Telegram shows a
        spinner until then): a notice or a refusal as the answer's text; for "why" and "more"
        an empty answer, then the reply as a message in the chat answering the alert."""
        query = update.callback_query
        if query is None:
            return
        message = query.message
        try:
            reply = await self._press(query)
        except Exception:
            log.exception("telegram: button press failed", extra={"kv": {
                "chat_id": message.chat.id if message else None, "data": query.data}})
            reply = ActionReply(BUTTON_FAILED, ok=False)
        notice = reply.notice or message is None
        try:
            await query.answer(text=notice_text(reply.text) if notice else None,
                               show_alert=False)
        except TelegramError as exc:  # e.g. the query is too old: the reply still goes out
            log.warning("telegram: unable to answer a button press", extra={"kv": {
                "chat_id": message.chat.id if message else None,
                "error": self.channel._scrub(exc.message)}})
        if notice or message is None:
            return
        try:
            await self._reply(message, CommandReply(reply.text, tuple(reply.text.split("\n")),
                                                    ok=reply.ok))
        except Exception:
            log.exception("telegram: unable to reply to a button press", extra={"kv": {
                "chat_id": message.chat.id, "message_id": message.message_id}})

    async def _press(self, query: CallbackQuery) -> ActionReply:
        """What `actions` answers to this press, in the chat of the alert (its new id if the
        group became a supergroup)."""
        message = query.message
        if message is None:  # a button of an inline-mode message: never one of our alerts
            return ActionReply(i18n.text(i18n.DEFAULT_LANGUAGE, "action.unknown"), ok=False)
        chat = f"telegram:{message.chat.id}"
        chat = await self.interpreter.chats.moved_to(chat) or chat
        return await self.actions.handle(
            chat=chat, data=query.data or "",
            can_manage=await self._can_press(message.chat, query.from_user))

    async def _can_press(self, chat: Chat, user: User | None) -> bool:
        """Private chats: yes; groups, supergroups and channels (where any subscriber can
        press a button): the presser is one of the chat's administrators."""
        if chat.type == ChatType.PRIVATE:
            return True
        if user is None or chat.type not in {*_GROUPS, ChatType.CHANNEL}:
            return False
        return await self._is_admin(chat.id, user.id)

    # --- chat lifecycle (see bot.chats) --------------------------------------------------------

    async def _on_my_member(self, update: Update, context: object) -> None:
        """The bot's status in a chat changed: back as member or administrator (re-added to a
        group or channel, unblocked in a private chat) resumes a paused chat; its held alerts
        then arrive as one batch (bot.digest). Removal is noticed by the next delivery."""
        changed = update.my_chat_member
        if changed is None or not _can_post(changed.new_chat_member):
            return
        chat = f"telegram:{changed.chat.id}"
        try:
            if await self.interpreter.chats.resume(chat):
                log.info("telegram: the bot is back in a paused chat; resumed", extra={"kv": {
                    "chat": chat, "status": str(changed.new_chat_member.status)}})
        except Exception:
            log.exception("telegram: unable to resume a chat", extra={"kv": {"chat": chat}})

    async def _on_migrate(self, update: Update, context: object) -> None:
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
            if await self.interpreter.chats.migrate(f"telegram:{old}", f"telegram:{new}"):
                log.warning("telegram: group upgraded to a supergroup; its settings moved",
                            extra={"kv": {"chat": f"telegram:{old}", "new_chat":
                                          f"telegram:{new}"}})
        except Exception:
            log.exception("telegram: unable to move a migrated chat", extra={"kv": {
                "chat": f"telegram:{old}", "new_chat": f"telegram:{new}"}})

    async def _on_unknown(self, update: Update, context: object) -> None:
        """A command not in the menu: the interpreter's hint, unless it is for another bot."""
        message = update.effective_message
        if message is None or not message.text or not message.entities:
            return
        word = message.text[:message.entities[0].length]
        _, at, target = word.partition("@")
        if not at or target.lower() == message.get_bot().username.lower():
            await self._on_command(update, context)

    async def _request(self, message: Message) -> CommandRequest:
        """The platform-neutral request for a Telegram message."""
        sender = message.sender_chat or message.from_user
        user = sender.id if sender is not None else message.chat.id
        return CommandRequest(chat=f"telegram:{message.chat.id}", user=f"telegram:{user}",
                              text=message.text or "", can_manage=await self._can_manage(message),
                              chat_title=message.chat.title)

    async def _can_manage(self, message: Message) -> bool:
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
        return await self._is_admin(chat.id, message.from_user.id)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        """getChatMember status creator/administrator, remembered for `admin_ttl` seconds."""
        now = self._clock()
        cached = self._members.get((chat_id, user_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        assert self._app is not None
        try:
            member = await self._app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("telegram: unable to check a chat member", extra={"kv": {
                "chat_id": chat_id, "user_id": user_id,
                "error": self.channel._scrub(exc.message)}})
            return False
        if len(self._members) >= _MAX_CACHED_MEMBERS:
            self._members = {k: v for k, v in self._members.items() if v[0] > now}
        admin = member.status in _MANAGERS
        self._members[(chat_id, user_id)] = (now + self.admin_ttl, admin)
        return admin

    async def _reply(self, message: MaybeInaccessibleMessage, reply: CommandReply) -> None:
        """Send the reply's messages, the first as a reply to the command."""
        messages = render_list_html(reply.stories) if reply.stories else render_reply(reply)
        for index, html in enumerate(messages):
            quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if not await self._send(message.chat.id, html, quote if index == 0 else None):
                return

    async def _send(self, chat_id: int, html: str, quote: ReplyParameters | None) -> bool:
        """sendMessage, waiting out 429s a few times; False (logged) if it did not go out."""
        assert self._app is not None
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await self._app.bot.send_message(
                    chat_id, html, parse_mode=ParseMode.HTML, reply_parameters=quote,
                    link_preview_options=_NO_PREVIEW)
                return True
            except RetryAfter as exc:
                if attempt == REPLY_ATTEMPTS:
                    error = self.channel._scrub(exc.message)
                    break
                await self._sleep(min(_retry_seconds(exc), MAX_REPLY_WAIT))
            except TelegramError as exc:
                error = self.channel._scrub(exc.message)
                break
        log.warning("telegram: unable to send a reply", extra={"kv": {
            "chat_id": chat_id, "error": error}})
        return False
