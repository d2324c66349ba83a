"""Sending alerts through the Web API: `SlackChannel` posts and edits, and translates slack_sdk
and aiohttp errors into ours (`ChannelError`, `RetryAfterError`; a channel the app left,
lost or saw archived: `ChatGoneError`, see `bot.chats`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import StoryList
from bot.chats import ChatGoneError
from bot.commands import CommandReply
from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert
from bot.platforms.slack.render import render_blocks, render_list_blocks
from bot.platforms.slack.slash import COMMAND, render_reply

DEFAULT_API_URL = "https://slack.com/api/"
CHANNEL_ID = re.compile(r"[A-Z0-9]{2,40}")
_TS = re.compile(r"\d{1,12}\.\d{1,9}")
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                          "token_expired", "no_permission"})
_RATE_ERRORS = frozenset({"ratelimited", "rate_limited"})
# Web API errors that mean the app cannot post to the channel until it is invited back (or
# the channel unarchived): the channel is paused (`ChatGoneError`), not retried.
_GONE_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


def _channel_id(chat: str) -> str:
    """The Slack channel id in `slack:<channel_id>`."""
    platform, _, raw = chat.partition(":")
    if platform != "slack" or not CHANNEL_ID.fullmatch(raw):
        raise ChannelError(f"slack: not a slack chat id: {chat!r}")
    return raw


def _check_ts(ref: str) -> str:
    if not _TS.fullmatch(ref):
        raise ChannelError(f"slack: not a message reference: {ref!r}")
    return ref


def api_error(exc: SlackApiError) -> str | None:
    """The `error` code of a Web API reply (None when the body was not a JSON object)."""
    data = exc.response.data
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else None


def retry_after_header(headers: Mapping[str, str] | None) -> float:
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
            if api_error(exc) in AUTH_ERRORS:
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
            error = api_error(exc) or f"HTTP {response.status_code}"
            if response.status_code == 429 or error in _RATE_ERRORS:
                return RetryAfterError(f"slack: {what}: {self._scrub(error)}",
                                       retry_after=retry_after_header(response.headers))
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
