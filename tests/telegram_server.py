"""A loopback Telegram Bot API server for tests: the real PTB client talks HTTP to it.

    async with BotApiServer() as api:
        async with TelegramChannel(token=api.token, api_url=api.root) as channel:
            ref = await channel.send(alert)
        assert api.calls_of("sendMessage")[0]["parse_mode"] == "HTML"
        assert api.messages(123)[0]["text"].startswith(...)

It serves `/bot<token>/<method>` (aiohttp on 127.0.0.1, a free port) with the Bot API's
envelope: `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": ...,
"parameters": {...}}`. Bodies may be JSON, form-encoded (what PTB sends: non-string values
JSON-encoded) or multipart. HTML messages are parsed as Telegram does (supported tags only,
`&lt;`/`&gt;`/`&amp;`/`&quot;` and numeric entities, the 4,096 UTF-16-unit limit), so an
unescaped `<script>` is a 400, and stored messages carry plain `text` plus `entities` with
UTF-16 offsets. Every call is recorded with the server's arrival time; `fail_next` scripts
errors such as 429 retry_after. Incoming user messages are queued with `queue_command` (served
by getUpdates) or built with `command_update` (to POST to a webhook); while a webhook is set,
getUpdates answers 409 Conflict as Telegram does, and a getUpdates that arrives while another
client's is still waiting ends the older one with 409 "terminated by other getUpdates request"
(counted in `conflicts`). With `limits` the server enforces Telegram's flood limits on messages
(sendMessage, editMessageText): at most `overall` per `period` for the bot and one per
`chat_interval` per chat, answering 429 with retry_after beyond them (counted in
`rate_limited`). `on_request` and `on_accepted` are async hooks (fault tests): the first runs
before a request is handled and may refuse it by raising ApiError, the second after a message
was stored, before the answer is sent.

Chats that go away, as Telegram answers for them: `block_chat` (403 "Forbidden: bot was
blocked by the user", or any other description, e.g. kicked) until `unblock_chat`;
`migrate_chat` (a group upgraded to a supergroup: 400 with `parameters.migrate_to_chat_id`
for every message to the old id, the new id served normally). `member_update` builds (and
`queue_update` queues) the `my_chat_member` update Telegram sends when the bot's own status
in a chat changes (added back: `member`/`administrator`; removed: `left`/`kicked`), and
`migration_update` the service message announcing a migration.

Inline keyboards: sendMessage and editMessageText take a `reply_markup` inline keyboard
(checked as Telegram checks it: button text, callback_data of 1-64 bytes), stored with the
message and returned in it; an edit without `reply_markup` removes the keyboard, as Telegram
does, and "not modified" compares the keyboard too. `button_update` builds (and `press`
queues) the `callback_query` update of a user pressing a button under one of the bot's
messages; answerCallbackQuery is accepted once per query (a second answer, or an unknown id,
is a 400 "query is too old ... or query ID is invalid"), its text at most 200 characters,
and `answers` keeps each answer by query id (`wait_for_answer`). getUpdates honours
`allowed_updates` as Telegram does: once a client named the kinds it wants (the list is kept
until another is given), updates of other kinds are dropped, not delivered.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
import re
import socket
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import unescape
from types import TracebackType
from typing import Any, Self

from aiohttp import web

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvw"
BOT_ID = 123456
BOT_USERNAME = "newsbot_test_bot"
ANONYMOUS_ADMIN_BOT = 1087968824  # the `from` of messages sent by anonymous group admins
LIMIT = 4096
QUERY_INVALID = ("Bad Request: query is too old and response timeout expired or query ID is "
                 "invalid")
NOTICE_LIMIT = 200  # characters of an answerCallbackQuery text
CALLBACK_DATA_LIMIT = 64  # bytes
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a specified message content and reply markup "
                "of the message")

# Parameters Telegram takes as strings; every other form value is JSON-decoded (as PTB encodes).
_STRING_PARAMS = {"text", "parse_mode", "caption", "inline_message_id", "language_code",
                  "callback_query_id", "url", "secret_token", "name", "title", "description",
                  "short_description", "query", "emoji"}
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
         "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
         "del": "strikethrough", "code": "code", "pre": "pre", "a": "text_link",
         "blockquote": "blockquote", "tg-spoiler": "spoiler", "span": "spoiler",
         "tg-emoji": "custom_emoji"}
_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*"[^"<]*")*)\s*>')
_ATTR = re.compile(r'([a-zA-Z-]+)\s*=\s*"([^"]*)"')
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_COMMAND = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None,
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def body(self) -> dict[str, Any]:
        """The JSON envelope Telegram sends for this error (`parameters` when it has some)."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code,
                                "description": self.description}
        parameters: dict[str, Any] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: plain text and entities (UTF-16 offsets), or ApiError 400."""
    out: list[str] = []
    units = 0
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    pos = 0
    while pos < len(html):
        char = html[pos]
        if char == "<":
            match = _TAG.match(html, pos)
            if not match:
                raise _cant_parse(f"unexpected < at byte offset {pos}")
            _tag(match, stack, entities, units, pos)
            pos = match.end()
            continue
        if char == "&":
            match = _ENTITY.match(html, pos)
            if not match:
                raise _cant_parse(f"character & is reserved at byte offset {pos}")
            char, pos = unescape(match.group()), match.end()
        elif char == ">":
            raise _cant_parse(f"character > is reserved at byte offset {pos}")
        else:
            pos += 1
        out.append(char)
        units += utf16_len(char)
    if stack:
        raise _cant_parse(f'can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _tag(match: re.Match[str], stack: list[tuple[str, int, dict[str, Any]]],
         entities: list[dict[str, Any]], units: int, pos: int) -> None:
    closing, name = match.group(1) == "/", match.group(2).lower()
    if name not in _TAGS:
        raise _cant_parse(f'unsupported {"end" if closing else "start"} tag "{name}" '
                          f"at byte offset {pos}")
    if not closing:
        attrs = {k.lower(): unescape(v) for k, v in _ATTR.findall(match.group(3))}
        extra = {"url": attrs.get("href", "")} if name == "a" else {}
        stack.append((name, units, extra))
        return
    if not stack or stack[-1][0] != name:
        raise _cant_parse(f'unmatched end tag at byte offset {pos}, expected "</'
                          f'{stack[-1][0] if stack else ""}>", found "</{name}>"')
    _, start, extra = stack.pop()
    if units > start and (name != "a" or re.match(r"(?i)(https?|tg)://", extra["url"])):
        entities.append({"type": _TAGS[name], "offset": start, "length": units - start, **extra})


def _cant_parse(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail[:1].upper()}{detail[1:]}")


def _decode(params: dict[str, str]) -> dict[str, Any]:
    """Form values as Telegram reads them: JSON for non-string parameters."""
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        if key in _STRING_PARAMS:
            decoded[key] = value
            continue
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


@dataclass
class Call:
    """One request the server answered (or refused)."""

    method: str
    params: dict[str, Any]
    token: str
    path: str
    status: int = 200
    at: float = field(default_factory=time.monotonic)  # when the server received it


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Telegram's flood limits as the server enforces them (on message arrival times)."""

    overall: int = 30
    period: float = 1.0
    chat_interval: float = 1.0


Hook = Callable[["Call"], Awaitable[None]]
_REQUEST: contextvars.ContextVar[web.Request] = contextvars.ContextVar("request")
_MESSAGE_METHODS = frozenset({"sendmessage", "editmessagetext"})
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the group chat"
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"


@dataclass
class _Poll:
    """A getUpdates waiting for updates."""

    request: web.Request
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


@dataclass
class _Failure:
    count: int
    error: ApiError


@dataclass
class _Chat:
    id: int | str
    type: str
    title: str | None = None
    admins: set[int] = field(default_factory=set)
    owner: int | None = None


class BotApiServer:
    """The Bot API on 127.0.0.1; `root` is what TELEGRAM_API_URL would be set to."""

    def __init__(self, *, token: str = TOKEN, not_modified: bool = True,
                 limits: Limits | None = None) -> None:
        self.token = token
        self.not_modified = not_modified
        self.limits = limits
        self.rate_limited = 0
        self.conflicts = 0
        self.on_request: Hook | None = None
        self.on_accepted: Hook | None = None
        self._recent: deque[float] = deque()
        self._chat_last: dict[Any, float] = {}
        self._polls: list[_Poll] = []
        self.calls: list[Call] = []
        self.menus: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self._incoming: dict[int | str, set[int]] = defaultdict(set)
        self._messages: dict[int | str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self._next_message: dict[int | str, int] = defaultdict(lambda: 1)
        self._chats: dict[int | str, _Chat] = {}
        # chats the bot cannot post to: why, and the methods refused
        self._gone: dict[int | str, tuple[ApiError, frozenset[str]]] = {}
        self._failures: dict[str, list[_Failure]] = defaultdict(list)
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self.allowed_updates: list[str] | None = None  # as the last getUpdates asked
        self._queries: set[str] = set()  # callback queries sent, not yet answered
        self.answers: dict[str, dict[str, Any]] = {}  # answerCallbackQuery params by query id
        self._next_query = 1
        self._update_event = asyncio.Event()
        self._answered = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def root(self) -> str:
        """The API root URL (no `/bot` suffix)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's User object."""
        return {"id": BOT_ID, "is_bot": True, "first_name": "Newsbot",
                "username": BOT_USERNAME}

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()
        self._update_event.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting and inspection -------------------------------------------------------

    def fail_next(self, method: str, count: int = 1, *, code: int = 429,
                  description: str | None = None, retry_after: int | None = None) -> None:
        """Answer the next `count` calls of `method` with an error (429 retry_after=R...)."""
        if code == 429 and description is None:
            description = f"Too Many Requests: retry after {retry_after or 1}"
            retry_after = retry_after or 1
        error = ApiError(code, description or "Bad Request: scripted failure",
                         retry_after=retry_after)
        self._failures[method.lower()].append(_Failure(count, error))

    def add_chat(self, chat_id: int | str, *, chat_type: str | None = None,
                 title: str | None = None, admins: tuple[int, ...] = (),
                 owner: int | None = None) -> None:
        """Declare a chat's type, title and administrators (chats are otherwise implied)."""
        self._chats[chat_id] = _Chat(chat_id, chat_type or _chat_type(chat_id), title,
                                     set(admins), owner)

    def block_chat(self, chat_id: int | str, description: str = BLOCKED) -> None:
        """From now on answer messages to `chat_id` with 403 `description` (blocked, kicked)."""
        self._gone[chat_id] = (ApiError(403, description), _MESSAGE_METHODS)

    def unblock_chat(self, chat_id: int | str) -> None:
        """The bot may post to `chat_id` again."""
        self._gone.pop(chat_id, None)

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """The group `old_id` became the supergroup `new_id`: messages to `old_id` get 400 with
        `migrate_to_chat_id`, as Telegram answers; the bot may still edit its messages there
        (the old group keeps its history)."""
        self._gone[old_id] = (ApiError(400, UPGRADED, migrate_to_chat_id=new_id),
                              frozenset({"sendmessage"}))
        self.add_chat(new_id, chat_type="supergroup", title=self._chats[old_id].title
                      if old_id in self._chats else None)

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update for getUpdates (e.g. one from `member_update`)."""
        self._updates.append(update)
        self._update_event.set()
        return update

    def member_update(self, chat_id: int | str, *, new_status: str, old_status: str = "left",
                      user_id: int = 42) -> dict[str, Any]:
        """A `my_chat_member` update: user `user_id` changed the bot's status in `chat_id`
        from `old_status` to `new_status` (added: member/administrator; removed: left/kicked;
        a private chat's user blocking the bot is `kicked`, unblocking `member`)."""
        chat = self._chat(chat_id)
        user = ({"id": user_id, "is_bot": False, "first_name": "Analyst"} if user_id > 0
                else self.bot_user)
        update = {"update_id": self._next_update, "my_chat_member": {
            "chat": chat, "from": user, "date": int(time.time()),
            "old_chat_member": _bot_member(self.bot_user, old_status),
            "new_chat_member": _bot_member(self.bot_user, new_status)}}
        self._next_update += 1
        return update

    def migration_update(self, old_id: int, new_id: int) -> dict[str, Any]:
        """The service message Telegram posts in the old group when it becomes a supergroup
        (`migrate_to_chat_id`); also scripts `migrate_chat`."""
        self.migrate_chat(old_id, new_id)
        message = self._message(old_id, "", [])
        message.pop("text")
        message.update({"migrate_to_chat_id": new_id,
                        "from": {"id": 42, "is_bot": False, "first_name": "Analyst"}})
        update = {"update_id": self._next_update, "message": message}
        self._next_update += 1
        return update

    def button_update(self, chat_id: int | str, message_id: int, data: str, *,
                      user_id: int = 42) -> dict[str, Any]:
        """A `callback_query` update: user `user_id` pressed the button carrying `data` under
        the bot's message `message_id` in `chat_id` (the message as it is now)."""
        message = self._messages[chat_id].get(message_id)
        if message is None:
            raise KeyError(f"the bot has no message {message_id} in chat {chat_id}")
        query_id = f"{BOT_ID}{self._next_query:08d}"
        self._next_query += 1
        self._queries.add(query_id)
        update = {"update_id": self._next_update, "callback_query": {
            "id": query_id, "from": {"id": user_id, "is_bot": False, "first_name": "Analyst",
                                     "username": f"analyst{user_id}"},
            "message": json.loads(json.dumps(message)), "chat_instance": f"ci{chat_id}",
            "data": data}}
        self._next_update += 1
        return update

    def press(self, chat_id: int | str, message_id: int, data: str, *,
              user_id: int = 42) -> dict[str, Any]:
        """Queue a button press for getUpdates (see `button_update`)."""
        return self.queue_update(self.button_update(chat_id, message_id, data, user_id=user_id))

    async def wait_for_answer(self, update: dict[str, Any]) -> dict[str, Any]:
        """Wait until the callback query of `update` was answered; its parameters."""
        query_id = update["callback_query"]["id"]
        async with self._answered:
            await self._answered.wait_for(lambda: query_id in self.answers)
        return self.answers[query_id]

    def answer_attempts(self, update: dict[str, Any]) -> int:
        """How many answerCallbackQuery calls named the query of `update` (any outcome)."""
        query_id = update["callback_query"]["id"]
        return sum(1 for c in self.calls if c.method.lower() == "answercallbackquery"
                   and str(c.params.get("callback_query_id")) == query_id)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command menu set for all languages (setMyCommands without language_code)."""
        return self.menus.get("", [])

    def times_of(self, method: str) -> list[float]:
        """When the server received each successful call of `method` (monotonic seconds)."""
        return [c.at for c in self.calls if c.method.lower() == method.lower() and c.status == 200]

    async def wait_for_calls(self, method: str, count: int, *,
                             chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Wait until `count` successful calls of `method` (to `chat_id`) were answered."""
        def found() -> list[dict[str, Any]]:
            return [p for p in self.calls_of(method) if chat_id is None or p["chat_id"] == chat_id]

        async with self._answered:
            await self._answered.wait_for(lambda: len(found()) >= count)
        return found()

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every successful call of `method`, in order."""
        return [c.params for c in self.calls
                if c.method.lower() == method.lower() and c.status == 200]

    def statuses(self, method: str) -> list[int]:
        """HTTP status of every call of `method`, in order."""
        return [c.status for c in self.calls if c.method.lower() == method.lower()]

    def messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The current state of every message the bot posted in a chat, oldest first."""
        return list(self._messages[chat_id].values())

    def queue_command(self, text: str, *, chat_id: int, user_id: int = 42,
                      chat_type: str | None = None, sender_chat_id: int | None = None,
                      entities: bool = True) -> dict[str, Any]:
        """Queue an incoming message for getUpdates (see `command_update`)."""
        update = self.command_update(text, chat_id=chat_id, user_id=user_id,
                                     chat_type=chat_type, sender_chat_id=sender_chat_id,
                                     entities=entities)
        self._updates.append(update)
        self._update_event.set()
        return update

    def command_update(self, text: str, *, chat_id: int, user_id: int = 42,
                       chat_type: str | None = None, sender_chat_id: int | None = None,
                       entities: bool = True) -> dict[str, Any]:
        """An Update with a user's message; `/commands` in it get bot_command entities.

        In a channel (`chat_type="channel"`) it is a `channel_post` signed by the channel; with
        `sender_chat_id` it is sent on behalf of a chat (an anonymous group admin when that is
        the group itself), `from` being Telegram's placeholder bot as in real updates.
        """
        found = command_entities(text) if entities else []
        message = self._message(chat_id, text, found, chat_type=chat_type)
        self._incoming[chat_id].add(message["message_id"])
        kind = "channel_post" if message["chat"]["type"] == "channel" else "message"
        if kind == "channel_post":
            message["sender_chat"] = message["chat"]
        elif sender_chat_id is not None:
            message["sender_chat"] = self._chat(sender_chat_id)
            message["from"] = {"id": ANONYMOUS_ADMIN_BOT, "is_bot": True,
                               "first_name": "Group", "username": "GroupAnonymousBot"}
        else:
            message["from"] = {"id": user_id, "is_bot": False, "first_name": "Analyst",
                               "username": f"analyst{user_id}"}
        update = {"update_id": self._next_update, kind: message}
        self._next_update += 1
        return update

    # --- HTTP -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", request.path)
        if not match:
            self.calls.append(Call("", {}, "", request.path, status=404))
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        token, method = match.groups()
        params = await _params(request)
        call = Call(method, params, token, request.path)
        self.calls.append(call)
        _REQUEST.set(request)
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if self.on_request is not None:
                await self.on_request(call)
            self._scripted(method)
            gone = self._gone.get(params.get("chat_id", ""))
            if gone is not None and method.lower() in gone[1]:
                raise gone[0]
            self._limit(method.lower(), params)
            result = await self._dispatch(method.lower(), params)
            if self.on_accepted is not None and method.lower() in _MESSAGE_METHODS:
                await self.on_accepted(call)
        except ApiError as exc:
            call.status = exc.code
            return web.json_response(exc.body(), status=exc.code)
        async with self._answered:
            self._answered.notify_all()
        return web.json_response({"ok": True, "result": result})

    def _limit(self, method: str, params: dict[str, Any]) -> None:
        """429 with retry_after when a message would exceed `limits` (arrival times)."""
        limits = self.limits
        if limits is None or method not in _MESSAGE_METHODS:
            return
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - limits.period:
            self._recent.popleft()
        chat = params.get("chat_id")
        wait = 0.0
        if len(self._recent) >= limits.overall:
            wait = self._recent[0] + limits.period - now
        last = self._chat_last.get(chat)
        if last is not None and now - last < limits.chat_interval:
            wait = max(wait, last + limits.chat_interval - now)
        if wait > 0:
            self.rate_limited += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
        self._recent.append(now)
        self._chat_last[chat] = now

    def _scripted(self, method: str) -> None:
        queue = self._failures[method.lower()]
        if queue:
            failure = queue[0]
            failure.count -= 1
            if failure.count <= 0:
                queue.pop(0)
            raise failure.error

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        handlers = {
            "getme": lambda p: self.bot_user,
            "sendmessage": self._send,
            "editmessagetext": self._edit,
            "setmycommands": self._set_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._webhook_info,
            "getchatmember": self._chat_member,
            "getchatadministrators": self._chat_admins,
            "answercallbackquery": self._answer_query,
        }
        if method == "getupdates":
            return await self._get_updates(params)
        if method not in handlers:
            raise ApiError(404, "Not Found")
        return handlers[method](params)

    # --- methods --------------------------------------------------------------------------

    def _send(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _required(params, "chat_id")
        text, entities = _render(params)
        markup = _keyboard(params.get("reply_markup"))
        reply_to = self._reply_to(chat_id, params.get("reply_parameters"))
        message = {**self._message(chat_id, text, entities), "from": self.bot_user}
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[chat_id][message["message_id"]] = message
        return message

    def _edit(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _required(params, "chat_id")
        message = self._messages[chat_id].get(_required(params, "message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, entities = _render(params)
        markup = _keyboard(params.get("reply_markup"))
        if self.not_modified and (text, entities, markup) == (
                message["text"], message.get("entities", []), message.get("reply_markup")):
            raise ApiError(400, NOT_MODIFIED)
        message.update(text=text, entities=entities, edit_date=int(time.time()))
        if not entities:
            message.pop("entities")
        if markup is None:  # an edit without a keyboard removes it
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    def _answer_query(self, params: dict[str, Any]) -> bool:
        query_id = str(_required(params, "callback_query_id"))
        if query_id not in self._queries:
            raise ApiError(400, QUERY_INVALID)
        if len(str(params.get("text") or "")) > NOTICE_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._queries.discard(query_id)
        self.answers[query_id] = params
        return True

    def _reply_to(self, chat_id: int | str, reply: Any) -> dict[str, Any] | None:
        """The message replied to (a minimal record), or 400 if it is unknown and required."""
        if not isinstance(reply, dict) or "message_id" not in reply:
            return None
        message_id = reply["message_id"]
        known = message_id in self._incoming[chat_id] or message_id in self._messages[chat_id]
        if not known:
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {"message_id": message_id, "date": int(time.time()),
                "chat": self._chat(chat_id)}

    def _set_commands(self, params: dict[str, Any]) -> bool:
        self.menus[str(params.get("language_code") or "")] = list(params.get("commands") or [])
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret,
                        "allowed_updates": params.get("allowed_updates")} if url else None
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook["url"] if self.webhook else "",
                "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chats.get(_required(params, "chat_id"))
        user_id = _required(params, "user_id")
        return _member(user_id, "creator" if chat and chat.owner == user_id else
                       "administrator" if chat and user_id in chat.admins else "member")

    def _chat_admins(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        chat = self._chats.get(_required(params, "chat_id"))
        if chat is None:
            return []
        owner = [_member(chat.owner, "creator")] if chat.owner is not None else []
        return owner + [_member(a, "administrator") for a in sorted(chat.admins)]

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active;"
                                " use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = [str(k) for k in params["allowed_updates"]] or None
        self._drop_unwanted()
        poll = _Poll(_REQUEST.get())
        self._end_older_polls()
        timeout = float(params.get("timeout") or 0)
        if not self._updates and timeout > 0 and not self._closing.is_set():
            self._update_event.clear()
            self._polls.append(poll)
            try:
                await _first(self._update_event.wait(), poll.wake.wait(), seconds=timeout)
            finally:
                self._polls.remove(poll)
        if poll.terminated:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        self._drop_unwanted()
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    def _drop_unwanted(self) -> None:
        """Updates of kinds the client did not ask for are dropped, as Telegram does."""
        wanted = self.allowed_updates
        if wanted is not None:
            self._updates = [u for u in self._updates if any(k in u for k in wanted)]

    def _end_older_polls(self) -> None:
        """A new getUpdates ends the ones still waiting for a live client (a conflict)."""
        for older in self._polls:
            transport = older.request.transport
            if transport is not None and not transport.is_closing():
                older.terminated = True
                self.conflicts += 1
            older.wake.set()

    # --- records --------------------------------------------------------------------------

    def _chat(self, chat_id: int | str, chat_type: str | None = None) -> dict[str, Any]:
        if chat_id not in self._chats:
            self.add_chat(chat_id, chat_type=chat_type)
        chat = self._chats[chat_id]
        record: dict[str, Any] = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            record["first_name"] = "Analyst"
        else:
            record["title"] = chat.title or f"Chat {chat.id}"
        if isinstance(chat.id, str):
            record.update(id=-1001000000000 - len(chat.id), username=chat.id.lstrip("@"))
        return record

    def _message(self, chat_id: int | str, text: str, entities: list[dict[str, Any]], *,
                 chat_type: str | None = None) -> dict[str, Any]:
        message_id = self._next_message[chat_id]
        self._next_message[chat_id] += 1
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()),
                                   "chat": self._chat(chat_id, chat_type), "text": text}
        if entities:
            message["entities"] = entities
        return message


async def _first(*waits: Awaitable[Any], seconds: float) -> None:
    """Return when the first of `waits` finishes or after `seconds`."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command entities of `text`, offsets and lengths in UTF-16 code units."""
    return [{"type": "bot_command", "offset": utf16_len(text[:m.start()]),
             "length": utf16_len(m.group())} for m in _COMMAND.finditer(text)]


def _render(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The message text after entity parsing, checked like Telegram checks it."""
    raw = _required(params, "text")
    mode = str(params.get("parse_mode") or "").lower()
    text, entities = parse_html(str(raw)) if mode == "html" else (str(raw), [])
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > LIMIT:
        raise ApiError(400, "Bad Request: message is too long")
    return text, entities


def _keyboard(markup: Any) -> dict[str, Any] | None:
    """An inline keyboard checked as Telegram checks it (None without one), or ApiError."""
    if markup in (None, "", {}):
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not str(button.get("text") or "").strip():
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is None and "url" not in button:
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


def _required(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise ApiError(400, f"Bad Request: {name} is empty")
    return params[name]


def _chat_type(chat_id: int | str) -> str:
    if isinstance(chat_id, str):
        return "channel"
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def _bot_member(bot: dict[str, Any], status: str) -> dict[str, Any]:
    """The bot's ChatMember record with `status` (rights in full for an administrator)."""
    if status == "administrator":
        return {**_member(bot["id"], status), "user": bot, "can_post_messages": True}
    record: dict[str, Any] = {"status": status, "user": bot}
    if status == "kicked":
        record["until_date"] = 0
    if status == "restricted":
        record.update(is_member=True, until_date=0, **dict.fromkeys((
            "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
            "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
            "can_send_other_messages", "can_add_web_page_previews", "can_change_info",
            "can_invite_users", "can_pin_messages", "can_manage_topics", "can_edit_tag",
            "can_react_to_messages"), False))
    return record


def _member(user_id: int, status: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
    if status == "creator":
        return {"status": status, "user": user, "is_anonymous": False}
    if status != "administrator":
        return {"status": status, "user": user}
    rights = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
              "can_restrict_members", "can_promote_members", "can_change_info",
              "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories")
    return {"status": status, "user": user, "can_be_edited": False, "is_anonymous": False,
            **dict.fromkeys(rights, True)}


async def _params(request: web.Request) -> dict[str, Any]:
    """Query, then JSON or form/multipart body parameters, decoded as Telegram reads them."""
    params: dict[str, Any] = _decode(dict(request.query))
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        form = await request.post()
        params.update(_decode({k: v for k, v in form.items() if isinstance(v, str)}))
    return params
