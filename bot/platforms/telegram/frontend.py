"""The Telegram command front end: commands (long polling, or a webhook with a secret token)
become `CommandRequest`s for the platform-neutral interpreter and its replies HTML messages;
presses on the buttons under alerts (callback queries, `bot.actions`) are answered, each
exactly once; the bot's own membership changes go to `ChatEvents`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, CallbackQuery, MaybeInaccessibleMessage, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import i18n
from bot.actions import PREFIX, ActionReply, StoryActions
from bot.commands import CommandInterpreter, CommandReply, CommandRequest
from bot.errors import ConfigError
from bot.platforms.telegram.channel import NO_PREVIEW, TelegramChannel, retry_seconds
from bot.platforms.telegram.flood import Sleep
from bot.platforms.telegram.members import ADMIN_TTL, ChatAdmins, ChatEvents
from bot.platforms.telegram.menu import COMMANDS, register_menu
from bot.platforms.telegram.render import http_url, notice_text, render_list_html, render_reply

log = logging.getLogger(__package__)


# my_chat_member: the bot's own status in a chat changed (added back: the chat is resumed);
# callback_query: a button under an alert was pressed.
ALLOWED_UPDATES = ("message", "channel_post", "my_chat_member", "callback_query")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT = 10.0
REPLY_ATTEMPTS = 5
MAX_REPLY_WAIT = 60.0
FAILED = ("Sorry, something went wrong with that command; please try again later.\n"
          "抱歉，处理该命令时出错，请稍后再试。")
BUTTON_FAILED = "Sorry, something went wrong; please try again later. 抱歉，出错了，请稍后再试。"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token


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
                 sleep: Sleep = asyncio.sleep) -> None:
        if webhook_url and not http_url(webhook_url):
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
        self.admins = ChatAdmins(ttl=admin_ttl, clock=clock, scrub=channel._scrub)
        self.events = ChatEvents(interpreter)
        self.poll_timeout = poll_timeout
        self.poll = poll
        self._sleep = sleep
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None

    def __repr__(self) -> str:
        mode = "webhook" if self.webhook_url else "polling"
        return f"TelegramFrontEnd(api_url={self.channel.api_url!r}, mode={mode!r})"

    @property
    def actions(self) -> StoryActions:
        """What the buttons under alerts do (made from the interpreter's store on first use)."""
        if self._actions is None:
            i = self.interpreter
            self._actions = StoryActions(i.store, i.chats, i.rules, clock=i.clock)
        return self._actions

    @property
    def _bot(self) -> Bot:
        """The application's bot (while entered)."""
        assert self._app is not None
        bot: Bot = self._app.bot
        return bot

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
            await register_menu(app.bot, scrub=self.channel._scrub)
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
        app.add_handler(ChatMemberHandler(self.events.on_my_member,
                                          ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.events.on_migrate))
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
            can_manage=await self.admins.can_press(self._bot, message.chat, query.from_user))

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
        can_manage = await self.admins.can_manage(self._bot, message)
        return CommandRequest(chat=f"telegram:{message.chat.id}", user=f"telegram:{user}",
                              text=message.text or "", can_manage=can_manage,
                              chat_title=message.chat.title)

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
                    link_preview_options=NO_PREVIEW)
                return True
            except RetryAfter as exc:
                if attempt == REPLY_ATTEMPTS:
                    error = self.channel._scrub(exc.message)
                    break
                await self._sleep(min(retry_seconds(exc), MAX_REPLY_WAIT))
            except TelegramError as exc:
                error = self.channel._scrub(exc.message)
                break
        log.warning("telegram: unable to send a reply", extra={"kv": {
            "chat_id": chat_id, "error": error}})
        return False
