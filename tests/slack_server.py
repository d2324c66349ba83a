"""A loopback Slack Web API server for tests, plus a builder of signed slash-command requests.

    async with SlackServer(token="xoxb-test", channels=("C123",)) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        ... await client.chat_postMessage(channel="C123", text="hi") ...
        assert slack.calls_to("chat.postMessage")[0].params["channel"] == "C123"
        assert slack.messages["C123"][0]["text"] == "hi"

It speaks the wire format where it matters: `POST /api/<method>` (GET too, as slack_sdk uses
for `users.info`) with JSON, form or query parameters and an `Authorization: Bearer` token;
answers `{"ok": false, "error": ...}` as Slack does (`not_authed`, `invalid_auth`,
`channel_not_found`, `message_not_found`, `user_not_found`, `unknown_method`), and HTTP 429
with `Retry-After` and `ratelimited` when told to. `POST /response/<id>` records what a
command handler posts to its `response_url` (429 with `Retry-After` when told to by
`rate_limit_responses`). Socket Mode: `apps.connections.open` (with the app token) hands out
`ws://.../socket`, which says `hello`, carries envelopes pushed by `socket_command` and records
the app's acknowledgements. The server runs on the test's event loop
(aiohttp.web on 127.0.0.1, a random port).

Channels the app loses, as Slack answers posts and updates there: `remove_app` (the app was
removed: `not_in_channel`), `archive` (`is_archived`), `delete_channel` (`channel_not_found`);
`invite_app` undoes the first two. `event_request` signs an Events API callback (e.g.
`member_joined_event`, what Slack sends when the app's bot user is invited into a channel, or
`unarchive_event`) as Slack POSTs it to the app's request URL.

Buttons: `press` signs the `block_actions` payload Slack POSTs when a user presses a button of
a message the app posted (found by channel, ts and action_id, carrying that button's value and
a response_url on this server); `socket_press` pushes the same payload over Socket Mode.
App Home: `views.publish` records the published view per user in `home_views` (Slack's limit
of 100 blocks checked); `users.conversations` lists the channels a user is a member of
(`members`: channel -> users; by default U123 is in every channel), a page at a time.
`app_home_opened_event` is the event Slack sends when a user opens the app's Home tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

from aiohttp import web

BASE_TS = 1729511224  # 2024-10-21, the day of the sample story
TEAM_ID = "T0NEWSBOT"
BOT_USER_ID = "U0NEWSBOT"
_RESPONSE = "<response_url>"  # the fault queue of posts to response URLs


@dataclass(frozen=True, slots=True)
class Call:
    """One request the server received."""

    method: str
    params: dict[str, Any]
    token: str | None
    headers: dict[str, str]
    content_type: str
    http_verb: str
    at: float = field(default_factory=time.monotonic)  # when the server received it


@dataclass(slots=True)
class _Fault:
    """Answer the next `times` calls of a method with this error (429 when `retry_after`)."""

    times: int
    error: str
    status: int = 200
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A slash-command request as Slack sends it to the app's request URL."""

    body: str
    headers: dict[str, str]
    response_url: str
    response_id: str

    @property
    def form(self) -> dict[str, str]:
        """The form fields of the body."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body, keep_blank_values=True))


def sign(secret: str, timestamp: str, body: str) -> str:
    """The `X-Slack-Signature` of `body` sent at `timestamp`: `v0=` + HMAC-SHA256 hex."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(slots=True)
class SlackServer:
    """A Slack Web API stand-in on 127.0.0.1; an async context manager."""

    token: str = field(default="xoxb-test-token", repr=False)
    app_token: str = field(default="xapp-1-A0NEWSBOT-1-test", repr=False)
    channels: tuple[str, ...] = ("C123",)
    signing_secret: str = field(default="test-signing-secret", repr=False)
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "U123": {"id": "U123", "team_id": TEAM_ID, "name": "analyst", "real_name": "An Analyst",
                 "tz": "Asia/Shanghai", "tz_offset": 28800, "is_admin": False, "is_bot": False},
    })
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    response_posts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    members: dict[str, set[str]] = field(default_factory=dict)  # channel -> users (else U123)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> its Home view
    _faults: dict[str, list[_Fault]] = field(default_factory=lambda: defaultdict(list))
    _lost: dict[str, str] = field(default_factory=dict)  # channel -> the error posts get
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    socket_acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _acked: dict[str, asyncio.Event] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _port: int = 0

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL to give a client: requests go to `<api_url><method>`."""
        return f"{self.url}/api/"

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls of one API method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def rate_limit(self, method: str, *, times: int = 1, retry_after: float = 1) -> None:
        """Answer the next `times` calls of `method` with 429, `Retry-After: retry_after`."""
        self._faults[method].append(_Fault(times, "ratelimited", 429, retry_after))

    def rate_limit_responses(self, *, times: int = 1, retry_after: float = 1) -> None:
        """Answer the next `times` posts to any response_url with 429, `Retry-After`."""
        self._faults[_RESPONSE].append(_Fault(times, "rate_limited", 429, retry_after))

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        self._faults[method].append(_Fault(times, error, status))

    def remove_app(self, channel: str) -> None:
        """The app was removed from `channel`: posts and updates there get `not_in_channel`."""
        self._lost[channel] = "not_in_channel"

    def archive(self, channel: str) -> None:
        """`channel` was archived: posts and updates there get `is_archived`."""
        self._lost[channel] = "is_archived"

    def delete_channel(self, channel: str) -> None:
        """`channel` was deleted: posts and updates there get `channel_not_found`."""
        self.channels = tuple(c for c in self.channels if c != channel)

    def invite_app(self, channel: str) -> None:
        """The app is in `channel` again (invited back, or the channel unarchived)."""
        self._lost.pop(channel, None)
        if channel not in self.channels:
            self.channels = (*self.channels, channel)

    @staticmethod
    def member_joined_event(channel: str, *, user: str = BOT_USER_ID,
                            inviter: str = "U123") -> dict[str, Any]:
        """The `member_joined_channel` event (by default: the app's bot user was invited)."""
        return {"type": "member_joined_channel", "user": user, "channel": channel,
                "channel_type": "C", "team": TEAM_ID, "inviter": inviter,
                "event_ts": f"{BASE_TS}.000100"}

    @staticmethod
    def unarchive_event(channel: str, *, user: str = "U123") -> dict[str, Any]:
        """The `channel_unarchive` event (members of the channel receive it)."""
        return {"type": "channel_unarchive", "channel": channel, "user": user,
                "event_ts": f"{BASE_TS}.000200"}

    def event_request(self, event: dict[str, Any], *, timestamp: int | None = None,
                      secret: str | None = None) -> SignedRequest:
        """An Events API `event_callback` carrying `event`, signed as Slack POSTs it."""
        event_id = f"Ev{next(self._counter):08d}"
        body = json.dumps({"token": "verification-token-unused", "team_id": TEAM_ID,
                           "api_app_id": "A0NEWSBOT", "event": event, "type": "event_callback",
                           "event_id": event_id, "event_time": BASE_TS,
                           "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                               "is_bot": True, "enterprise_id": None,
                                               "is_enterprise_install": False}]})
        return self._signed(body, "application/json", timestamp=timestamp, secret=secret,
                            response_url="", response_id=event_id)

    @staticmethod
    def app_home_opened_event(user: str = "U123", *, tab: str = "home") -> dict[str, Any]:
        """The `app_home_opened` event: `user` opened the app's Home (or Messages) tab."""
        return {"type": "app_home_opened", "user": user, "channel": "D" + user.removeprefix("U"),
                "tab": tab, "event_ts": f"{BASE_TS}.000300"}

    def button(self, channel: str, ts: str, action_id: str) -> dict[str, Any]:
        """The button `action_id` of the message `ts` the app posted in `channel`, and its
        block's id (KeyError if there is none)."""
        message = next(m for m in self.messages[channel] if m["ts"] == ts)
        for block in message.get("blocks") or ():
            for element in block.get("elements", ()) if block.get("type") == "actions" else ():
                if element.get("action_id") == action_id:
                    return {**element, "block_id": block.get("block_id", "")}
        raise KeyError(f"no button {action_id!r} in message {ts} of {channel}")

    def _press_payload(self, channel: str, ts: str, action_id: str, *, user_id: str,
                       response_url: str, value: str | None) -> dict[str, Any]:
        button = self.button(channel, ts, action_id)
        message = next(m for m in self.messages[channel] if m["ts"] == ts)
        return {
            "type": "block_actions", "api_app_id": "A0NEWSBOT",
            "token": "verification-token-unused",
            "user": {"id": user_id, "username": self.users.get(user_id, {}).get("name", "x"),
                     "name": self.users.get(user_id, {}).get("name", "x"), "team_id": TEAM_ID},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                          "is_ephemeral": False},
            "trigger_id": f"{BASE_TS}.{next(self._counter)}.abcdef",
            "team": {"id": TEAM_ID, "domain": "newsbot"}, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel, "name": "news"},
            "message": message, "state": {"values": {}}, "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": button["block_id"],
                         "text": button["text"], "type": "button",
                         "value": button["value"] if value is None else value,
                         "action_ts": f"{BASE_TS}.{next(self._counter):06d}"}]}

    def press(self, channel: str, ts: str, action_id: str, *, user_id: str = "U123",
              value: str | None = None, timestamp: int | None = None,
              secret: str | None = None) -> SignedRequest:
        """The `block_actions` request Slack POSTs when `user_id` presses the button
        `action_id` under the message `ts` in `channel` (`value` overrides the button's),
        signed with the signing secret (or `secret`)."""
        response_id = f"a{next(self._counter)}"
        response_url = self.response_url(response_id)
        payload = self._press_payload(channel, ts, action_id, user_id=user_id,
                                      response_url=response_url, value=value)
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
        return self._signed(body, "application/x-www-form-urlencoded", timestamp=timestamp,
                            secret=secret, response_url=response_url, response_id=response_id)

    async def socket_press(self, channel: str, ts: str, action_id: str, *,
                           user_id: str = "U123") -> str:
        """Push a button press over the open Socket Mode connection (an `interactive`
        envelope); returns its response id (= envelope id, see `socket_ack`)."""
        response_id = f"a{next(self._counter)}"
        payload = self._press_payload(channel, ts, action_id, user_id=user_id,
                                      response_url=self.response_url(response_id), value=None)
        envelope = {"envelope_id": response_id, "type": "interactive",
                    "accepts_response_payload": False, "payload": payload}
        self._acked[response_id] = asyncio.Event()
        (ws,) = [ws for ws in self._sockets if not ws.closed]
        await ws.send_json(envelope)
        return response_id

    def response_url(self, response_id: str) -> str:
        """A `response_url` on this server; what is posted there lands in `responses[id]`."""
        return f"{self.url}/response/{response_id}"

    def slash_command(self, text: str, *, command: str = "/newsbot", channel_id: str = "C123",
                      user_id: str = "U123", team_id: str = TEAM_ID,
                      timestamp: int | None = None, secret: str | None = None) -> SignedRequest:
        """A slash command as Slack would POST it to the app, signed with the signing secret."""
        response_id = f"r{next(self._counter)}"
        response_url = self.response_url(response_id)
        body = urlencode({
            "token": "verification-token-unused", "team_id": team_id, "team_domain": "newsbot",
            "channel_id": channel_id, "channel_name": "news", "user_id": user_id,
            "user_name": self.users.get(user_id, {}).get("name", "someone"),
            "command": command, "text": text, "api_app_id": "A0NEWSBOT",
            "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": f"{BASE_TS}.{response_id}.abcdef"})
        return self._signed(body, "application/x-www-form-urlencoded", timestamp=timestamp,
                            secret=secret, response_url=response_url, response_id=response_id)

    def _signed(self, body: str, content_type: str, *, timestamp: int | str | None,
                secret: str | None, response_url: str, response_id: str) -> SignedRequest:
        """`body` as Slack sends it: timestamped (now unless given) and signed with the app's
        signing secret (or `secret`)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": sign(secret or self.signing_secret, stamp, body)}
        return SignedRequest(body=body, headers=headers, response_url=response_url,
                             response_id=response_id)

    @property
    def sockets(self) -> int:
        """How many Socket Mode connections are open now."""
        return sum(not ws.closed for ws in self._sockets)

    async def socket_command(self, text: str, *, command: str = "/newsbot",
                             channel_id: str = "C123", user_id: str = "U123") -> str:
        """Push a slash command over the open Socket Mode connection; returns its response id.

        Await `socket_ack(<envelope id = response id>)` for the app's acknowledgement.
        """
        request = self.slash_command(text, command=command, channel_id=channel_id,
                                     user_id=user_id)
        envelope = {"envelope_id": request.response_id, "type": "slash_commands",
                    "accepts_response_payload": True, "payload": request.form}
        self._acked[request.response_id] = asyncio.Event()
        (ws,) = [ws for ws in self._sockets if not ws.closed]
        await ws.send_json(envelope)
        return request.response_id

    async def socket_ack(self, envelope_id: str) -> dict[str, Any]:
        """The app's acknowledgement of an envelope, once it arrives (30 s at most)."""
        async with asyncio.timeout(30):
            await self._acked[envelope_id].wait()
        return self.socket_acks[envelope_id]

    # ---- request handling

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """A Socket Mode connection: `hello`, then envelopes out and acknowledgements in."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A0NEWSBOT"},
                            "debug_info": {"host": "loopback"}})
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.socket_acks[ack["envelope_id"]] = ack
                self._acked.setdefault(ack["envelope_id"], asyncio.Event()).set()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        """Record a post to a `response_url` (every attempt counts in `response_posts`)."""
        raw = await request.text()
        self.response_posts[request.match_info["id"]] += 1
        if fault := self._take_fault(_RESPONSE):
            return web.Response(status=fault.status, text=fault.error, content_type="text/plain",
                                headers={"Retry-After": f"{fault.retry_after or 0:g}"})
        try:
            payload: Any = json.loads(raw)
        except json.JSONDecodeError:
            payload = raw
        self.responses[request.match_info["id"]].append(payload)
        return web.Response(text="ok", content_type="text/plain")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        token = _token(request, params)
        self.calls.append(Call(method=method, params=params, token=token,
                               headers=dict(request.headers), content_type=request.content_type,
                               http_verb=request.method))
        if fault := self._take_fault(method):
            headers = ({"Retry-After": f"{fault.retry_after:g}"}
                       if fault.retry_after is not None else {})
            return _error(fault.error, status=fault.status, headers=headers)
        if token is None:
            return _error("not_authed")
        expected = self.app_token if method == "apps.connections.open" else self.token
        if not hmac.compare_digest(token, expected):
            return _error("invalid_auth")
        handler = _METHODS.get(method)
        if handler is None:
            return _error("unknown_method", status=404)
        return web.json_response(handler(self, params))

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def _next_ts(self) -> str:
        return f"{BASE_TS}.{next(self._counter) * 100:06d}"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://newsbot-test.slack.com/", "team": "Newsbot Test",
                "user": "newsbot", "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                "bot_id": "B0NEWSBOT", "is_enterprise_install": False}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if channel in self.users:  # a user id: the app's direct messages with that user
            channel = self.dm_channel(channel)
        elif channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        elif channel in self._lost:
            return {"ok": False, "error": self._lost[channel]}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        message = {"type": "message", "ts": self._next_ts(), "user": BOT_USER_ID,
                   "bot_id": "B0NEWSBOT", "text": params.get("text", ""),
                   "blocks": params.get("blocks", [])}
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    @staticmethod
    def dm_channel(user: str) -> str:
        """The id of the app's direct-message channel with `user` (Slack's `D...` ids)."""
        return "D" + user.removeprefix("U")

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self._lost:
            return {"ok": False, "error": self._lost[channel]}
        message = next((m for m in self.messages[channel] if m["ts"] == ts), None)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        message.update(text=params.get("text", ""), blocks=params.get("blocks", []),
                       edited={"user": BOT_USER_ID, "ts": self._next_ts()})
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"],
                "message": message}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, user = params.get("channel"), params.get("user")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        ts = self._next_ts()
        self.ephemeral.append({"channel": channel, "user": user, "ts": ts,
                               "text": params.get("text", ""),
                               "blocks": params.get("blocks", [])})
        return {"ok": True, "message_ts": ts}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user, view = params.get("user_id"), params.get("view")
        if isinstance(view, str):
            with contextlib.suppress(json.JSONDecodeError):
                view = json.loads(view)
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict) or view.get("type") != "home" or not isinstance(
                view.get("blocks"), list) or len(view["blocks"]) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        self.home_views[str(user)] = view
        return {"ok": True, "view": {"id": f"V{next(self._counter):08d}", **view}}

    def _users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user") or "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        joined = [c for c in self.channels if user in self.members.get(c, {"U123"})]
        start = int(params.get("cursor") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        page = joined[start:start + limit]
        cursor = str(start + limit) if start + limit < len(joined) else ""
        return {"ok": True, "channels": [{"id": c, "name": c.lower(), "is_channel": True,
                                          "is_private": False, "is_member": True}
                                         for c in page],
                "response_metadata": {"next_cursor": cursor}}

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/socket"}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}


_METHODS = {
    "auth.test": SlackServer._auth_test,
    "chat.postMessage": SlackServer._post_message,
    "chat.update": SlackServer._update,
    "chat.postEphemeral": SlackServer._post_ephemeral,
    "users.info": SlackServer._users_info,
    "apps.connections.open": SlackServer._connections_open,
    "views.publish": SlackServer._views_publish,
    "users.conversations": SlackServer._users_conversations,
}


async def _params(request: web.Request) -> dict[str, Any]:
    """Query, form or JSON parameters; JSON-encoded `blocks` in forms are decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update({k: v for k, v in (await request.post()).items()
                           if isinstance(v, str)})
    for key in ("blocks", "attachments", "view"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(params[key])
    return params


def _token(request: web.Request, params: dict[str, Any]) -> str | None:
    """The bearer token, or a `token` parameter as Slack also accepts."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = params.get("token")
    return token if isinstance(token, str) and token else None


def _error(error: str, *, status: int = 200,
           headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
