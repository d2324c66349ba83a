"""The buttons under Telegram alerts, end to end: the seeds through the real pipeline, outbox and
Deliverer, the real python-telegram-bot over loopback HTTP to the Bot API server, the real
command front end answering the presses (callback queries) with bot/actions.py."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot import i18n
from bot.actions import action_data
from bot.alerts import AlertComposer
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter
from bot.dedup.index import StoryIndex
from bot.feeds.seeds import read_seed_folder
from bot.models import Article
from bot.outbox import Deliverer, Outbox
from bot.pipeline import Outcome, Pipeline
from bot.platforms.telegram import (
    NOTICE_LIMIT,
    SECRET_HEADER,
    FloodControl,
    FloodLimits,
    TelegramChannel,
    TelegramFrontEnd,
    notice_text,
)
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.telegram_server import BotApiServer, parse_html

WINDOW = 72 * 3600
TOPIC = "dprk-troops"
PRIVATE, CHINESE, GROUP, CHANNEL = 42, 43, -100555, -1001234
ADMIN, MEMBER = 7, 8
BIG_STORY = "韩国指朝鲜派兵增援俄侵乌战争 北约回应"  # seeds 001 (DW), then 002 (VOA) and 003 join
WAIT = 20.0  # seconds any one wait may take before the test fails


@dataclass
class World:
    """The bot wired as bot/app.py and bot/scheduler.py wire it, over the loopback Bot API."""

    api: BotApiServer
    store: Store
    chats: ChatDirectory
    pipeline: Pipeline
    deliverer: Deliverer
    seeds: dict[str, Article]

    async def report(self, *seeds: str) -> str:
        """Run the seed files `seeds` (by number, "001") through the pipeline and deliver what
        they queue; the id of the big story."""
        outcomes = await self.pipeline.process_many([self.seeds[n] for n in seeds])
        await self.deliverer.drain()
        return _big_story(outcomes)

    async def answer(self, update: dict[str, Any]) -> dict[str, Any]:
        """The answer to a press, waited for."""
        async with asyncio.timeout(WAIT):
            answer = await self.api.wait_for_answer(update)
        return answer

    async def sent(self, chat_id: int, count: int) -> list[dict[str, Any]]:
        """Wait until the bot sent `count` messages to `chat_id`; their parameters."""
        async with asyncio.timeout(WAIT):
            return await self.api.wait_for_calls("sendMessage", count, chat_id=chat_id)

    async def command(self, chat_id: int, text: str) -> None:
        """A user's command in a private chat, answered."""
        before = len([p for p in self.api.calls_of("sendMessage") if p["chat_id"] == chat_id])
        self.api.queue_command(text, chat_id=chat_id, user_id=chat_id)
        await self.sent(chat_id, before + 1)


def _big_story(outcomes: list[Outcome]) -> str:
    ids = {o.assignment.story.id for o in outcomes
           if o.assignment and o.assignment.story.headline == BIG_STORY}
    assert len(ids) == 1, ids
    return ids.pop()


@contextlib.asynccontextmanager
async def _wired(store: Store, *, hook: socket.socket | None = None, **front_options: Any
                 ) -> AsyncIterator[tuple[World, TelegramFrontEnd]]:
    """PRIVATE, CHINESE, GROUP and CHANNEL follow dprk-troops; the front end is started with
    `front_options` (long polling by default; with `hook`, a bound socket, its webhook route is
    served there)."""
    async with BotApiServer() as api:
        api.add_chat(GROUP, chat_type="supergroup", title="Analysts", admins=(ADMIN,), owner=1)
        api.add_chat(CHANNEL, chat_type="channel", title="Wire", admins=(ADMIN,))
        flood = FloodControl(FloodLimits(chat_interval=0.01, group_rate=0))
        async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as channel:
            chats = ChatDirectory(store)
            rules = RuleBook(load_topics(REPO / "rules"), chats)
            archive = Archive(store, ttl=WINDOW + 86_400)
            outbox = Outbox(store)
            await outbox.ensure_group()
            pipeline = Pipeline(store, index=StoryIndex(store, window_seconds=WINDOW,
                                                        seen_seconds=WINDOW),
                                rules=rules, outbox=outbox, archive=archive)
            deliverer = Deliverer(store, outbox, {"telegram": channel},
                                  composer=AlertComposer(chats=chats, archive=archive),
                                  paces={}, gather=0)
            interpreter = CommandInterpreter(store, chats=chats, rules=rules, archive=archive,
                                             admins=(f"telegram:{ADMIN}",))
            for chat in (PRIVATE, CHINESE, GROUP, CHANNEL):
                await chats.subscribe(f"telegram:{chat}", TOPIC)
            articles, errors = read_seed_folder(SEEDS)
            assert not errors
            seeds = {a.path.rpartition("/")[2][:3]: a for a in articles if a.path}
            front_options.setdefault("poll_timeout", 2.0)
            front = TelegramFrontEnd(channel, interpreter, **front_options)
            served = _webhook_server(front, hook) if hook else contextlib.nullcontext()
            async with served, front:
                yield World(api, store, chats, pipeline, deliverer, seeds), front


@contextlib.asynccontextmanager
async def _webhook_server(front: TelegramFrontEnd, sock: socket.socket
                          ) -> AsyncIterator[None]:
    """The front end's webhook route served on `sock`."""
    app = web.Application()
    app.add_routes(front.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield
    finally:
        await runner.cleanup()


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    """The bot with its front end long-polling the test server."""
    async with _wired(store) as (made, _):
        yield made


def _keyboard(story_id: str, lang: str = "en") -> dict[str, Any]:
    return {"inline_keyboard": [[
        {"text": i18n.text(lang, f"button.{action}"),
         "callback_data": action_data(action, story_id)} for action in ("mute", "why", "more")]]}


def _alert_id(api: BotApiServer, chat_id: int) -> int:
    """The message id of the one alert the bot posted in `chat_id`."""
    [alert] = [m for m in api.messages(chat_id) if "reply_markup" in m]
    return int(alert["message_id"])


# --- the keyboard ---------------------------------------------------------------------------


async def test_alerts_carry_three_localized_buttons_and_an_edit_keeps_them(
        world: World) -> None:
    """A new alert has one row (Mute updates / Why / Outlets) whose callback_data names the
    story, labelled in the chat's /lang; when another outlet joins, editMessageText sends the
    same keyboard again (Telegram would drop it otherwise); combined lists carry none."""
    api = world.api
    await world.command(CHINESE, "/lang zh")
    big = await world.report("001")
    assert i18n.text("zh", "button.mute") != i18n.text("en", "button.mute")
    for chat_id, lang in ((PRIVATE, "en"), (CHINESE, "zh"), (GROUP, "en")):
        [alert] = [p for p in api.calls_of("sendMessage")
                   if p["chat_id"] == chat_id and "reply_markup" in p]
        assert alert["reply_markup"] == _keyboard(big, lang)
        assert BIG_STORY in parse_html(alert["text"])[0]
        [shown] = [m for m in api.messages(chat_id) if "reply_markup" in m]
        assert shown["reply_markup"] == _keyboard(big, lang)
    assert all(len(b["callback_data"].encode()) <= 64
               for b in _keyboard(big)["inline_keyboard"][0])

    assert await world.report("002") == big
    edits = {p["chat_id"]: p for p in api.calls_of("editMessageText")}
    assert set(edits) == {PRIVATE, CHINESE, GROUP, CHANNEL}
    for chat_id, lang in ((PRIVATE, "en"), (CHINESE, "zh"), (GROUP, "en")):
        assert edits[chat_id]["reply_markup"] == _keyboard(big, lang)
        message = next(m for m in api.messages(chat_id) if m["message_id"] ==
                       edits[chat_id]["message_id"])
        assert "edit_date" in message and message["reply_markup"] == _keyboard(big, lang)


# --- why and outlets ------------------------------------------------------------------------


async def test_why_and_outlets_reply_to_the_alert_and_answer_the_press(world: World) -> None:
    """In a private chat "Why" and "Outlets" are answered without text and their replies are
    sent as escaped HTML messages answering the alert: the rule and the terms it matched, then
    each outlet's report with its link."""
    api = world.api
    big = await world.report("001", "002")
    alert = _alert_id(api, PRIVATE)
    sent_before = len([p for p in api.calls_of("sendMessage") if p["chat_id"] == PRIVATE])

    why = api.press(PRIVATE, alert, action_data("why", big), user_id=PRIVATE)
    answer = await world.answer(why)
    assert answer.get("text") is None and not answer.get("show_alert")
    replies = await world.sent(PRIVATE, sent_before + 1)
    reply = replies[-1]
    assert reply["reply_parameters"]["message_id"] == alert and reply["parse_mode"] == "HTML"
    lines = parse_html(reply["text"])[0].split("\n")
    assert lines[0] == f"Why “{BIG_STORY}” was sent here:"
    assert lines[1].startswith(f"• rule {TOPIC}: 朝鲜 + 派兵 — matched ") and "派兵" in lines[1]

    more = api.press(PRIVATE, alert, action_data("more", big), user_id=PRIVATE)
    answer = await world.answer(more)
    assert answer.get("text") is None
    reply = (await world.sent(PRIVATE, sent_before + 2))[-1]
    lines = parse_html(reply["text"])[0].split("\n")
    assert lines[0] == f"“{BIG_STORY}”: 2 outlets"
    assert lines[1].startswith("• DW, 2024-10-21 11:47 UTC: ") and "https://www.dw.com/" in lines[1]
    assert lines[2].startswith("• VOA, 2024-10-21 13:39 UTC: ")
    answering = [m["reply_to_message"]["message_id"] for m in api.messages(PRIVATE)
                 if "reply_to_message" in m]
    assert answering == [alert, alert]
    assert api.answer_attempts(why) == 1 and api.answer_attempts(more) == 1


# --- mute -----------------------------------------------------------------------------------


async def test_mute_in_a_group_needs_an_administrator_and_stops_the_updates(
        world: World) -> None:
    """A member's Mute is refused (the refusal is the answer's text); an administrator's is
    accepted; then a report joining the story edits the alert in the other chats but not in
    the group."""
    api = world.api
    big = await world.report("001")
    alert = _alert_id(api, GROUP)
    chat = f"telegram:{GROUP}"

    refused = api.press(GROUP, alert, action_data("mute", big), user_id=MEMBER)
    answer = await world.answer(refused)
    assert answer["text"] == i18n.text("en", "refused.manage") and not answer.get("show_alert")
    assert await world.chats.muted_stories(chat, [big]) == set()

    accepted = api.press(GROUP, alert, action_data("mute", big), user_id=ADMIN)
    answer = await world.answer(accepted)
    assert answer["text"] == f"No more updates of “{BIG_STORY}” in this chat."
    assert await world.chats.muted_stories(chat, [big]) == {big}
    assert api.answer_attempts(refused) == 1 and api.answer_attempts(accepted) == 1

    assert await world.report("002", "003") == big
    edited = {p["chat_id"] for p in api.calls_of("editMessageText")}
    assert PRIVATE in edited and CHINESE in edited
    assert GROUP not in edited
    assert len(api.messages(GROUP)) == 1  # no fresh alert either: only the first one


async def test_mute_is_for_anyone_in_a_private_chat_and_for_admins_in_a_channel(
        world: World) -> None:
    """In a private chat the user may mute (a second press says it already is); in a channel,
    where any subscriber can press, only an administrator may."""
    api = world.api
    big = await world.report("001")
    private = _alert_id(api, PRIVATE)
    first = api.press(PRIVATE, private, action_data("mute", big), user_id=PRIVATE)
    assert (await world.answer(first))["text"] == f"No more updates of “{BIG_STORY}” in this chat."
    again = api.press(PRIVATE, private, action_data("mute", big), user_id=PRIVATE)
    assert (await world.answer(again))["text"] == (
        f"Updates of “{BIG_STORY}” were already muted in this chat.")

    channel = _alert_id(api, CHANNEL)
    reader = api.press(CHANNEL, channel, action_data("mute", big), user_id=MEMBER)
    assert (await world.answer(reader))["text"] == i18n.text("en", "refused.manage")
    editor = api.press(CHANNEL, channel, action_data("mute", big), user_id=ADMIN)
    assert (await world.answer(editor))["text"].startswith("No more updates of ")
    assert await world.chats.muted_stories(f"telegram:{CHANNEL}", [big]) == {big}
    assert [api.answer_attempts(u) for u in (first, again, reader, editor)] == [1, 1, 1, 1]


# --- stories that aged out, foreign buttons ---------------------------------------------------


async def test_a_press_on_a_story_that_aged_out_is_refused_politely(world: World) -> None:
    """The story is gone from the store: the press is answered with the polite refusal and
    nothing is posted; a press with data that is not ours is answered too; once each."""
    api = world.api
    big = await world.report("001")
    alert = _alert_id(api, PRIVATE)
    await world.store.redis.delete(world.store.keys.story(big))
    messages = len(api.messages(PRIVATE))

    gone = api.press(PRIVATE, alert, action_data("why", big), user_id=PRIVATE)
    assert (await world.answer(gone))["text"] == i18n.text("en", "action.gone")
    unknown_id = api.press(PRIVATE, alert, action_data("more", "20200101-000000000000"),
                           user_id=PRIVATE)
    assert (await world.answer(unknown_id))["text"] == i18n.text("en", "action.gone")
    foreign = api.press(PRIVATE, alert, "game:42", user_id=PRIVATE)
    assert (await world.answer(foreign))["text"] == i18n.text("en", "action.unknown")
    await world.command(PRIVATE, "/rules")  # every press before it was handled
    assert len(api.messages(PRIVATE)) == messages + 1  # only the /rules reply
    assert [api.answer_attempts(u) for u in (gone, unknown_id, foreign)] == [1, 1, 1]


async def test_presses_arrive_only_because_callback_query_is_an_allowed_update(
        world: World) -> None:
    """getUpdates asks for callback_query (the server drops kinds not asked for)."""
    await world.report("001")
    await world.command(PRIVATE, "/rules")
    assert "callback_query" in world.api.calls_of("getUpdates")[-1]["allowed_updates"]


async def test_a_press_through_the_webhook_is_answered_once(store: Store) -> None:
    """In webhook mode setWebhook asks for callback_query, and a press POSTed with the secret
    is handled like one from getUpdates: "Outlets" answered without text, the reply posted."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/hook"
    async with _wired(store, hook=sock, webhook_url=url, webhook_secret="s3cret-Token"
                      ) as (world, _):
        api = world.api
        assert api.webhook is not None
        assert "callback_query" in api.webhook["allowed_updates"]
        big = await world.report("001")
        alert = _alert_id(api, PRIVATE)
        sent = len(await world.sent(PRIVATE, 1))
        update = api.button_update(PRIVATE, alert, action_data("more", big), user_id=PRIVATE)
        async with aiohttp.ClientSession() as session, session.post(
                url, json=update, headers={SECRET_HEADER: "s3cret-Token"}) as response:
            assert response.status == 200
        assert (await world.answer(update)).get("text") is None
        reply = (await world.sent(PRIVATE, sent + 1))[-1]
        assert parse_html(reply["text"])[0].startswith(f"“{BIG_STORY}”: 1 outlet\n• DW, ")
        assert api.answer_attempts(update) == 1


def test_a_long_notice_is_cut_to_telegrams_200_characters() -> None:
    """answerCallbackQuery takes at most 200 characters: a notice naming a long headline is cut
    with an ellipsis; a short one is left alone."""
    long = i18n.text("en", "action.muted", headline="朝鲜派兵 " * 60)
    cut = notice_text(long)
    assert len(cut.encode("utf-16-le")) // 2 <= NOTICE_LIMIT and cut.endswith("…")
    assert long.startswith(cut[:-1])
    assert notice_text("Short.") == "Short."


async def test_the_running_service_answers_a_press_under_its_alert(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """Wired as `newsbot run` wires it (App, then the service's front end): the alerts of
    `run_once` carry the buttons, and "Why" pressed under one is answered by the service."""
    from bot.app import App
    from bot.config import Settings
    from bot.scheduler import serve

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {SEEDS}\n")
    async with BotApiServer() as api:
        settings = Settings.model_validate({
            "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix, "NEWSBOT_FEEDS": feeds,
            "NEWSBOT_RULES_DIR": REPO / "rules", "NEWSBOT_DATA_DIR": tmp_path / "data",
            "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root,
            "NEWSBOT_HTTP_PORT": 0, "NEWSBOT_METRICS_PORT": 0})
        async with App(settings) as app:
            await app.chats.subscribe(f"telegram:{PRIVATE}", TOPIC)
            assert await app.run_once() == 2
            alert = next(m for m in api.messages(PRIVATE) if BIG_STORY in m["text"])
            [[mute, why, more]] = alert["reply_markup"]["inline_keyboard"]
            assert [mute["text"], why["text"], more["text"]] == [
                i18n.text("en", f"button.{a}") for a in ("mute", "why", "more")]
            stop = asyncio.Event()
            task = asyncio.create_task(serve(app, stop=stop))
            try:
                update = api.press(PRIVATE, alert["message_id"], why["callback_data"],
                                   user_id=PRIVATE)
                async with asyncio.timeout(60):
                    answer = await api.wait_for_answer(update)
                    reply = (await api.wait_for_calls("sendMessage", 3, chat_id=PRIVATE))[-1]
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)
        assert answer.get("text") is None and api.answer_attempts(update) == 1
        assert parse_html(reply["text"])[0].startswith(f"Why “{BIG_STORY}” was sent here:\n• ")
        assert reply["reply_parameters"]["message_id"] == alert["message_id"]
