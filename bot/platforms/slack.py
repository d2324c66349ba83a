"""The Slack channel: alerts rendered as Block Kit and posted through slack_sdk's async client.

Chat ids look like `slack:<channel_id>` (`slack:C0123ABCD`); message references are the
message `ts`. Requests go to `<api_url><method>` (`SLACK_API_URL`, default
`https://slack.com/api/`), so GovSlack or a test server only need a different base URL.
slack_sdk errors are translated here into `ChannelError` and `RetryAfterError`; the client is
built without retry handlers, so nothing here retries: the outbox waits out `retry_after`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert, Story, StoryArticle

DEFAULT_API_URL = "https://slack.com/api/"
MAX_BLOCKS = 50  # Slack's cap per message
SECTION_LIMIT = 3000  # characters of a section's text
CONTEXT_ELEMENTS = 10  # elements of a context block
FALLBACK_LIMIT = 4000  # characters of the top-level `text` we send (Slack truncates at 40k)
MAX_REPORTS = 20

_HEADLINE_CHARS = 280
_OUTLET_CHARS = 40
_TITLE_CHARS = 300
_TERM_CHARS = 40
_URL_CHARS = 600  # longer URLs (as sent) are shown unlinked rather than eating a section
_MORE_RESERVE = 40
_CHANNEL_ID = re.compile(r"[A-Z0-9]{2,40}")
_TS = re.compile(r"\d{1,12}\.\d{1,9}")
_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                          "token_expired", "no_permission"})
_RATE_ERRORS = frozenset({"ratelimited", "rate_limited"})
_URL_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", '"': "%22"}

Block = dict[str, Any]


def render_blocks(alert: Alert, *, update: bool = False,
                  max_reports: int = MAX_REPORTS) -> tuple[str, list[Block]]:
    """Fallback text and Block Kit blocks: linked headline, linked outlets, terms, reports.

    Every outside string is escaped for mrkdwn and only http(s) URLs become links; text
    objects are `verbatim` so titles cannot raise `@here` or link channels. The blocks stay
    within Slack's limits (MAX_BLOCKS, SECTION_LIMIT, CONTEXT_ELEMENTS) and the fallback text
    within FALLBACK_LIMIT: report lines are dropped, long fields clipped with an ellipsis.
    """
    story = alert.story
    head = [_headline(story, update=update)]
    if story.outlets:
        head.append(_outlets_line(story))
    if alert.terms:
        head.append(_terms_line(alert.terms))
    blocks: list[Block] = [_section(head[0]), *(_context(line) for line in head[1:])]
    # one report per section at worst, plus the `and N more` line
    room = MAX_BLOCKS - len(blocks) - 1
    reports = _report_lines(story, max_reports=max(0, min(max_reports, room)))
    blocks.extend(_section(text) for text in _pack(reports, limit=SECTION_LIMIT,
                                                   max_chunks=MAX_BLOCKS - len(blocks)))
    return _fallback(alert, update=update), blocks


def escape_mrkdwn(text: str) -> str:
    """`text` with the three characters Slack's mrkdwn treats as control escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis (before escaping)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def _http_url(url: str | None) -> str | None:
    """`url` made safe inside `<url|text>` if it is an absolute http(s) URL, else None."""
    if not url or any(not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    safe = "".join(_URL_UNSAFE.get(c, c) for c in url.strip()).replace("&", "&amp;")
    return safe if len(safe) <= _URL_CHARS else None


def _link(label: str, url: str | None) -> str:
    """Escaped `label`, linked when `url` is linkable; a `|` in the label cannot split it."""
    target = _http_url(url)
    text = escape_mrkdwn(label)
    return f"<{target}|{text.replace('|', '｜')}>" if target else text


def _first_url(articles: Iterable[StoryArticle]) -> str | None:
    return next((a.url for a in articles if _http_url(a.url)), None)


def _headline(story: Story, *, update: bool) -> str:
    line = f"*{_link(_clip(story.headline, _HEADLINE_CHARS), _first_url(story.articles))}*"
    return line + (" _(updated)_" if update else "")


def _outlets_line(story: Story) -> str:
    outlets = story.outlets
    label = f"{len(outlets)} outlet{'s' if len(outlets) != 1 else ''}: "
    items = [_link(_clip(outlet, _OUTLET_CHARS),
                   _first_url(a for a in story.articles if a.outlet == outlet))
             for outlet in outlets]
    return label + _join_within(items, " · ", budget=SECTION_LIMIT - len(label))


def _terms_line(terms: Sequence[str]) -> str:
    items = [escape_mrkdwn(_clip(term, _TERM_CHARS)) for term in terms]
    return "Matched: " + _join_within(items, ", ", budget=SECTION_LIMIT - 9)


def _join_within(items: Sequence[str], sep: str, *, budget: int) -> str:
    """Items joined by `sep` while they fit in `budget` characters, then `+N more`."""
    shown: list[str] = []
    used = 0
    for item in items:
        cost = len(item) + (len(sep) if shown else 0)
        if used + cost > budget - _MORE_RESERVE:
            return sep.join([*shown, f"+{len(items) - len(shown)} more"])
        shown.append(item)
        used += cost
    return sep.join(shown)


def _report_lines(story: Story, *, max_reports: int) -> list[str]:
    lines = [_report_line(article) for article in story.articles[:max_reports]]
    rest = len(story.articles) - len(lines)
    if rest:
        lines.append(f"… and {rest} more report{'s' if rest != 1 else ''}")
    return lines


def _stamp(article: StoryArticle) -> str:
    when = article.time if article.time.tzinfo is None else article.time.astimezone(UTC)
    return f"{when:%Y-%m-%d %H:%M} UTC" if article.dated else "undated"


def _report_line(article: StoryArticle) -> str:
    title = _link(_clip(article.title, _TITLE_CHARS), article.url)
    return f"• {escape_mrkdwn(_clip(article.outlet, _OUTLET_CHARS))}, {_stamp(article)}: {title}"


def _pack(lines: Sequence[str], *, limit: int, max_chunks: int) -> list[str]:
    """Lines joined into at most `max_chunks` texts of at most `limit` characters each."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        elif len(chunks) < max_chunks and len(line) <= limit:
            chunks.append(line)
        else:
            break
    return chunks


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _fallback(alert: Alert, *, update: bool) -> str:
    """The notification text: headline, outlets, terms, then report lines while they fit."""
    story = alert.story
    head = "Update" if update else "Alert"
    lines = [escape_mrkdwn(f"{head}: {_clip(story.headline, _HEADLINE_CHARS)}")]
    if story.outlets:
        lines.append(escape_mrkdwn(_clip(f"{len(story.outlets)} outlets: "
                                         + " · ".join(story.outlets), 600)))
    if alert.terms:
        lines.append(escape_mrkdwn(_clip("Matched: " + ", ".join(alert.terms), 300)))
    for article in story.articles:
        line = escape_mrkdwn(f"• {_clip(article.outlet, _OUTLET_CHARS)}, {_stamp(article)}: "
                             f"{_clip(article.title, _TITLE_CHARS)}")
        if sum(len(x) + 1 for x in lines) + len(line) > FALLBACK_LIMIT - _MORE_RESERVE:
            lines.append("…")
            break
        lines.append(line)
    return "\n".join(lines)


def _channel_id(chat: str) -> str:
    """The Slack channel id in `slack:<channel_id>`."""
    platform, _, raw = chat.partition(":")
    if platform != "slack" or not _CHANNEL_ID.fullmatch(raw):
        raise ChannelError(f"slack: not a slack chat id: {chat!r}")
    return raw


def _check_ts(ref: str) -> str:
    if not _TS.fullmatch(ref):
        raise ChannelError(f"slack: not a message reference: {ref!r}")
    return ref


def _api_error(exc: SlackApiError) -> str | None:
    """The `error` code of a Web API reply (None when the body was not a JSON object)."""
    data = exc.response.data
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else None


def _retry_after(headers: Mapping[str, str] | None) -> float:
    """Seconds from a `Retry-After` header (1 when missing or unreadable)."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0


class SlackChannel:
    """Posts and edits alerts through the Web API; an async context manager over AsyncWebClient.

    Entering it opens an aiohttp session (unless one was given, which the caller then owns)
    and checks the token with `auth.test`.
    """

    platform = "slack"

    def __init__(self, *, token: str, api_url: str = DEFAULT_API_URL,
                 session: aiohttp.ClientSession | None = None, timeout: int = 30) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._timeout = timeout
        self._owns_session = session is None
        # retry_handlers=[]: no silent retries (the SDK's default retries connection errors).
        self._client = AsyncWebClient(token=token, base_url=self.api_url, session=session,
                                      timeout=timeout, retry_handlers=[])
        self.bot_user_id: str | None = None
        self.team_id: str | None = None

    def __repr__(self) -> str:
        return f"SlackChannel(api_url={self.api_url!r})"

    @property
    def client(self) -> AsyncWebClient:
        """The underlying slack_sdk client (for the command front end); never log its repr."""
        return self._client

    async def __aenter__(self) -> Self:
        """Open the HTTP session and check the token (`auth.test`)."""
        if self._owns_session:
            self._client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout))
        try:
            reply = await self._client.auth_test()
        except SlackApiError as exc:
            await self._close()
            if _api_error(exc) in _AUTH_ERRORS:
                raise ConfigError(
                    f"slack: the bot token was rejected by {self.api_url}") from None
            raise self._error(exc, f"unable to reach the Web API at {self.api_url}") from (
                self._cause(exc))
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            await self._close()
            raise self._error(exc, f"unable to reach the Web API at {self.api_url}") from (
                self._cause(exc))
        self.bot_user_id = reply.get("user_id")
        self.team_id = reply.get("team_id")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        session = self._client.session
        if self._owns_session and session is not None:
            await session.close()
            self._client.session = None

    async def send(self, alert: Alert) -> str:
        """Post `alert` as a new message without unfurls; return its `ts`."""
        channel = _channel_id(alert.chat)
        text, blocks = render_blocks(alert)
        try:
            reply = await self._client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False,
                unfurl_media=False)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._error(exc, f"unable to post to channel {channel}") from self._cause(exc)
        ts = reply.get("ts")
        if not isinstance(ts, str):
            raise ChannelError(f"slack: no ts in the reply to a post to channel {channel}")
        return ts

    async def edit(self, ref: str, alert: Alert) -> None:
        """Re-render the message `ref` (its `ts`) in place."""
        channel, ts = _channel_id(alert.chat), _check_ts(ref)
        text, blocks = render_blocks(alert, update=True)
        try:
            await self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._error(exc, f"unable to update message {ts} in channel {channel}"
                              ) from self._cause(exc)

    def _error(self, exc: Exception, what: str) -> ChannelError:
        """Our error for a slack_sdk or aiohttp error, with the token scrubbed."""
        if isinstance(exc, SlackApiError):
            response = exc.response
            error = _api_error(exc) or f"HTTP {response.status_code}"
            if response.status_code == 429 or error in _RATE_ERRORS:
                return RetryAfterError(f"slack: {what}: {self._scrub(error)}",
                                       retry_after=_retry_after(response.headers))
            if error == "message_not_found":
                return MessageGoneError(f"slack: {what}: {error}")
            return ChannelError(f"slack: {what}: {self._scrub(error)}")
        detail = str(exc) or type(exc).__name__
        return ChannelError(f"slack: {what}: {self._scrub(detail)}")

    def _cause(self, exc: Exception) -> Exception | None:
        """Chain the original error unless its message would carry the token into tracebacks."""
        return exc if self._scrub(str(exc)) == str(exc) else None

    def _scrub(self, text: str) -> str:
        token = self._client.token
        return text.replace(token, "<token>") if token else text
