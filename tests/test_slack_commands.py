"""The /newsbot slash command: the real bolt app behind the bot's real HTTP server, signed
requests over loopback, the real interpreter on the real store, replies at the response_url."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot import i18n
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import AddedFeeds, CommandInterpreter, CommandReply, CommandRequest
from bot.errors import ConfigError
from bot.http import HttpServer, build_http_app
from bot.platforms.slack import (
    EVENTS_PATH,
    FAILED_REPLY,
    SlackChannel,
    SlackFrontEnd,
    command_request,
    escape_mrkdwn,
    render_reply,
    response_type,
    unescape_command,
)
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store
from tests.conftest import REPO
from tests.slack_server import TEAM_ID, SignedRequest, SlackServer, sign

TOKEN = "xoxb-1234-5678-SECRETtokenVALUE"
ADMIN = "UADMIN1"


@dataclass
class Bot:
    """The pieces a test looks at: Slack's stand-in, the front end, the store, the server."""

    slack: SlackServer
    front: SlackFrontEnd
    chats: ChatDirectory
    store: Store
    http: HttpServer
    sleeps: list[float]

    async def send(self, request: SignedRequest) -> tuple[int, str]:
        """POST a slash command to /slack/events as Slack would: (status, body)."""
        async with aiohttp.ClientSession() as session, session.post(
                self.http.url + EVENTS_PATH, data=request.body.encode(),
                headers=request.headers) as response:
            return response.status, await response.text()

    async def command(self, text: str, *, user_id: str = "U123") -> dict[str, Any]:
        """Send `/newsbot <text>`, check the ack, wait for the reply and return it."""
        request = self.slack.slash_command(text, user_id=user_id)
        status, body = await self.send(request)
        assert (status, body) == (200, "")  # the ack, before any reply exists or not
        await self.front.drain()
        (reply,) = self.slack.responses[request.response_id]
        return dict(reply)


@pytest.fixture
async def bot(store: Store) -> AsyncIterator[Bot]:
    """Slack's stand-in, an entered SlackChannel, the interpreter wired like bot/app.py, the
    front end in HTTP mode, and the bot's HTTP server on 127.0.0.1 serving /slack/events."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    chats = ChatDirectory(store)
    interpreter = CommandInterpreter(
        store, chats=chats, rules=RuleBook(load_topics(REPO / "rules"), chats),
        archive=Archive(store, ttl=72 * 3600 + 86_400), admins=(f"slack:{ADMIN}",))
    async with SlackServer(token=TOKEN, channels=("C123",)) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url) as channel:
        slack.users[ADMIN] = {**slack.users["U123"], "id": ADMIN, "name": "admin"}
        front = SlackFrontEnd(channel, interpreter, signing_secret=slack.signing_secret,
                              sleep=sleep)
        async with front, HttpServer(0, build_http_app(front.routes()),
                                     host="127.0.0.1") as http:
            yield Bot(slack, front, chats, store, http, sleeps)


async def test_rule_add_is_acked_then_answered_at_the_response_url(bot: Bot) -> None:
    """`/newsbot rule add 朝鲜 + 派兵` gets an empty 200 ack, then the rule id in the channel."""
    reply = await bot.command("rule add 朝鲜 + 派兵")
    assert reply["text"].startswith("Rule #1 added: 朝鲜 + 派兵")
    assert reply["text"].endswith("it would have matched: 0")
    assert reply["response_type"] == "in_channel" and reply["unfurl_links"] is False
    (rule,) = await bot.chats.rules_of("slack:C123")
    assert rule.expression == "朝鲜 + 派兵"
    assert [c.method for c in bot.slack.calls] == ["auth.test"]  # the channel's, not bolt's


async def test_bad_or_stale_signatures_get_401_and_change_nothing(bot: Bot) -> None:
    """A forged signature or a 10-minute-old timestamp is refused with 401; no rule, no reply."""
    forged = bot.slack.slash_command("rule add 朝鲜 + 派兵", secret="not-the-secret")
    stale = bot.slack.slash_command("rule add 朝鲜 + 派兵", timestamp=int(time.time()) - 600)
    for request in (forged, stale):
        status, _ = await bot.send(request)
        assert status == 401
    await bot.front.drain()
    assert await bot.chats.rules_of("slack:C123") == []
    assert not any(bot.slack.responses.values()) and not bot.slack.response_posts


def _other_digits(number: int, zero: str) -> str:
    """`number` written with the ten digits that start at `zero` (Arabic-Indic, full-width)."""
    return "".join(chr(ord(zero) + int(d)) for d in str(number))


# (X-Slack-Request-Timestamp, X-Slack-Signature, body); "now" is the current time, "signed"
# the right signature for that timestamp and body, None a header left out.
MALFORMED_HEADERS = {
    "timestamp missing": (None, "signed", None),
    "timestamp empty": ("", "signed", None),
    "timestamp not a number": ("abc", "signed", None),
    "timestamp in exponent form": ("1e10", "signed", None),
    "timestamp a float": ("{now}.5", "signed", None),
    "timestamp huge": ("9" * 5000, "signed", None),
    "timestamp past any date": ("99999999999999999999", "signed", None),
    "timestamp negative": ("-{now}", "signed", None),
    "timestamp zero": ("0", "signed", None),
    "timestamp with a sign": ("+{now}", "signed", None),
    "timestamp with a space inside": ("{now} 5", "signed", None),
    "timestamp with underscores": ("{now:_}", "signed", None),
    "timestamp in Arabic-Indic digits": ("{arabic}", "signed", None),
    "timestamp in full-width digits": ("{fullwidth}", "signed", None),
    "timestamp ten minutes old": ("{old}", "signed", None),
    "signature missing": ("{now}", None, None),
    "signature empty": ("{now}", "", None),
    "signature only the version": ("{now}", "v0=", None),
    "signature not hex": ("{now}", "v0=" + "g" * 64, None),
    "signature of another version": ("{now}", "v1={hex}", None),
    "signature in upper case": ("{now}", "V0={HEX}", None),
    "signature one digit long": ("{now}", "v0={hex}0", None),
    "signature not ASCII": ("{now}", "v0=" + "é" * 64, None),
    "signature of another body": ("{now}", "signed", "text=rule+add+x"),
    "body not UTF-8, signature forged": ("{now}", "v0=" + "0" * 64, b"text=\xff\xfe"),
}


@pytest.mark.parametrize(("timestamp", "signature", "body"), MALFORMED_HEADERS.values(),
                         ids=MALFORMED_HEADERS.keys())
async def test_malformed_signature_headers_get_401_and_one_debug_line(
        bot: Bot, caplog: pytest.LogCaptureFixture, timestamp: str | None,
        signature: str | None, body: str | bytes | None) -> None:
    """A request to /slack/events whose timestamp or signature is missing, malformed or wrong
    gets 401 and bolt's body, changes nothing and logs nothing above DEBUG, no traceback."""
    caplog.set_level(logging.DEBUG)
    now = int(time.time())
    good = bot.slack.slash_command("rule add 朝鲜 + 派兵")
    fields = {"now": now, "old": now - 600, "arabic": _other_digits(now, "\u0660"),
              "fullwidth": _other_digits(now, "\uff10")}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp.format(**fields)
    sent = good.body.encode() if body is None else body if isinstance(body, bytes) else (
        body.encode())
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    right = sign(bot.slack.signing_secret, stamp, good.body).removeprefix("v0=")
    if signature is not None:
        headers["X-Slack-Signature"] = ("v0=" + right if signature == "signed" else signature
                                        .format(hex=right, HEX=right.upper()))
    async with aiohttp.ClientSession() as session, session.post(
            bot.http.url + EVENTS_PATH, data=sent, headers=headers) as response:
        assert (response.status, await response.json()) == (401, {"error": "invalid request"})
    await bot.front.drain()
    assert await bot.chats.rules_of("slack:C123") == [] and not bot.slack.response_posts
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.platforms.slack"] == [
        "slack: refused a request without a good signature"]


async def test_a_good_request_after_malformed_ones_still_works(bot: Bot) -> None:
    """Refusing malformed requests leaves the endpoint answering signed ones."""
    for stamp in ("abc", "", "1e10"):
        request = bot.slack.slash_command("help")
        status, _ = await bot.send(replace(request, headers={
            **request.headers, "X-Slack-Request-Timestamp": stamp}))
        assert status == 401
    reply = await bot.command("rule add 朝鲜 + 派兵")
    assert reply["text"].startswith("Rule #1 added: 朝鲜 + 派兵")


async def test_whoami_gives_the_slack_user_id_for_newsbot_admins(bot: Bot) -> None:
    """`/newsbot whoami` answers with `slack:<user id>` and the channel's id."""
    reply = await bot.command("whoami")
    assert reply["text"].split("\n") == [
        "You are slack:U123; this chat is slack:C123.",
        "To make yourself a bot admin, add slack:U123 to NEWSBOT_ADMINS (comma-separated) "
        "and restart the bot."]


async def test_rule_error_quotes_the_position_in_a_code_block(bot: Bot) -> None:
    """`/newsbot rule add (朝鲜` answers only the user, with the column and a caret under it."""
    reply = await bot.command("rule add (朝鲜")
    head, block = reply["text"].split("\n", 1)
    assert head.startswith("Invalid rule at column ")
    assert block.startswith("```\n  (朝鲜\n") and block.endswith("^\n```")
    assert reply["response_type"] == "ephemeral"
    assert await bot.chats.rules_of("slack:C123") == []


async def test_feeds_add_is_for_admins_only(bot: Bot) -> None:
    """`/newsbot feeds add <url>` is refused for a channel member and done for an admin."""
    refused = await bot.command("feeds add https://example.org/rss")
    assert refused["text"] == i18n.text("en", "refused.admin")
    assert refused["response_type"] == "ephemeral"
    assert await AddedFeeds(bot.store).all() == []
    added = await bot.command("feeds add <https://example.org/rss>", user_id=ADMIN)
    assert added["text"].startswith("Feed ") and "https://example.org/rss" in added["text"]
    (feed,) = await AddedFeeds(bot.store).all()
    assert feed.url == "https://example.org/rss"


async def test_lang_zh_then_help_answers_in_chinese(bot: Bot) -> None:
    """After `/newsbot lang zh`, `/newsbot help` and a bare `/newsbot` reply in Chinese."""
    assert (await bot.command("lang zh"))["text"] == i18n.text("zh", "lang.set")
    for text in ("help", ""):
        reply = await bot.command(text)
        assert reply["text"].startswith(i18n.text("zh", "help.intro").split("\n")[0])
        usage = i18n.text("zh", "usage.rule_add").replace("/rule", "/newsbot rule")
        assert escape_mrkdwn(usage) in reply["text"]
        assert reply["response_type"] == "ephemeral"


async def test_a_429_from_the_response_url_is_waited_out_and_the_reply_arrives_once(
        bot: Bot) -> None:
    """Two 429s with Retry-After: 7 at the response_url: the reply is retried after 7 s, once."""
    bot.slack.rate_limit_responses(times=2, retry_after=7)
    request = bot.slack.slash_command("rule add 朝鲜 + 派兵")
    assert (await bot.send(request))[0] == 200
    await bot.front.drain()
    (reply,) = bot.slack.responses[request.response_id]
    assert reply["text"].startswith("Rule #1 added")
    assert bot.slack.response_posts[request.response_id] == 3
    assert bot.sleeps == [7.0, 7.0]


async def test_a_failing_command_still_gets_an_answer(bot: Bot) -> None:
    """When the interpreter raises, the user gets a short apology instead of silence."""
    async def broken(request: CommandRequest) -> CommandReply:
        raise RuntimeError("store down")

    bot.front.commands.handle = broken  # type: ignore[method-assign]
    reply = await bot.command("rules")
    assert reply == {"text": FAILED_REPLY, "response_type": "ephemeral",
                     "unfurl_links": False, "unfurl_media": False}


# ---- translation and rendering


@pytest.mark.parametrize(("sent", "typed"), [
    ("feeds add <https://example.org/rss>", "feeds add https://example.org/rss"),
    ("feeds add <https://example.org/rss?a=1&amp;b=2|example.org/rss>",
     "feeds add https://example.org/rss?a=1&b=2"),
    ("rule add source:<http://dw.com|dw.com> + 朝鲜", "rule add source:dw.com + 朝鲜"),
    ("rule add 朝鲜 &amp; 派兵 &lt;b&gt;", "rule add 朝鲜 & 派兵 <b>"),
    ("rule add &amp;lt;", "rule add &lt;"),
    ("rule add <@U123|ann> <#C123|news> <!here> <@U9>", "rule add @ann #news @here @U9"),
])
def test_unescape_command_undoes_slack_markup(sent: str, typed: str) -> None:
    """Slack's links, mentions and entities in command text become what the user typed."""
    assert unescape_command(sent) == typed


def test_command_request_is_the_interpreters_words() -> None:
    """A payload becomes a request for slack:<channel> by slack:<user>; empty text is help."""
    payload = {"channel_id": "C123", "user_id": "U123", "channel_name": "news",
               "team_id": TEAM_ID, "text": "  rule add <https://x.org|x.org>  "}
    assert command_request(payload) == CommandRequest(
        chat="slack:C123", user="slack:U123", text="/rule add x.org", can_manage=True,
        chat_title="news")
    assert command_request({**payload, "text": ""}).text == "/help"
    assert command_request({**payload, "text": "/rules"}).text == "/rules"


def test_render_reply_escapes_and_clips() -> None:
    """Reply lines are mrkdwn-escaped and a long reply is cut at a line boundary."""
    reply = CommandReply("a <b> & c\n*x*", ("a <b> & c", "*x*"))
    assert render_reply(reply) == "a &lt;b&gt; &amp; c\n*x*"
    hint = CommandReply("", ("Send /help; try /rule add 朝鲜 or /rules", "https://x.org/status"))
    assert render_reply(hint, command="/nb").split("\n") == [
        "Send /nb help; try /nb rule add 朝鲜 or /nb rules", "https://x.org/status"]
    long = CommandReply("", tuple(f"line {n}" for n in range(2000)))
    text = render_reply(long, limit=100)
    assert len(text) <= 100 and text.endswith("\n…") and "line 0\n" in text


@pytest.mark.parametrize(("text", "ok", "kind"), [
    ("/rule add 朝鲜", True, "in_channel"), ("/rule del 1", True, "in_channel"),
    ("/rule list", True, "ephemeral"), ("/rule test 朝鲜", True, "ephemeral"),
    ("/mute 2h", True, "in_channel"), ("/digest now", True, "ephemeral"),
    ("/digest at 07:30", True, "in_channel"), ("/help", True, "ephemeral"),
    ("/feeds add https://x.org", True, "ephemeral"), ("/rule add (", False, "ephemeral"),
])
def test_only_changes_to_the_channel_are_shown_to_the_channel(text: str, ok: bool,
                                                              kind: str) -> None:
    """Successful changes of the channel's settings go in_channel; the rest only to the user."""
    request = CommandRequest(chat="slack:C1", user="slack:U1", text=text, can_manage=True)
    assert response_type(request, CommandReply("x", ("x",), ok)) == kind


# ---- modes


async def test_front_end_picks_socket_mode_with_an_app_token(store: Store) -> None:
    """An app token means Socket Mode and no HTTP route; without it HTTP mode needs a secret."""
    chats = ChatDirectory(store)
    interpreter = CommandInterpreter(store, chats=chats, rules=RuleBook([], chats),
                                     archive=Archive(store, ttl=3600))
    async with SlackServer(token=TOKEN) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url) as channel:
        http = SlackFrontEnd(channel, interpreter, signing_secret="s")
        assert http.mode == "http"
        assert [(r.method, r.path) for r in http.routes()] == [("POST", "/slack/events")]
        socket = SlackFrontEnd(channel, interpreter, app_token="xapp-1-A1-1-abc")
        assert socket.mode == "socket" and socket.routes() == []
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            SlackFrontEnd(channel, interpreter)
    with pytest.raises(ValueError, match="enter the SlackChannel"):
        SlackFrontEnd(SlackChannel(token=TOKEN), interpreter, signing_secret="s")


# ---- the bot's HTTP server


async def test_http_server_serves_its_routes_and_stops_cleanly() -> None:
    """HttpServer serves the routes it was built with on a free port and frees it on exit."""
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async with HttpServer(0, build_http_app([web.get("/hello", hello)]),
                          host="127.0.0.1") as server:
        assert server.port > 0
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/hello") as response:
                assert (response.status, await response.text()) == (200, "hello")
            async with session.get(server.url + "/nope") as response:
                assert response.status == 404
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(server.url + "/hello")


async def test_http_server_port_in_use_is_a_config_error() -> None:
    """A port another server holds is a ConfigError naming it."""
    async with HttpServer(0, build_http_app(), host="127.0.0.1") as first:
        with pytest.raises(ConfigError, match=f"127.0.0.1:{first.port}"):
            async with HttpServer(first.port, build_http_app(), host="127.0.0.1"):
                pass


async def test_socket_mode_receives_the_command_and_answers_at_the_response_url(
        store: Store) -> None:
    """With an app token the front end connects over a WebSocket, acks the envelope, replies."""
    chats = ChatDirectory(store)
    interpreter = CommandInterpreter(
        store, chats=chats, rules=RuleBook(load_topics(REPO / "rules"), chats),
        archive=Archive(store, ttl=3600))
    async with SlackServer(token=TOKEN) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url) as channel:
        async with SlackFrontEnd(channel, interpreter, app_token=slack.app_token) as front:
            assert slack.sockets == 1
            envelope = await slack.socket_command("rule add 朝鲜 + 派兵")
            assert await slack.socket_ack(envelope) == {"envelope_id": envelope}
            await front.drain()
            (reply,) = slack.responses[envelope]
            assert reply["text"].startswith("Rule #1 added: 朝鲜 + 派兵")
        assert slack.sockets == 0
        (opened,) = slack.calls_to("apps.connections.open")
        assert opened.token == slack.app_token
        assert len(slack.calls_to("auth.test")) == 1
    assert [r.expression for r in await chats.rules_of("slack:C123")] == ["朝鲜 + 派兵"]


async def test_socket_mode_with_a_rejected_app_token_is_a_config_error(store: Store) -> None:
    """A wrong app token fails at start with a ConfigError that does not show the token."""
    chats = ChatDirectory(store)
    interpreter = CommandInterpreter(store, chats=chats, rules=RuleBook([], chats),
                                     archive=Archive(store, ttl=3600))
    async with SlackServer(token=TOKEN) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url) as channel:
        with pytest.raises(ConfigError, match="SLACK_APP_TOKEN") as caught:
            async with SlackFrontEnd(channel, interpreter, app_token="xapp-wrong-SECRET"):
                pass
        assert "xapp-wrong-SECRET" not in str(caught.value) and slack.sockets == 0
