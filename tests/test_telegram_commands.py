"""The Telegram command front end: real PTB over loopback HTTP, the real interpreter and store."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter, CommandReply, CommandRequest
from bot.errors import ChannelError, ConfigError
from bot.platforms.telegram import (
    COMMAND_MENU,
    MESSAGE_LIMIT,
    SECRET_HEADER,
    FloodControl,
    FloodLimits,
    TelegramChannel,
    TelegramFrontEnd,
    render_reply,
    webhook_secret_for,
)
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store
from tests.conftest import REPO
from tests.telegram_server import TOKEN, BotApiServer, parse_html, utf16_len

WINDOW = 72 * 3600
PRIVATE, GROUP, CHANNEL = 42, -100555, -1001234
ADMIN, MEMBER = 7, 8


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    """A Bot API server on a free loopback port."""
    async with BotApiServer() as server:
        server.add_chat(GROUP, chat_type="supergroup", title="Analysts", admins=(ADMIN,), owner=1)
        server.add_chat(CHANNEL, chat_type="channel", title="Wire")
        yield server


@pytest.fixture
def chats(store: Store) -> ChatDirectory:
    """The chat settings in the test's store."""
    return ChatDirectory(store)


@pytest.fixture
def interpreter(store: Store, chats: ChatDirectory) -> CommandInterpreter:
    """The command interpreter wired as bot/app.py wires it, with the shipped rule files."""
    rules = RuleBook(load_topics(REPO / "rules"), chats)
    return CommandInterpreter(store, chats=chats, rules=rules,
                              archive=Archive(store, ttl=WINDOW + 86_400),
                              admins=(f"telegram:{ADMIN}",))


@pytest.fixture
async def channel(api: BotApiServer) -> AsyncIterator[TelegramChannel]:
    """A TelegramChannel on the test server, spacing messages to one chat only 10 ms apart."""
    flood = FloodControl(FloodLimits(chat_interval=0.01))
    async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as ch:
        yield ch


@pytest.fixture
async def front(channel: TelegramChannel,
                interpreter: CommandInterpreter) -> AsyncIterator[TelegramFrontEnd]:
    """The front end long-polling the test server."""
    async with TelegramFrontEnd(channel, interpreter, poll_timeout=2.0) as started:
        yield started


async def _replies(api: BotApiServer, chat_id: int, count: int = 1) -> list[dict[str, Any]]:
    """Wait (at most 10 s) until the bot has sent `count` messages to `chat_id`."""
    async with asyncio.timeout(10.0):
        return await api.wait_for_calls("sendMessage", count, chat_id=chat_id)


def _text(call: dict[str, Any]) -> str:
    """What the user sees of a sent message (its HTML parsed as Telegram does)."""
    return parse_html(call["text"])[0]


# --- replies --------------------------------------------------------------------------------


@pytest.mark.usefixtures("front")
async def test_private_rule_add_is_answered_with_the_rule_id(api: BotApiServer,
                                                             chats: ChatDirectory) -> None:
    """`/rule add 朝鲜 + 派兵` in a private chat stores the rule and replies with its id."""
    update = api.queue_command("/rule add 朝鲜 + 派兵", chat_id=PRIVATE)
    [reply] = await _replies(api, PRIVATE)
    assert _text(reply).startswith("Rule #1 added: 朝鲜 + 派兵")
    assert reply["parse_mode"] == "HTML"
    assert reply["reply_parameters"]["message_id"] == update["message"]["message_id"]
    [message] = api.messages(PRIVATE)
    assert message["reply_to_message"]["message_id"] == update["message"]["message_id"]
    assert [r.expression for r in await chats.rules_of(f"telegram:{PRIVATE}")] == ["朝鲜 + 派兵"]


@pytest.mark.usefixtures("front")
async def test_group_command_addressed_to_this_bot_works(api: BotApiServer) -> None:
    """`/rule@<this bot> list` in a group is answered, for members too."""
    api.queue_command(f"/rule@{api.bot_user['username']} list", chat_id=GROUP, user_id=MEMBER)
    [reply] = await _replies(api, GROUP)
    assert _text(reply).startswith("This chat has no rules yet")


@pytest.mark.usefixtures("front")
async def test_whoami_tells_a_user_the_id_for_newsbot_admins(api: BotApiServer) -> None:
    """`/whoami` answers a member in a group with their `telegram:<id>` and the group's, and
    how to become a bot admin; a bot admin is told they are one."""
    api.queue_command(f"/whoami@{api.bot_user['username']}", chat_id=GROUP, user_id=MEMBER)
    [reply] = await _replies(api, GROUP)
    assert _text(reply).split("\n") == [
        f"You are telegram:{MEMBER}; this chat is telegram:{GROUP}.",
        f"To make yourself a bot admin, add telegram:{MEMBER} to NEWSBOT_ADMINS "
        "(comma-separated) and restart the bot."]
    api.queue_command("/whoami", chat_id=ADMIN, user_id=ADMIN)
    [reply] = await _replies(api, ADMIN)
    assert _text(reply).split("\n") == [
        f"You are telegram:{ADMIN}; this chat is telegram:{ADMIN}.",
        "You are a bot admin (listed in NEWSBOT_ADMINS)."]


@pytest.mark.usefixtures("front")
async def test_group_rule_add_needs_a_chat_admin(api: BotApiServer, chats: ChatDirectory) -> None:
    """A member's `/rule add` in a group is refused politely; an administrator's succeeds."""
    api.queue_command("/rule add 朝鲜 + 派兵", chat_id=GROUP, user_id=MEMBER)
    api.queue_command("/rule add 朝鲜 + 派兵", chat_id=GROUP, user_id=ADMIN)
    refused, added = await _replies(api, GROUP, 2)
    assert _text(refused).startswith("Sorry, only this chat's administrators can change")
    assert _text(added).startswith("Rule #1 added")
    assert len(await chats.rules_of(f"telegram:{GROUP}")) == 1
    assert [c["user_id"] for c in api.calls_of("getChatMember")] == [MEMBER, ADMIN]


@pytest.mark.usefixtures("front")
async def test_anonymous_admins_and_channel_posts_may_manage(api: BotApiServer,
                                                             chats: ChatDirectory) -> None:
    """A group's anonymous admin and a channel's posts may change rules; another chat may not."""
    api.queue_command("/rule add 派兵", chat_id=GROUP, sender_chat_id=CHANNEL)
    api.queue_command("/rule add 朝鲜", chat_id=GROUP, sender_chat_id=GROUP)
    api.queue_command("/rule add 俄罗斯", chat_id=CHANNEL)
    foreign, anonymous = await _replies(api, GROUP, 2)
    [posted] = await _replies(api, CHANNEL)
    assert _text(foreign).startswith("Sorry, only this chat's administrators")
    assert _text(anonymous).startswith("Rule #1 added: 朝鲜")
    assert _text(posted).startswith("Rule #1 added: 俄罗斯")
    assert [r.expression for r in await chats.rules_of(f"telegram:{GROUP}")] == ["朝鲜"]
    assert api.calls_of("getChatMember") == []  # the sender chat decides, no lookup


async def test_admin_lookups_are_cached_briefly(api: BotApiServer, channel: TelegramChannel,
                                                interpreter: CommandInterpreter) -> None:
    """A member's status is asked once per `admin_ttl`, not on every command."""
    now = [0.0]
    async with TelegramFrontEnd(channel, interpreter, admin_ttl=60.0, clock=lambda: now[0]):
        for _ in range(2):
            api.queue_command("/rules", chat_id=GROUP, user_id=MEMBER)
        await _replies(api, GROUP, 2)
        now[0] = 61.0
        api.queue_command("/rules", chat_id=GROUP, user_id=MEMBER)
        await _replies(api, GROUP, 3)
    assert len(api.calls_of("getChatMember")) == 2


@pytest.mark.usefixtures("front")
async def test_rule_error_shows_the_position_in_a_pre_block(api: BotApiServer) -> None:
    """`/rule add (朝鲜` answers with the column and the expression and caret in <pre>."""
    api.queue_command("/rule add (朝鲜", chat_id=PRIVATE)
    [reply] = await _replies(api, PRIVATE)
    first, rest = reply["text"].split("\n", 1)
    assert first.startswith("Invalid rule at column ")
    assert rest.startswith("<pre>") and rest.endswith("</pre>")
    text, entities = parse_html(reply["text"])
    expression, caret = text.split("\n")[1:]
    assert expression.strip() == "(朝鲜" and caret.strip() == "^"
    assert [e["type"] for e in entities] == ["pre"]


@pytest.mark.usefixtures("front")
async def test_outside_text_in_replies_is_escaped(api: BotApiServer) -> None:
    """A reply quoting `<script>&` from the user arrives escaped and shows as typed."""
    api.queue_command("/subscribe <script>&", chat_id=PRIVATE)
    [reply] = await _replies(api, PRIVATE)
    assert "&lt;script&gt;&amp;" in reply["text"] and "<script>" not in reply["text"]
    assert _text(reply).startswith("There is no topic <script>&.")


@pytest.mark.usefixtures("front")
async def test_commands_without_entity_or_for_other_bots_are_ignored(
        api: BotApiServer, chats: ChatDirectory) -> None:
    """Text without a bot_command entity, `/rule@otherbot`, edits and unknown group commands
    get no reply; the next real command does."""
    api.queue_command("/rule add 朝鲜", chat_id=PRIVATE, entities=False)
    api.queue_command("/rule@other_bot add 朝鲜", chat_id=PRIVATE)
    api.queue_command("/weather", chat_id=GROUP, user_id=ADMIN)
    api.queue_command("see /rule add 朝鲜", chat_id=PRIVATE)
    last = api.queue_command("/help", chat_id=PRIVATE)
    await _replies(api, PRIVATE)
    await asyncio.sleep(0.1)  # nothing else is on its way
    [reply] = api.calls_of("sendMessage")
    assert reply["reply_parameters"]["message_id"] == last["message"]["message_id"]
    assert await chats.rules_of(f"telegram:{PRIVATE}") == []


@pytest.mark.usefixtures("front")
async def test_unknown_command_in_a_private_chat_gets_a_hint(api: BotApiServer) -> None:
    """An unknown command in a private chat is answered with the pointer to /help."""
    api.queue_command("/weather", chat_id=PRIVATE)
    [reply] = await _replies(api, PRIVATE)
    assert _text(reply) == "Unknown command /weather. Send /help for the list of commands."


@pytest.mark.usefixtures("front")
async def test_command_menu_is_registered_in_both_languages(
        api: BotApiServer, interpreter: CommandInterpreter) -> None:
    """setMyCommands got every command in English, and in Chinese for language_code zh."""
    names = ["start", "help", "rule", "rules", "topics", "subscribe", "unsubscribe", "digest",
             "mute", "unmute", "quiet", "tz", "feeds", "status", "lang", "whoami"]
    assert [c["command"] for c in api.menus[""]] == names
    assert [c["command"] for c in api.menus["zh"]] == names
    assert api.menus[""][2]["description"].startswith("Add, list, delete or test a rule")
    assert api.menus["zh"][2]["description"].startswith("添加、查看、删除或测试规则")
    for name, _, _ in COMMAND_MENU:  # every menu entry is a command the interpreter knows
        reply = await interpreter.handle(CommandRequest(chat="telegram:1", user="telegram:1",
                                                        text=f"/{name}", can_manage=True))
        assert not reply.text.startswith("Unknown command"), name


@pytest.mark.usefixtures("front")
async def test_chinese_replies_after_lang_zh(api: BotApiServer) -> None:
    """After `/lang zh`, `/help` in that chat is answered in Chinese."""
    api.queue_command("/lang zh", chat_id=PRIVATE)
    api.queue_command("/help", chat_id=PRIVATE)
    changed, helped = await _replies(api, PRIVATE, 2)
    assert _text(changed) == "本聊天此后将用中文回复。"
    assert _text(helped).startswith("newsbot 监测新闻源")
    assert "/rule add <表达式> — 添加规则" in _text(helped)


@pytest.mark.usefixtures("front")
async def test_reply_rate_limited_by_429_is_sent_once_after_retry_after(
        api: BotApiServer) -> None:
    """A 429 retry_after=1 on the reply is waited out and the reply arrives exactly once."""
    api.fail_next("sendMessage", retry_after=1)
    api.queue_command("/rules", chat_id=PRIVATE)
    await _replies(api, PRIVATE)
    assert api.statuses("sendMessage") == [429, 200]
    assert len(api.messages(PRIVATE)) == 1


@pytest.mark.usefixtures("front")
async def test_long_reply_is_split_at_line_boundaries(api: BotApiServer,
                                                      chats: ChatDirectory) -> None:
    """A `/rules` reply longer than 4,096 characters arrives as several messages, whole lines."""
    expressions = [f"朝鲜 + 派兵 + term{n:03d} " + "x" * 80 for n in range(60)]
    for expression in expressions:
        await chats.add_rule(f"telegram:{PRIVATE}", expression)
    update = api.queue_command("/rules", chat_id=PRIVATE)
    first, second = await _replies(api, PRIVATE, 2)
    assert first["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert "reply_parameters" not in second
    lines = _text(first).split("\n") + _text(second).split("\n")
    assert lines == ["Rules of this chat:"] + [f"#{n + 1}  {e}" for n, e in enumerate(expressions)]


async def test_interpreter_errors_get_a_generic_reply_and_polling_goes_on(
        api: BotApiServer, channel: TelegramChannel, interpreter: CommandInterpreter) -> None:
    """A command that crashes the interpreter is answered with an apology; the next works."""

    class Flaky:
        """The interpreter, except that /status raises."""

        async def handle(self, request: CommandRequest) -> CommandReply:
            if request.text.startswith("/status"):
                raise RuntimeError("boom")
            return await interpreter.handle(request)

    async with TelegramFrontEnd(channel, Flaky()):  # type: ignore[arg-type]
        api.queue_command("/status", chat_id=PRIVATE)
        api.queue_command("/rules", chat_id=PRIVATE)
        failed, listed = await _replies(api, PRIVATE, 2)
    assert _text(failed).startswith("Sorry, something went wrong with that command")
    assert _text(listed).startswith("This chat has no rules yet")


async def test_polling_stops_cleanly_on_exit(api: BotApiServer, channel: TelegramChannel,
                                            interpreter: CommandInterpreter) -> None:
    """Leaving the front end stops getUpdates; the channel still sends afterwards."""
    async with TelegramFrontEnd(channel, interpreter, poll_timeout=5.0) as front:
        assert "polling" in repr(front) and TOKEN not in repr(front)
        assert front.routes() == []
        api.queue_command("/help", chat_id=PRIVATE)
        await _replies(api, PRIVATE)
    polls = len(api.statuses("getUpdates"))
    await asyncio.sleep(0.1)
    assert len(api.statuses("getUpdates")) == polls
    assert await channel.bot.send_message(PRIVATE, "still here")


async def test_a_start_failure_is_a_channel_error(api: BotApiServer, channel: TelegramChannel,
                                                  interpreter: CommandInterpreter) -> None:
    """A webhook Telegram refuses fails the start with ChannelError, the token hidden."""
    api.fail_next("setWebhook", code=400, description=f"Bad Request: bad webhook {TOKEN}")
    with pytest.raises(ChannelError) as caught:
        async with TelegramFrontEnd(channel, interpreter, webhook_url="https://example.org/hook"):
            pass  # pragma: no cover - entering fails
    assert "unable to start the command front end" in str(caught.value)
    chain = [caught.value, caught.value.__cause__, caught.value.__context__]
    assert all(TOKEN.lower() not in repr(e).lower() for e in chain)


# --- webhook mode ---------------------------------------------------------------------------


_Post = Callable[[dict[str, Any], str | None], Awaitable[int]]


@pytest.fixture
async def webhook(api: BotApiServer, channel: TelegramChannel, interpreter: CommandInterpreter
                  ) -> AsyncIterator[tuple[TelegramFrontEnd, _Post]]:
    """The front end in webhook mode behind an aiohttp server on loopback, and a poster."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/hook"
    front = TelegramFrontEnd(channel, interpreter, webhook_url=url, webhook_secret="s3cret-Token")
    app = web.Application()
    app.add_routes(front.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()

    async def post(update: dict[str, Any], secret: str | None) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with aiohttp.ClientSession() as session, session.post(
                url, json=update, headers=headers) as response:
            return response.status

    try:
        async with front:
            yield front, post
    finally:
        await runner.cleanup()


async def test_webhook_mode_sets_the_webhook_with_its_secret(
        api: BotApiServer, webhook: tuple[TelegramFrontEnd, _Post]) -> None:
    """In webhook mode setWebhook gets the URL and secret_token, and nothing polls."""
    front, _ = webhook
    assert api.webhook is not None
    assert api.webhook["secret_token"] == "s3cret-Token"
    assert api.webhook["url"].endswith("/telegram/hook") and front.webhook_path == "/telegram/hook"
    assert set(api.webhook["allowed_updates"]) == {"message", "channel_post", "my_chat_member",
                                                 "callback_query"}
    assert api.statuses("getUpdates") == []
    assert api.menus[""]  # the menu is registered in this mode too


async def test_webhook_with_a_wrong_secret_gets_401_and_changes_nothing(
        api: BotApiServer, webhook: tuple[TelegramFrontEnd, _Post], chats: ChatDirectory) -> None:
    """A POST without the secret or with a wrong one is refused with 401; no command runs."""
    _, post = webhook
    update = api.command_update("/rule add 朝鲜 + 派兵", chat_id=PRIVATE)
    assert await post(update, None) == 401
    assert await post(update, "s3cret-Tokem") == 401
    await asyncio.sleep(0.1)
    assert api.calls_of("sendMessage") == []
    assert await chats.rules_of(f"telegram:{PRIVATE}") == []


async def test_webhook_with_the_right_secret_runs_the_command(
        api: BotApiServer, webhook: tuple[TelegramFrontEnd, _Post], chats: ChatDirectory) -> None:
    """A POST with the secret token runs the command and the reply is sent."""
    _, post = webhook
    assert await post(api.command_update("/rule add 朝鲜 + 派兵", chat_id=PRIVATE),
                      "s3cret-Token") == 200
    [reply] = await _replies(api, PRIVATE)
    assert _text(reply).startswith("Rule #1 added")
    assert len(await chats.rules_of(f"telegram:{PRIVATE}")) == 1
    assert await post({"not": "an update"}, "s3cret-Token") == 400


async def test_webhook_secret_defaults_to_one_derived_from_the_token(
        api: BotApiServer, channel: TelegramChannel, interpreter: CommandInterpreter) -> None:
    """Without TELEGRAM_WEBHOOK_SECRET the secret is derived from the token, never the token."""
    async with TelegramFrontEnd(channel, interpreter, webhook_url="https://bot.example.org/tg"):
        pass
    assert api.webhook is not None
    secret = api.webhook["secret_token"]
    assert secret == webhook_secret_for(TOKEN) and TOKEN not in secret
    assert webhook_secret_for("other:token") != secret


# --- rendering ------------------------------------------------------------------------------


def test_render_reply_splits_within_the_limit_at_line_boundaries() -> None:
    """Long replies split between lines; each part stays within 4,096 UTF-16 units."""
    lines = tuple(f"line {n} 😀 <&>" for n in range(800))
    parts = render_reply(CommandReply("\n".join(lines), lines))
    assert len(parts) > 1
    assert all(utf16_len(p) <= MESSAGE_LIMIT for p in parts)
    assert [line for p in parts for line in parse_html(p)[0].split("\n")] == list(lines)


def test_render_reply_cuts_a_line_longer_than_a_message() -> None:
    """A single 10,000-character line is cut into messages that each fit."""
    line = "&" * 10_000
    parts = render_reply(CommandReply(line, (line,)))
    assert all(utf16_len(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(parse_html(p)[0] for p in parts) == line


def test_render_reply_uses_pre_only_for_rule_errors() -> None:
    """Only a refusal with a caret line gets a <pre> block; other replies are plain."""
    error = CommandReply("Invalid rule\n  (x\n  ^", ("Invalid rule", "  (x", "  ^"), ok=False)
    assert render_reply(error) == ["Invalid rule\n<pre>  (x\n  ^</pre>"]
    usage = CommandReply("Usage: /mute <duration>", ("Usage: /mute <duration>",), ok=False)
    assert render_reply(usage) == ["Usage: /mute &lt;duration&gt;"]


async def test_replies_and_alerts_share_one_flood_control(api: BotApiServer,
                                                          interpreter: CommandInterpreter) -> None:
    """Command replies pass the channel's FloodControl, as alerts do; lookups do not."""

    class Recording(FloodControl):
        """Flood control that notes every chat it spaces."""

        def __init__(self) -> None:
            super().__init__(FloodLimits(chat_interval=0.0))
            self.chats: list[int | str] = []

        async def wait(self, chat_id: int | str) -> None:
            self.chats.append(chat_id)
            await super().wait(chat_id)

    flood = Recording()
    async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as channel:
        async with TelegramFrontEnd(channel, interpreter):
            api.queue_command("/rules", chat_id=GROUP, user_id=MEMBER)
            await _replies(api, GROUP)
        await channel.bot.send_message(PRIVATE, "an alert")
    assert flood.chats == [GROUP, PRIVATE]
    assert len(api.calls_of("getChatMember")) == 1


@pytest.mark.parametrize(("url", "secret", "problem"), [
    ("ftp://bot.example.org/tg", None, r"not an http\(s\) URL"),
    ("https://bot.example.org/tg", "has spaces", "webhook secret must be"),
    ("https://bot.example.org/tg", "x" * 257, "webhook secret must be"),
])
def test_bad_webhook_settings_are_config_errors(channel: TelegramChannel,
                                                interpreter: CommandInterpreter, url: str,
                                                secret: str | None, problem: str) -> None:
    """A webhook URL that is not http(s), or a secret Telegram would refuse, fails at once."""
    with pytest.raises(ConfigError, match=problem):
        TelegramFrontEnd(channel, interpreter, webhook_url=url, webhook_secret=secret)
