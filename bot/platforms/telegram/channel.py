"""Sending alerts through the Bot API: `TelegramChannel` posts and edits, and translates PTB's
errors into ours (`ChannelError`, `RetryAfterError`, a chat gone or moved: `bot.chats`)."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.alerts import StoryList
from bot.chats import MOVED_REF, ChatGoneError, ChatMovedError
from bot.commands import CommandReply
from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert
from bot.platforms.telegram.flood import FloodControl
from bot.platforms.telegram.render import (
    alert_keyboard,
    render_html,
    render_list_html,
    render_reply,
)

DEFAULT_API_URL = "https://api.telegram.org"
_CHAT_ID = re.compile(r"-?\d+|@[A-Za-z0-9_]{4,}")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_NOT_MODIFIED = "message is not modified"
_GONE = "message to edit not found"
# Descriptions of errors that mean the bot cannot post to the chat until it is added back
# (Forbidden, 403, always does): the pause reason for each.
_CHAT_GONE = (("blocked by the user", "blocked"), ("kicked", "kicked"),
              ("not a member", "not_member"), ("user is deactivated", "deactivated"),
              ("can't initiate conversation", "not_started"), ("chat not found", "chat_not_found"),
              ("not enough rights to send", "no_rights"), ("have no rights to send", "no_rights"))


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


def retry_seconds(exc: RetryAfter) -> float:
    """The seconds a RetryAfter asks for, without PTB 22.2+'s type-change warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(exc.retry_after)


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
                parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
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
                link_preview_options=NO_PREVIEW, reply_markup=keyboard)
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
                                   retry_after=retry_seconds(exc))
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
