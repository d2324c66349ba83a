"""The Slack channel: alerts rendered as Block Kit and posted through slack_sdk's async client.

Chat ids look like `slack:<channel_id>` (`slack:C0123ABCD`); message references are the
message `ts`. Requests go to `<api_url><method>` (`SLACK_API_URL`, default
`https://slack.com/api/`), so GovSlack or a test server only need a different base URL.
slack_sdk errors are translated here into `ChannelError` and `RetryAfterError`; the client is
built without retry handlers, so nothing here retries: the outbox waits out `retry_after`.

`SlackFrontEnd` is the `/newsbot` slash command (and the events that resume a paused channel:
`member_joined_channel` for the app's bot user, `channel_unarchive`): a thin bolt adapter that
turns the payload into a `CommandRequest` for the interpreter and its `CommandReply` into
mrkdwn posted to the command's `response_url` (over HTTP at `/slack/events`, or Socket Mode
with an app token). It also answers the buttons under alerts (`alert_buttons`: mute
updates, why, outlets; `block_actions` payloads at the same URL or over Socket Mode) through
bot.actions, with an ephemeral message to the presser; and it publishes the Home tab
(`app_home_opened`): the user's channels newsbot alerts, with their rules and status.
ChannelErrors: `not_in_channel`, `channel_not_found` and `is_archived` are `ChatGoneError`
(the channel is paused, see bot.chats).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import i18n
from bot.actions import ACTIONS, StoryActions, action_data
from bot.alerts import AlertView, ListedStory, StoryList, alert_view, outlets_label
from bot.chats import ChatDirectory, ChatGoneError
from bot.commands import CommandInterpreter, CommandReply, CommandRequest, split_command
from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert
from bot.platforms.layout import join_within
from bot.rules.book import RuleBook

log = logging.getLogger(__name__)


class _BoltLogFilter(logging.Filter):
    """Drops bolt's warnings that a token is unused (it also reads SLACK_BOT_TOKEN from the
    environment, and our `authorize` hands it the channel's token anyway), and its INFO line
    with the body of a request whose signature it refused (`handle` refused those already,
    with one debug line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("`authorize` has been used" in message
                    or "gave `client` as well, `token` will be unused" in message
                    or message.startswith("Invalid request signature detected"))


_bolt_log = log.getChild("bolt")
_bolt_log.addFilter(_BoltLogFilter())

DEFAULT_API_URL = "https://slack.com/api/"
MAX_BLOCKS = 50  # Slack's cap per message
SECTION_LIMIT = 3000  # characters of a section's text
CONTEXT_ELEMENTS = 10  # elements of a context block
FALLBACK_LIMIT = 4000  # characters of the top-level `text` we send (Slack truncates at 40k)

_HEADLINE_CHARS = 280
_SUMMARY_CHARS = 500  # x5 at worst once escaped: within SECTION_LIMIT
_OUTLET_CHARS = 40
_FOOTER_CHARS = 500
# A listed story is one section: headline (1,000 escaped + a 600 URL), summary (700 escaped)
# and outlets (500) stay within SECTION_LIMIT at worst.
_LIST_HEADLINE_CHARS = 200
_LIST_SUMMARY_CHARS = 140
_LIST_OUTLETS_BUDGET = 500
_URL_CHARS = 600  # longer URLs (as sent) are shown unlinked rather than eating a section
_CHANNEL_ID = re.compile(r"[A-Z0-9]{2,40}")
_TS = re.compile(r"\d{1,12}\.\d{1,9}")
_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                          "token_expired", "no_permission"})
_RATE_ERRORS = frozenset({"ratelimited", "rate_limited"})
# Web API errors that mean the app cannot post to the channel until it is invited back (or
# the channel unarchived): the channel is paused (`ChatGoneError`), not retried.
_GONE_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
_URL_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", '"': "%22"}

COMMAND = "/newsbot"
EVENTS_PATH = "/slack/events"
SIGNATURE_MAX_AGE = 300  # seconds between a request's timestamp and now (Slack's advice)
_REFUSED = {"error": "invalid request"}  # the 401's body, as bolt words it
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits (int() also reads " 1_2", other scripts')
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
REPLY_LIMIT = 4000  # characters of a command reply (Slack advises at most 4,000)
REPLY_ATTEMPTS = 5  # posts of one reply to its response_url, 429s included
RESPONSE_URL_USES = 5  # Slack accepts at most five posts to one response_url
MAX_RETRY_WAIT = 60.0  # seconds; a response_url stays valid for 30 minutes
SHUTDOWN_GRACE = 10.0
SOCKET_CONNECT_TIMEOUT = 30.0
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

# The buttons under an alert (bot.actions): action_id `nb_<action>`, value `nb:<action>:<story>`.
ACTION_IDS = {action: f"nb_{action}" for action in ACTIONS}
ACTIONS_BLOCK_ID = "nb_actions"
_ACTION_ID = re.compile("^(?:" + "|".join(re.escape(a) for a in ACTION_IDS.values()) + ")$")
BUTTON_TEXT_LIMIT = 75  # characters of a button's plain_text label (Block Kit)
ACTION_REPLY_FAILED = ("newsbot: that button failed on our side; please try again later. "
                       "按钮操作失败，请稍后再试。")

# The Home tab (App Home): a header, a line on what it shows, then one section per channel.
HOME_MAX_BLOCKS = 100  # Slack's cap for a Home tab view
HOME_CHANNELS = HOME_MAX_BLOCKS - 4  # header, intro, divider, and "… more channels"
HOME_PAGES = 10  # pages of users.conversations read (200 channels each)
_HOME_TEXT = {  # the Home tab's own words, in the user's /lang (set in the app's DM)
    "en": {"title": "newsbot: your channels",
           "intro": "Channels you are in that newsbot alerts (rules, topics or a digest), as "
                    "of {time}. Change them with /newsbot in the channel.",
           "none": "None of the channels you are in has newsbot rules or topics yet. In a "
                   "channel, invite the app (/invite @newsbot) and type /newsbot help.",
           "failed": "newsbot could not list your channels ({error}); try again later.",
           "more": "… and {count} more channels.",
           "paused": "Paused: {reason}, since {since}"},
    "zh": {"title": "newsbot：你的频道",
           "intro": "你所在且由 newsbot 推送的频道（规则、话题或摘要），截至 {time}。"
                    "请在频道中用 /newsbot 修改。",
           "none": "你所在的频道都还没有 newsbot 规则或话题。请在频道中邀请本应用"
                   "（/invite @newsbot），再输入 /newsbot help。",
           "failed": "newsbot 无法列出你的频道（{error}），请稍后再试。",
           "more": "……另有 {count} 个频道。",
           "paused": "已暂停：{reason}，自 {since}"},
}

Block = dict[str, Any]


def render_blocks(alert: Alert, *, update: bool = False,
                  buttons: bool = False) -> tuple[str, list[Block]]:
    """Fallback text and Block Kit blocks of the alert layout (`bot.alerts`): linked headline,
    summary, linked outlets, matched terms and the first report's time in the chat's zone;
    with `buttons`, an `actions` block under it (`alert_buttons`).

    Every outside string is escaped for mrkdwn and only http(s) URLs become links; text
    objects are `verbatim` so titles cannot raise `@here` or link channels. Each text stays
    within SECTION_LIMIT and the fallback text within FALLBACK_LIMIT (long fields clipped with
    an ellipsis, outlets beyond the budget counted).
    """
    view = alert_view(alert, update=update)
    head = f"*{_link(_clip(view.headline, _HEADLINE_CHARS), view.url)}*"
    if view.update:
        head += f" _{escape_mrkdwn(view.label('updated'))}_"
    blocks: list[Block] = [_section(head)]
    if view.summary:
        blocks.append(_section(escape_mrkdwn(_clip(view.summary, _SUMMARY_CHARS))))
    if view.outlets:
        label = escape_mrkdwn(view.outlets_label)
        items = [_link(_clip(outlet, _OUTLET_CHARS), url) for outlet, url in view.outlets]
        blocks.append(_context(label + join_within(items, " · ", budget=SECTION_LIMIT - len(label),
                                                   more=view.more)))
    if view.footer:
        blocks.append(_context(escape_mrkdwn(_clip(view.footer, _FOOTER_CHARS))))
    if buttons and (actions := alert_buttons(alert)) is not None:
        blocks.append(actions)
    return _fallback(view), blocks


def alert_buttons(alert: Alert) -> Block | None:
    """The `actions` block under an alert: "mute updates", "why", "outlets" (bot.actions),
    labelled in the chat's language, each carrying `nb:<action>:<story id>` as its value and
    `nb_<action>` as its action_id; None when the story id is too long for a button."""
    elements: list[Block] = []
    for action in ACTIONS:
        try:
            value = action_data(action, alert.story.id)
        except ValueError:
            return None
        label = _clip(i18n.text(alert.lang, f"button.{action}"), BUTTON_TEXT_LIMIT)
        elements.append({"type": "button", "action_id": ACTION_IDS[action], "value": value,
                         "text": {"type": "plain_text", "text": label, "emoji": True}})
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def render_list_blocks(stories: StoryList) -> list[tuple[str, list[Block]]]:
    """A digest or held batch as Slack messages (fallback text, blocks): a header section,
    then one section per story (numbered linked headline, one-line summary, linked outlets),
    split so that no message passes MAX_BLOCKS; "part i of n" in the header when split."""
    sections = [_listed_mrkdwn(n, item, stories) for n, item in enumerate(stories.stories, 1)]
    if stories.more:
        sections.append(escape_mrkdwn(stories.label("more", count=stories.more)))
    per_message = MAX_BLOCKS - 1
    chunks = [sections[i:i + per_message] for i in range(0, len(sections), per_message)] or [[]]
    out = []
    for n, chunk in enumerate(chunks, 1):
        title = stories.title + (" " + stories.label("digest.part", part=n, parts=len(chunks))
                                 if len(chunks) > 1 else "")
        header = f"*{escape_mrkdwn(_clip(title, _HEADLINE_CHARS))}*"
        fallback = escape_mrkdwn(_clip(title, _HEADLINE_CHARS))
        out.append((fallback, [_section(header), *(_section(text) for text in chunk)]))
    return out


def _listed_mrkdwn(rank: int, item: ListedStory, stories: StoryList) -> str:
    lines = [f"{rank}. *{_link(_clip(item.headline, _LIST_HEADLINE_CHARS), item.url)}*"]
    if item.summary:
        lines.append(escape_mrkdwn(_clip(item.summary, _LIST_SUMMARY_CHARS)))
    if item.outlets:
        label = escape_mrkdwn(outlets_label(stories.lang, len(item.outlets)))
        links = [_link(_clip(o, _OUTLET_CHARS), url) for o, url in item.outlets]
        lines.append(label + join_within(
            links, " · ", budget=_LIST_OUTLETS_BUDGET,
            more=lambda n: i18n.text(stories.lang, "alert.more", count=n)))
    return "\n".join(lines)


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


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _fallback(view: AlertView) -> str:
    """The notification text: kind and headline, summary, outlets, footer (all clipped)."""
    kind = view.label("kind_update" if view.update else "kind")
    lines = [f"{kind}: {_clip(view.headline, _HEADLINE_CHARS)}"]
    if view.summary:
        lines.append(_clip(view.summary, _SUMMARY_CHARS))
    if view.outlets:
        lines.append(_clip(view.outlets_label + " · ".join(o for o, _ in view.outlets), 600))
    if view.footer:
        lines.append(_clip(view.footer, _FOOTER_CHARS))
    return escape_mrkdwn("\n".join(lines))[:FALLBACK_LIMIT]


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
                 session: aiohttp.ClientSession | None = None, timeout: int = 30,
                 buttons: bool = False) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        # Alerts carry the buttons (new ones and edits) when something answers their presses:
        # a SlackFrontEnd (SLACK_SIGNING_SECRET over HTTP, or SLACK_APP_TOKEN).
        self.buttons = buttons
        self._timeout = timeout
        self._owns_session = session is None
        # retry_handlers=[]: no silent retries (the SDK's default retries connection errors).
        self._client = AsyncWebClient(token=token, base_url=self.api_url, session=session,
                                      timeout=timeout, retry_handlers=[])
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.team_id: str | None = None
        self.enterprise_id: str | None = None

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
        self.bot_id = reply.get("bot_id")
        self.team_id = reply.get("team_id")
        self.enterprise_id = reply.get("enterprise_id")
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
        return await self.post(alert.chat, render_blocks(alert, buttons=self.buttons))

    async def edit(self, ref: str, alert: Alert) -> None:
        """Re-render the message `ref` (its `ts`) in place."""
        channel, ts = _channel_id(alert.chat), _check_ts(ref)
        text, blocks = render_blocks(alert, update=True, buttons=self.buttons)
        try:
            await self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._error(exc, f"unable to update message {ts} in channel {channel}"
                              ) from self._cause(exc)

    def list_messages(self, stories: StoryList) -> list[Any]:
        """A digest or held batch as (fallback text, blocks) messages within Slack's limits."""
        return list(render_list_blocks(stories))

    def notice_messages(self, text: str) -> list[Any]:
        """A plain-text notice as one escaped mrkdwn message (clipped to Slack's limit)."""
        reply = CommandReply(text=text, lines=tuple(text.split("\n")))
        return [(render_reply(reply, command=COMMAND), None)]

    async def post(self, chat: str, message: Any) -> str:
        """Post one (text, blocks) message (an alert, or one from `list_messages` or
        `notice_messages`, whose blocks are None) without unfurls; return its `ts`."""
        channel = _channel_id(chat)
        text, blocks = message
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
            if error in _GONE_ERRORS:
                return ChatGoneError(f"slack: {what}: {error}", reason=error)
            return ChannelError(f"slack: {what}: {self._scrub(error)}")
        detail = str(exc) or type(exc).__name__
        return ChannelError(f"slack: {what}: {self._scrub(detail)}")

    def _cause(self, exc: Exception) -> Exception | None:
        """Chain the original error unless its message would carry the token into tracebacks."""
        return exc if self._scrub(str(exc)) == str(exc) else None

    def _scrub(self, text: str) -> str:
        token = self._client.token
        return text.replace(token, "<token>") if token else text


# ---- the Home tab


async def known_channels(chats: ChatDirectory, rules: RuleBook) -> set[str]:
    """The Slack chats (`slack:<channel id>`) newsbot alerts: those with rules of their own,
    following a topic, with a daily digest, or paused; from the store, read-only."""
    known = {rule.chat for rule in await chats.all_rules() if rule.chat}
    for topic in rules.topics:
        known |= await chats.subscribers(topic)
    known |= await chats.digest_chats()
    known |= set(await chats.paused_chats())
    return {chat for chat in known
            if chat.startswith("slack:") and _CHANNEL_ID.fullmatch(chat.partition(":")[2])}


async def channel_summary(chats: ChatDirectory, chat: str, *, lang: str,
                          now: datetime) -> list[str]:
    """One channel's lines for the Home tab, plain text: rules, topics, digest, mute, pause."""
    none, off = i18n.text(lang, "word.none"), i18n.text(lang, "word.off")
    rules = await chats.rules_of(chat)
    topics = sorted(await chats.topics_of(chat))
    digest = await chats.digest_of(chat)
    muted = await chats.muted_until(chat, now=now)
    paused = await chats.paused(chat)
    lines = [
        i18n.text(lang, "status.rules", rules="; ".join(
            f"#{r.id.rpartition(':')[2]} {r.expression}" for r in rules) or none),
        i18n.text(lang, "status.topics", topics=", ".join(topics) or none),
        i18n.text(lang, "status.digest", digest=" ".join(digest) if digest else off),
        i18n.text(lang, "status.mute", mute=i18n.text(lang, "status.until", until=_when(muted))
                  if muted else off)]
    if paused is not None:
        lines.append(_HOME_TEXT[lang]["paused"].format(
            reason=i18n.paused_reason(lang, paused.reason), since=_when(paused.at)))
    return lines


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_home(channels: Mapping[str, Sequence[str]], *, lang: str, now: datetime,
                error: str | None = None) -> Block:
    """The Home tab view: a header, what it shows, then one section per channel (a channel
    mention, then its lines escaped); within Slack's 100 blocks and 3,000 characters a
    section. `error` (listing the user's channels failed) replaces the channels."""
    words = _HOME_TEXT.get(lang, _HOME_TEXT[i18n.DEFAULT_LANGUAGE])
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": words["title"]}},
        _context(escape_mrkdwn(words["intro"].format(time=_when(now)))),
        {"type": "divider"}]
    if error is not None:
        blocks.append(_section(escape_mrkdwn(words["failed"].format(error=error))))
    elif not channels:
        blocks.append(_section(escape_mrkdwn(words["none"])))
    for chat in sorted(channels)[:HOME_CHANNELS]:
        lines = [f"*<#{chat.partition(':')[2]}>*",
                 *(escape_mrkdwn(_clip(line, SECTION_LIMIT)) for line in channels[chat])]
        blocks.append(_section(_clip_lines(lines, SECTION_LIMIT)))
    if len(channels) > HOME_CHANNELS:
        blocks.append(_context(escape_mrkdwn(words["more"].format(
            count=len(channels) - HOME_CHANNELS))))
    return {"type": "home", "blocks": blocks}


# ---- the /newsbot slash command


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


def signature_problem(body: bytes, headers: Mapping[str, str], *, secret: str,
                      now: float) -> str | None:
    """Why a request was not signed by Slack with `secret`, or None: `X-Slack-Signature` is
    `v0=` and the HMAC-SHA256 hex of `v0:<timestamp>:<body>`, and `X-Slack-Request-Timestamp`
    is within SIGNATURE_MAX_AGE of `now`. Both headers are checked for form before any
    arithmetic (slack_sdk's own check calls int() on them and raises on `abc`)."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not _TIMESTAMP.fullmatch(timestamp):
        return "the timestamp is missing or not a number of seconds"
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        return f"the timestamp is more than {SIGNATURE_MAX_AGE} s away"
    if not _SIGNATURE.fullmatch(signature):
        return "the signature is missing or not a v0 signature"
    signed = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else "the signature is wrong"


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
    return _clip_lines(shown, limit)


def _clip_lines(lines: Sequence[str], limit: int) -> str:
    """Whole lines while they fit in `limit` characters, then `…`."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > limit - 2:
            kept.append("…")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def response_type(request: CommandRequest, reply: CommandReply) -> str:
    """`in_channel` when the command changed the channel's settings, else `ephemeral`."""
    if not reply.ok:
        return "ephemeral"
    name, args = split_command(request.text)
    subs = _CHANNEL_CHANGES.get(name, frozenset())
    sub = args.split(maxsplit=1)[0].lower() if args else ""
    return "in_channel" if subs is None or sub in subs else "ephemeral"


class SlackFrontEnd:
    """The `/newsbot` slash command: a bolt AsyncApp over an entered SlackChannel.

    The app reuses the channel's client (its session, `SLACK_API_URL` and token) and answers
    bolt's authorization from the channel's `auth.test`, so bolt makes no Web API call of its
    own. A command is acknowledged at once (an empty 200, well within Slack's 3 s) and run
    after, in a task; the reply goes to the command's `response_url` (ephemeral for refusals,
    errors and read-only commands, in the channel for changes to the channel's settings), and
    a 429 there is waited out (`Retry-After`) and retried.

    A press of a button under an alert (`nb_mute`, `nb_why`, `nb_more`) is acknowledged at
    once too and answered by `StoryActions` through the payload's response_url, ephemeral
    and without replacing the alert (`_press`). `app_home_opened` (the Home tab) publishes
    the user's view in a task too (`_publish_home`).

    HTTP mode (no app token): mount `routes()` (POST `/slack/events`) on the bot's HTTP
    server; a request without a good, fresh signature gets 401 and one debug line (checked
    here, then again by bolt).
    Socket Mode (`app_token`, `xapp-...`): entering connects the WebSocket; no route is served.
    Leaving disconnects and gives replies in flight `shutdown_grace` seconds to finish.
    """

    def __init__(self, channel: SlackChannel, commands: CommandInterpreter, *,
                 signing_secret: str | None = None, app_token: str | None = None,
                 command: str = COMMAND, shutdown_grace: float = SHUTDOWN_GRACE,
                 actions: StoryActions | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if channel.client.session is None or channel.team_id is None:
            raise ValueError("slack: enter the SlackChannel before building the front end")
        if not app_token and not signing_secret:
            raise ConfigError("slack: SLACK_SIGNING_SECRET is required to receive slash "
                              "commands over HTTP (or set SLACK_APP_TOKEN for Socket Mode)")
        self.channel = channel
        self.commands = commands
        # The buttons under alerts; by default answered from the interpreter's store and rules.
        self.actions = actions or StoryActions(commands.store, commands.chats, commands.rules,
                                               clock=commands.clock)
        self.command = command
        self.mode = "socket" if app_token else "http"
        self._app_token = app_token
        self._grace = shutdown_grace
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._socket: AsyncSocketModeHandler | None = None
        self._signing_secret = signing_secret or ""
        self.app = self._build_app(self._signing_secret)

    def __repr__(self) -> str:
        return f"SlackFrontEnd(mode={self.mode!r}, command={self.command!r})"

    def _build_app(self, signing_secret: str) -> AsyncApp:
        channel = self.channel
        identity = AuthorizeResult(
            enterprise_id=channel.enterprise_id, team_id=channel.team_id,
            bot_user_id=channel.bot_user_id, bot_id=channel.bot_id,
            bot_token=channel.client.token)

        async def authorize() -> AuthorizeResult:  # the channel's auth.test, not a new one
            return identity

        app = AsyncApp(client=channel.client, signing_secret=signing_secret,
                       authorize=authorize, process_before_response=True, name="newsbot",
                       logger=_bolt_log)

        async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
            await ack()
            self._spawn(self._answer(command))

        async def on_member_joined(event: dict[str, Any]) -> None:
            await self._member_joined(event)

        async def on_action(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            self._spawn(self._press(body))

        app.command(self.command)(on_command)
        app.action(_ACTION_ID)(on_action)

        async def on_unarchive(event: dict[str, Any]) -> None:
            await self._unarchived(event)

        async def on_home_opened(event: dict[str, Any]) -> None:
            if event.get("tab") == "home":
                self._spawn(self._publish_home(str(event.get("user") or "")))

        app.event("member_joined_channel")(on_member_joined)
        app.event("app_home_opened")(on_home_opened)
        app.event("channel_unarchive")(on_unarchive)
        app.event("group_unarchive")(on_unarchive)
        return app

    async def _unarchived(self, event: Mapping[str, Any]) -> None:
        """`channel_unarchive` / `group_unarchive` of a channel paused because it was archived
        resumes it (the app is a member, or it would not hear of it)."""
        chat = f"slack:{event.get('channel', '')}"
        try:
            paused = await self.commands.chats.paused(chat)
            if paused is not None and paused.reason == "is_archived" and (
                    await self.commands.chats.resume(chat)):
                log.info("slack: a paused channel was unarchived; resumed",
                         extra={"kv": {"chat": chat}})
        except Exception:
            log.exception("slack: unable to resume a channel", extra={"kv": {"chat": chat}})

    async def _member_joined(self, event: Mapping[str, Any]) -> None:
        """`member_joined_channel` for the app's own bot user (invited back): a paused channel
        is resumed, and its held alerts arrive as one batch (bot.digest). Other members'
        joins are ignored. Removal (or archiving) is noticed by the next delivery."""
        if not self.channel.bot_user_id or event.get("user") != self.channel.bot_user_id:
            return
        chat = f"slack:{event.get('channel', '')}"
        try:
            if await self.commands.chats.resume(chat):
                log.info("slack: the app is back in a paused channel; resumed",
                         extra={"kv": {"chat": chat}})
        except Exception:
            log.exception("slack: unable to resume a channel", extra={"kv": {"chat": chat}})

    def routes(self) -> list[web.RouteDef]:
        """Routes for the bot's HTTP server: POST /slack/events (none in Socket Mode)."""
        return [] if self.mode == "socket" else [web.post(EVENTS_PATH, self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        """One request from Slack: 401 unless it is signed (`signature_problem`), else bolt's."""
        problem = signature_problem(await request.read(), request.headers,
                                    secret=self._signing_secret, now=time.time())
        if problem is not None:
            log.debug("slack: refused a request without a good signature",
                      extra={"kv": {"path": request.path, "reason": problem}})
            return web.json_response(_REFUSED, status=401)
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def __aenter__(self) -> Self:
        """In Socket Mode, check the app token and connect; in HTTP mode, nothing to do."""
        if self._app_token:
            self._socket = await self._connect(self._app_token)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close_async()  # type: ignore[no-untyped-call]
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=self._grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _connect(self, app_token: str) -> AsyncSocketModeHandler:
        """A Socket Mode connection; a rejected app token is a ConfigError (no retry loop)."""
        try:  # slack_sdk retries a failed connect forever, so ask for the URL here first
            opened = await self.channel.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            if _api_error(exc) in _AUTH_ERRORS:
                raise ConfigError("slack: the app token (SLACK_APP_TOKEN) was rejected by "
                                  f"{self.channel.api_url}") from None
            raise self.channel._error(exc, "unable to open a Socket Mode connection") from None
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise self.channel._error(exc, "unable to open a Socket Mode connection") from None
        handler = AsyncSocketModeHandler(self.app, app_token=app_token,
                                         web_client=self.channel.client)
        handler.client.wss_uri = str(opened["url"])
        try:
            await asyncio.wait_for(handler.connect_async(),  # type: ignore[no-untyped-call]
                                   SOCKET_CONNECT_TIMEOUT)
        except TimeoutError:
            await handler.close_async()  # type: ignore[no-untyped-call]
            raise ChannelError("slack: unable to connect the Socket Mode WebSocket") from None
        return handler

    async def drain(self) -> None:
        """Wait until every command received so far has been answered."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="slack-command")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, payload: Mapping[str, Any]) -> None:
        """Run one command and post the reply to its response_url."""
        request = command_request(payload)
        messages: list[dict[str, Any]]
        try:
            reply = await self.commands.handle(request)
            kind = response_type(request, reply)
            if reply.stories:  # a digest: rendered with summaries and links, maybe in parts
                messages = [{"text": text, "blocks": blocks, "response_type": kind}
                            for text, blocks in render_list_blocks(reply.stories)]
            else:
                messages = [{"text": render_reply(reply, command=self.command),
                             "response_type": kind}]
        except Exception:  # a bug or a store outage: say so instead of leaving silence
            log.exception("slack: command failed", extra={"kv": {"chat": request.chat}})
            messages = [{"text": FAILED_REPLY, "response_type": "ephemeral"}]
        url = str(payload.get("response_url") or "")
        for message in messages[:RESPONSE_URL_USES]:
            message |= {"unfurl_links": False, "unfurl_media": False}
            if not await self._reply(url, message, chat=request.chat):
                return

    async def _publish_home(self, user: str) -> None:
        """Publish `user`'s Home tab (views.publish): each channel that user is a member of
        (users.conversations; private ones only where the app is a member too) and that
        newsbot alerts (`known_channels`), with its rules, topics, digest, mute and pause.
        Channels the user is not in are left out: their rules are theirs."""
        chats = self.commands.chats
        client = self.channel.client
        if not _CHANNEL_ID.fullmatch(user):  # user ids look like channel ids: U0123ABCD
            log.debug("slack: app_home_opened without a user id")
            return
        try:
            lang = await chats.language(f"slack:{user}") or i18n.DEFAULT_LANGUAGE
            lang = lang if lang in _HOME_TEXT else i18n.DEFAULT_LANGUAGE
            now = self.commands.clock()
            known = await known_channels(chats, self.commands.rules)
            shown: dict[str, list[str]] = {}
            error = None
            try:
                member = await self._channels_of(user)
            except SlackApiError as exc:
                error = _api_error(exc) or f"HTTP {exc.response.status_code}"
                member = set()
            for chat in sorted(known):
                if chat.partition(":")[2] in member:
                    shown[chat] = await channel_summary(chats, chat, lang=lang, now=now)
            await client.views_publish(user_id=user, view=render_home(
                shown, lang=lang, now=now, error=error))
        except Exception as exc:
            log.warning("slack: unable to publish the Home tab", extra={"kv": {
                "user": user, "error": self.channel._scrub(str(exc) or type(exc).__name__)}})

    async def _channels_of(self, user: str) -> set[str]:
        """The ids of the channels `user` is a member of, as the app may see them."""
        found: set[str] = set()
        cursor = ""
        for _ in range(HOME_PAGES):
            reply = await self.channel.client.users_conversations(
                user=user, types="public_channel,private_channel", limit=200,
                cursor=cursor or None)
            found |= {str(c.get("id")) for c in reply.get("channels") or ()}
            cursor = str((reply.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return found

    async def _press(self, payload: Mapping[str, Any]) -> None:
        """Answer one press of a button under an alert (a `block_actions` payload) through
        its response_url, as an ephemeral message (only the presser sees it; the alert stays
        as it was): the notice ("no more updates of ..."), the refusal (the story aged out),
        or the "why" and "outlets" lists. In Slack anyone in the channel manages it, as with
        `/newsbot` commands, so anyone there may mute a story's updates."""
        channel = payload.get("channel") or {}
        container = payload.get("container") or {}
        channel_id = str((channel.get("id") if isinstance(channel, Mapping) else None)
                         or (container.get("channel_id") if isinstance(container, Mapping)
                             else None) or "")
        pressed = [a for a in payload.get("actions") or () if isinstance(a, Mapping)]
        chat = f"slack:{channel_id}"
        try:
            if not _CHANNEL_ID.fullmatch(channel_id) or not pressed:
                answer = i18n.text(i18n.DEFAULT_LANGUAGE, "action.unknown")
            else:
                answer = (await self.actions.handle(
                    chat=chat, data=str(pressed[0].get("value")), can_manage=True)).text
            text = _clip_lines([escape_mrkdwn(line) for line in answer.split("\n")],
                               REPLY_LIMIT)
        except Exception:  # a bug or a store outage: say so instead of leaving silence
            log.exception("slack: button press failed", extra={"kv": {"chat": chat}})
            text = ACTION_REPLY_FAILED
        message = {"text": text, "response_type": "ephemeral", "replace_original": False,
                   "unfurl_links": False, "unfurl_media": False}
        await self._reply(str(payload.get("response_url") or ""), message, chat=chat)

    async def _reply(self, url: str, message: dict[str, Any], *, chat: str) -> bool:
        """Post to the response_url, waiting out 429s; False (logged) if it never got there."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await self._post(url, message)
                return True
            except RetryAfterError as exc:
                wait = min(exc.retry_after, MAX_RETRY_WAIT)
                log.warning("slack: command reply rate-limited", extra={"kv": {
                    "chat": chat, "attempt": attempt, "retry_after": wait}})
                if attempt < REPLY_ATTEMPTS:
                    await self._sleep(wait)
            except ChannelError as exc:
                log.warning("slack: unable to post a command reply",
                            extra={"kv": {"chat": chat, "error": str(exc)}})
                return False
        return False

    async def _post(self, url: str, message: dict[str, Any]) -> None:
        """One post to a response_url; its 429 and HTTP errors become our errors."""
        if not url.startswith(("https://", "http://")):
            raise ChannelError("slack: the command came without a response_url")
        client = self.channel.client
        hook = AsyncWebhookClient(url, session=client.session, timeout=client.timeout,
                                  retry_handlers=[])
        try:
            response = await hook.send_dict(message)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelError("slack: unable to post to the response_url: "
                               f"{str(exc) or type(exc).__name__}") from exc
        status = response.status_code
        if status == 429:
            raise RetryAfterError("slack: the response_url answered 429",
                                  retry_after=_retry_after(response.headers))
        if not 200 <= status < 300:
            raise ChannelError(f"slack: the response_url answered HTTP {status}: "
                               f"{_clip(response.body or '', 100)}")
