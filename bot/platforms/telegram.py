"""The Telegram channel: alerts rendered as Telegram HTML and posted through python-telegram-bot.

Chat ids look like `telegram:<chat_id>` (a number, negative for groups, or `@channelname`);
message references are the Telegram message id as a string. Requests go to
`<api_url>/bot<token>/<method>`, so `TELEGRAM_API_URL` can point at a self-hosted Bot API
server or a test server. PTB errors are translated here into `ChannelError` and
`RetryAfterError`; nothing here retries, the outbox waits out `retry_after` itself.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from datetime import UTC, timedelta
from html import escape
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert, Story, StoryArticle

DEFAULT_API_URL = "https://api.telegram.org"
MESSAGE_LIMIT = 4096  # Telegram's cap, in UTF-16 code units of the text after entity parsing
MAX_REPORTS = 10

_HEADLINE_CHARS = 200
_OUTLET_CHARS = 40
_TITLE_CHARS = 160
_TERM_CHARS = 40
_URL_CHARS = 600  # longer (escaped) URLs are shown unlinked rather than eat the budget
_OUTLETS_BUDGET = 700
_TERMS_BUDGET = 300
_MORE_RESERVE = 40
_CHAT_ID = re.compile(r"-?\d+|@[A-Za-z0-9_]{4,}")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_NOT_MODIFIED = "message is not modified"
_GONE = "message to edit not found"


def render_html(alert: Alert, *, update: bool = False, max_reports: int = MAX_REPORTS) -> str:
    """A Telegram-HTML alert: linked headline, linked outlets, matched terms, report lines.

    Every outside string is escaped and only http(s) URLs become links. The result's length
    in UTF-16 code units (an upper bound of what Telegram counts) stays within MESSAGE_LIMIT:
    report lines are dropped, and long fields clipped with an ellipsis, before any tag is cut.
    """
    story = alert.story
    head = [_headline(story, update=update)]
    if story.outlets:
        head.append(_outlets_line(story))
    if alert.terms:
        head.append(_terms_line(alert.terms))
    text = "\n".join(head)
    reports = _report_lines(story, room=MESSAGE_LIMIT - _units(text) - 2,
                            max_reports=max_reports)
    if reports:
        text += "\n\n" + "\n".join(reports)
    return text


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


def _headline(story: Story, *, update: bool) -> str:
    url = next((a.url for a in story.articles if _http_url(a.url)), None)
    line = f"<b>{_link(escape(_clip(story.headline, _HEADLINE_CHARS)), url)}</b>"
    return line + (" <i>(updated)</i>" if update else "")


def _outlets_line(story: Story) -> str:
    outlets = story.outlets
    label = f"{len(outlets)} outlet{'s' if len(outlets) != 1 else ''}: "
    items = [_link(escape(_clip(outlet, _OUTLET_CHARS)),
                   next((a.url for a in story.articles
                         if a.outlet == outlet and _http_url(a.url)), None))
             for outlet in outlets]
    return label + _join_within(items, " · ", budget=_OUTLETS_BUDGET - len(label))


def _terms_line(terms: Sequence[str]) -> str:
    items = [escape(_clip(term, _TERM_CHARS)) for term in terms]
    return "Matched: " + _join_within(items, ", ", budget=_TERMS_BUDGET)


def _join_within(items: Sequence[str], sep: str, *, budget: int) -> str:
    """Items joined by `sep` while they fit in `budget` units, then `+N more`."""
    shown: list[str] = []
    used = 0
    for item in items:
        cost = _units(item) + (_units(sep) if shown else 0)
        if used + cost > budget - _MORE_RESERVE:
            return sep.join([*shown, f"+{len(items) - len(shown)} more"])
        shown.append(item)
        used += cost
    return sep.join(shown)


def _report_lines(story: Story, *, room: int, max_reports: int) -> list[str]:
    """One line per report while they fit in `room` units, then a count of the rest."""
    lines: list[str] = []
    used = 0
    for article in story.articles[:max_reports]:
        line = _report_line(article)
        if used + _units(line) + 1 > room - _MORE_RESERVE:
            break
        lines.append(line)
        used += _units(line) + 1
    rest = len(story.articles) - len(lines)
    if rest:
        lines.append(f"… and {rest} more report{'s' if rest != 1 else ''}")
    return lines


def _report_line(article: StoryArticle) -> str:
    when = article.time if article.time.tzinfo is None else article.time.astimezone(UTC)
    stamp = f"{when:%Y-%m-%d %H:%M} UTC" if article.dated else "undated"
    title = _link(escape(_clip(article.title, _TITLE_CHARS)), article.url)
    return f"• {escape(_clip(article.outlet, _OUTLET_CHARS))}, {stamp}: {title}"


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


class TelegramChannel:
    """Posts and edits alerts through the Bot API; an async context manager around PTB's Bot."""

    platform = "telegram"

    def __init__(self, *, token: str, api_url: str = DEFAULT_API_URL) -> None:
        if not token:
            raise ConfigError("telegram: the bot token is empty")
        self.api_url = api_url.rstrip("/")
        # PTB appends the token to base_url: requests go to <api_url>/bot<token>/<method>.
        self._bot = Bot(token, base_url=f"{self.api_url}/bot",
                        base_file_url=f"{self.api_url}/file/bot")

    def __repr__(self) -> str:
        return f"TelegramChannel(api_url={self.api_url!r})"

    @property
    def bot(self) -> Bot:
        """The underlying PTB bot (for the command front end); never log its repr."""
        return self._bot

    async def __aenter__(self) -> Self:
        """Open the HTTP client and check the token (PTB calls getMe)."""
        try:
            await self._bot.initialize()
        except InvalidToken:
            await self._bot.shutdown()
            # from None: PTB's own message quotes the token.
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
        """Post `alert` as a new HTML message without link preview; return its message id."""
        chat_id = _chat_id(alert.chat)
        try:
            message = await self._bot.send_message(
                chat_id=chat_id, text=render_html(alert), parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW)
        except TelegramError as exc:
            raise self._error(exc, f"unable to send to chat {chat_id}") from self._cause(exc)
        return str(message.message_id)

    async def edit(self, ref: str, alert: Alert) -> None:
        """Re-render the message `ref`; an unchanged message counts as success."""
        chat_id, message_id = _chat_id(alert.chat), _message_id(ref)
        try:
            await self._bot.edit_message_text(
                text=render_html(alert, update=True), chat_id=chat_id, message_id=message_id,
                parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW)
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

    def _error(self, exc: TelegramError, what: str) -> ChannelError:
        """Our error for a PTB error, with the token scrubbed from the description."""
        description = self._scrub(exc.message)
        if isinstance(exc, RetryAfter):
            with warnings.catch_warnings():  # PTB 22.2+ warns that the type will change
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                seconds = _seconds(exc.retry_after)
            return RetryAfterError(f"telegram: {what}: {description}", retry_after=seconds)
        return ChannelError(f"telegram: {what}: {description}")

    def _cause(self, exc: TelegramError) -> TelegramError | None:
        """Chain the PTB error unless its message would carry the token into tracebacks."""
        return exc if self._scrub(exc.message) == exc.message else None

    def _scrub(self, text: str) -> str:
        return text.replace(self._bot.token, "<token>")
