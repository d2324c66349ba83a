"""The Slack front end: the `/newsbot` slash command, the buttons under alerts, the Home tab
and the events that resume a paused channel, as a thin bolt adapter (over HTTP at
`/slack/events`, or Socket Mode with an app token)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import i18n
from bot.actions import StoryActions
from bot.commands import CommandInterpreter
from bot.errors import ChannelError, ConfigError
from bot.platforms.slack.channel import AUTH_ERRORS, CHANNEL_ID, SlackChannel, api_error
from bot.platforms.slack.home import publish_home
from bot.platforms.slack.render import (
    ACTION_IDS,
    clip_lines,
    escape_mrkdwn,
    render_list_blocks,
)
from bot.platforms.slack.responses import RESPONSE_URL_USES, respond
from bot.platforms.slack.slash import (
    COMMAND,
    FAILED_REPLY,
    REPLY_LIMIT,
    command_request,
    render_reply,
    response_type,
)

log = logging.getLogger(__package__)


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

EVENTS_PATH = "/slack/events"
SIGNATURE_MAX_AGE = 300  # seconds between a request's timestamp and now (Slack's advice)
_REFUSED = {"error": "invalid request"}  # the 401's body, as bolt words it
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits (int() also reads " 1_2", other scripts')
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
SHUTDOWN_GRACE = 10.0
SOCKET_CONNECT_TIMEOUT = 30.0
_ACTION_ID = re.compile("^(?:" + "|".join(re.escape(a) for a in ACTION_IDS.values()) + ")$")
ACTION_REPLY_FAILED = ("newsbot: that button failed on our side; please try again later. "
                       "按钮操作失败，请稍后再试。")


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
                self._spawn(publish_home(self.channel, self.commands,
                                             str(event.get("user") or "")))

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
            if api_error(exc) in AUTH_ERRORS:
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
            if not CHANNEL_ID.fullmatch(channel_id) or not pressed:
                answer = i18n.text(i18n.DEFAULT_LANGUAGE, "action.unknown")
            else:
                answer = (await self.actions.handle(
                    chat=chat, data=str(pressed[0].get("value")), can_manage=True)).text
            text = clip_lines([escape_mrkdwn(line) for line in answer.split("\n")],
                               REPLY_LIMIT)
        except Exception:  # a bug or a store outage: say so instead of leaving silence
            log.exception("slack: button press failed", extra={"kv": {"chat": chat}})
            text = ACTION_REPLY_FAILED
        message = {"text": text, "response_type": "ephemeral", "replace_original": False,
                   "unfurl_links": False, "unfurl_media": False}
        await self._reply(str(payload.get("response_url") or ""), message, chat=chat)

    async def _reply(self, url: str, message: dict[str, Any], *, chat: str) -> bool:
        """Post to the response_url, waiting out 429s; False (logged) if it never got there."""
        return await respond(self.channel.client, url, message, chat=chat, sleep=self._sleep)
