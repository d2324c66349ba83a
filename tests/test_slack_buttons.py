"""The buttons under Slack alerts (issue 15, "Alerts people can act on"): the real slack_sdk
client posts alerts to the loopback Web API through the real outbox, and presses come back as
signed `block_actions` requests to the real bolt app behind the bot's HTTP server (or over
Socket Mode); the answers land on the press's response_url.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import i18n
from bot.actions import action_data
from bot.alerts import AlertComposer
from bot.app import App
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter
from bot.config import Settings
from bot.digest import Digests
from bot.http import HttpServer, build_http_app
from bot.models import Delivery, Story, StoryArticle
from bot.outbox import Deliverer, Outbox
from bot.pacing import Pacer
from bot.platforms.slack import (
    ACTION_IDS,
    BUTTON_TEXT_LIMIT,
    EVENTS_PATH,
    MAX_BLOCKS,
    SlackChannel,
    SlackFrontEnd,
)
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store
from tests.conftest import REPO
from tests.slack_server import SignedRequest, SlackServer
from tests.stories import put_matched

TOKEN = "xoxb-1234-5678-SECRETtokenVALUE"
NOW = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=1)
TOPIC = "dprk-troops"
RULE = f"topic:{TOPIC}"
NEWS, OTHER = "C777", "C123"
HEADLINE = "朝鲜向俄罗斯派兵 韩国召见大使"


def _story(*outlets: str, story_id: str = "s1") -> Story:
    articles = tuple(StoryArticle(outlet=o, title=f"{HEADLINE} ({o})",
                                  url=f"https://www.{o.lower()}.com/{story_id}",
                                  time=T0 + timedelta(minutes=k))
                     for k, o in enumerate(outlets or ("DW",)))
    return Story(id=story_id, headline=HEADLINE, first_seen=T0, updated=T0,
                 version=len(articles), articles=articles)


@dataclass
class Bot:
    """Delivery and the Slack front end wired as bot/app.py and bot/scheduler.py wire them
    when SLACK_SIGNING_SECRET is set, over the loopback Slack server."""

    slack: SlackServer
    store: Store
    chats: ChatDirectory
    outbox: Outbox
    deliverer: Deliverer
    front: SlackFrontEnd
    http: HttpServer

    async def alert(self, channel: str, story: Story) -> None:
        """The story stored as the pipeline stores it (matched by the topic) and queued."""
        await put_matched(self.store, story, RULE, ["朝鲜", "派兵"])
        await self.outbox.put(Delivery(chat=f"slack:{channel}", story_id=story.id,
                                       rule_ids=(RULE,)))

    def updates_to(self, channel: str) -> int:
        return sum(c.params.get("channel") == channel for c in self.slack.calls_to("chat.update"))

    async def send(self, request: SignedRequest) -> int:
        """POST a request to /slack/events as Slack would; the HTTP status."""
        async with aiohttp.ClientSession() as session, session.post(
                self.http.url + EVENTS_PATH, data=request.body.encode(),
                headers=request.headers) as response:
            return response.status

    async def press(self, channel: str, action: str, **kwargs: Any) -> dict[str, Any]:
        """Press `action` under the channel's last message; the one answer posted to the
        press's response_url."""
        ts = self.slack.messages[channel][-1]["ts"]
        request = self.slack.press(channel, ts, ACTION_IDS[action], **kwargs)
        assert await self.send(request) == 200
        await self.front.drain()
        (answer,) = self.slack.responses[request.response_id]
        return dict(answer)


@pytest.fixture
async def bot(store: Store) -> AsyncIterator[Bot]:
    async with SlackServer(token=TOKEN, channels=(OTHER, NEWS)) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url, buttons=True) as channel:
        chats = ChatDirectory(store)
        archive = Archive(store, ttl=4 * 86_400)
        composer = AlertComposer(chats=chats, archive=archive)
        rules = RuleBook(load_topics(REPO / "rules"), chats)
        outbox = Outbox(store)
        await outbox.ensure_group()
        deliverer = Deliverer(store, outbox, {"slack": channel}, composer=composer, paces={},
                              gather=0, clock=lambda: NOW)
        digests = Digests(store, chats=chats, rules=rules, archive=archive, composer=composer,
                          pacer=Pacer(store, {}), clock=lambda: NOW)
        interpreter = CommandInterpreter(store, chats=chats, rules=rules, archive=archive,
                                         digests=digests, clock=lambda: NOW)
        for chat in (NEWS, OTHER):
            await chats.subscribe(f"slack:{chat}", TOPIC)
        front = SlackFrontEnd(channel, interpreter, signing_secret=slack.signing_secret)
        async with front, HttpServer(0, build_http_app(front.routes()),
                                     host="127.0.0.1") as http:
            yield Bot(slack, store, chats, outbox, deliverer, front, http)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    return list(actions["elements"])


async def test_an_alert_carries_three_buttons_with_their_values_in_the_chats_language(
        bot: Bot) -> None:
    """A new alert ends with an actions block: mute, why, outlets, each with its action_id
    and `nb:<action>:<story>` value; labels follow the channel's /lang; within Block Kit."""
    await bot.chats.set_language(f"slack:{NEWS}", "zh")
    await bot.alert(NEWS, _story("DW"))
    await bot.alert(OTHER, _story("DW"))
    assert await bot.deliverer.drain() == 2
    (zh,), (en,) = bot.slack.messages[NEWS], bot.slack.messages[OTHER]
    for message, lang in ((zh, "zh"), (en, "en")):
        assert message["blocks"][-1]["type"] == "actions" and len(message["blocks"]) <= MAX_BLOCKS
        buttons = _buttons(message)
        assert [b["action_id"] for b in buttons] == ["nb_mute", "nb_why", "nb_more"]
        assert [b["value"] for b in buttons] == [action_data(a, "s1")
                                                 for a in ("mute", "why", "more")]
        assert [b["text"]["text"] for b in buttons] == [
            i18n.text(lang, f"button.{a}") for a in ("mute", "why", "more")]
        assert all(b["type"] == "button" and b["text"]["type"] == "plain_text"
                   and len(b["text"]["text"]) <= BUTTON_TEXT_LIMIT for b in buttons)
    assert _buttons(zh)[1]["text"]["text"] == "❓ 为何提醒"


async def test_an_edit_keeps_the_buttons(bot: Bot) -> None:
    """The story grows: chat.update replaces the blocks and the buttons are still there."""
    await bot.alert(NEWS, _story("DW"))
    await bot.deliverer.drain()
    await bot.alert(NEWS, _story("DW", "VOA"))
    assert await bot.deliverer.drain() == 1
    (update,) = bot.slack.calls_to("chat.update")
    assert update.params["blocks"][-1]["type"] == "actions"
    (message,) = bot.slack.messages[NEWS]
    assert "edited" in message and "2 outlets" in json.dumps(message["blocks"])
    assert [b["value"] for b in _buttons(message)] == [action_data(a, "s1")
                                                       for a in ("mute", "why", "more")]


async def test_why_and_outlets_answer_the_presser_alone(bot: Bot) -> None:
    """"Why" names the channel's topic and the matched terms; "Outlets" lists each report
    with its link; both are ephemeral and leave the alert as it was."""
    await bot.alert(NEWS, _story("DW", "VOA"))
    await bot.deliverer.drain()
    posted = json.dumps(bot.slack.messages[NEWS])

    why = await bot.press(NEWS, "why")
    assert why["response_type"] == "ephemeral" and why["replace_original"] is False
    lines = why["text"].split("\n")
    assert lines[0] == f"Why “{HEADLINE}” was sent here:"
    assert lines[1].startswith(f"• rule {TOPIC}: ") and lines[1].endswith("matched 朝鲜, 派兵")

    more = await bot.press(NEWS, "more")
    assert more["response_type"] == "ephemeral" and more["replace_original"] is False
    lines = more["text"].split("\n")
    assert lines[0] == f"“{HEADLINE}”: 2 outlets"
    assert lines[1].startswith("• DW, 2024-10-21 08:00 UTC: ") and lines[1].endswith(
        "https://www.dw.com/s1")
    assert lines[2].startswith("• VOA, 2024-10-21 08:01 UTC: ")
    assert json.dumps(bot.slack.messages[NEWS]) == posted  # the alert untouched
    assert len(bot.slack.calls_to("chat.postMessage")) == 1  # nothing in the channel


async def test_mute_stops_the_updates_of_that_story_in_that_channel_only(bot: Bot) -> None:
    """Mute is answered with a notice to the presser; a new report joining the story then
    updates the alert in the other channel but makes no chat.update in the muted one."""
    await bot.alert(NEWS, _story("DW"))
    await bot.alert(OTHER, _story("DW"))
    await bot.deliverer.drain()

    muted = await bot.press(NEWS, "mute")
    assert muted["response_type"] == "ephemeral" and muted["replace_original"] is False
    assert muted["text"] == f"No more updates of “{HEADLINE}” in this chat."
    again = await bot.press(NEWS, "mute")
    assert again["text"] == f"Updates of “{HEADLINE}” were already muted in this chat."

    await bot.alert(NEWS, _story("DW", "VOA"))
    await bot.alert(OTHER, _story("DW", "VOA"))
    await bot.deliverer.drain()
    assert bot.updates_to(NEWS) == 0 and bot.updates_to(OTHER) == 1
    assert await bot.outbox.depth() == 0
    assert "1 outlet" in json.dumps(bot.slack.messages[NEWS][0]["blocks"])

    await bot.alert(NEWS, _story("DW", story_id="s2"))  # another story still comes
    assert await bot.deliverer.drain() == 1 and len(bot.slack.messages[NEWS]) == 2


async def test_a_press_on_an_alert_whose_story_aged_out_is_answered_politely(bot: Bot) -> None:
    """The story left the store: each button says so, ephemerally; nothing is muted."""
    await bot.alert(NEWS, _story("DW"))
    await bot.deliverer.drain()
    await bot.store.redis.delete(bot.store.keys.story("s1"), bot.store.keys.story_matched("s1"))
    for action in ("why", "more", "mute"):
        answer = await bot.press(NEWS, action)
        assert answer["text"] == i18n.text("en", "action.gone")
        assert answer["response_type"] == "ephemeral"
    assert await bot.chats.muted_stories(f"slack:{NEWS}", ["s1"]) == set()


async def test_a_button_of_someone_elses_is_not_ours(bot: Bot) -> None:
    """A press whose value is not `nb:...` (another app's, or tampered with) is refused."""
    await bot.alert(NEWS, _story("DW"))
    await bot.deliverer.drain()
    answer = await bot.press(NEWS, "mute", value="nb:drop:s1")
    assert answer["text"] == i18n.text("en", "action.unknown")
    assert await bot.chats.muted_stories(f"slack:{NEWS}", ["s1"]) == set()


@pytest.mark.parametrize("forgery", ["wrong secret", "stale", "unsigned"])
async def test_a_forged_press_gets_401_and_does_nothing(bot: Bot, forgery: str) -> None:
    """A block_actions request without Slack's good, fresh signature is refused with 401:
    nothing muted, nothing posted to its response_url."""
    await bot.alert(NEWS, _story("DW"))
    await bot.deliverer.drain()
    ts = bot.slack.messages[NEWS][-1]["ts"]
    request = bot.slack.press(NEWS, ts, ACTION_IDS["mute"],
                              secret="wrong" if forgery == "wrong secret" else None,
                              timestamp=1_000_000_000 if forgery == "stale" else None)
    if forgery == "unsigned":
        request = SignedRequest(body=request.body, headers={
            "Content-Type": request.headers["Content-Type"]},
            response_url=request.response_url, response_id=request.response_id)
    assert await bot.send(request) == 401
    await bot.front.drain()
    assert await bot.chats.muted_stories(f"slack:{NEWS}", ["s1"]) == set()
    assert bot.slack.response_posts[request.response_id] == 0


async def test_a_press_over_socket_mode_is_acknowledged_and_answered(
        bot: Bot, store: Store) -> None:
    """With an app token the press arrives as an `interactive` envelope: acknowledged, then
    answered on its response_url like over HTTP."""
    await bot.alert(NEWS, _story("DW"))
    await bot.deliverer.drain()
    async with SlackFrontEnd(bot.front.channel, bot.front.commands,
                             app_token=bot.slack.app_token) as socket:
        ts = bot.slack.messages[NEWS][-1]["ts"]
        envelope = await bot.slack.socket_press(NEWS, ts, ACTION_IDS["mute"])
        assert (await bot.slack.socket_ack(envelope))["envelope_id"] == envelope
        await socket.drain()
    (answer,) = bot.slack.responses[envelope]
    assert answer["text"] == f"No more updates of “{HEADLINE}” in this chat."
    assert answer["response_type"] == "ephemeral"
    assert await store.redis.exists(store.keys("chat", f"slack:{NEWS}", "story_muted", "s1"))


@pytest.mark.parametrize("secret", [True, False])
async def test_the_app_puts_buttons_under_alerts_when_presses_are_answered(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store, secret: bool) -> None:
    """bot/app.py: with SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) the bot answers presses, so
    its alerts carry the buttons; with the bot token alone they do not."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {REPO / 'seeds'}\n")
    async with SlackServer(channels=("C0123",)) as api:
        values: dict[str, Any] = {
            "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix, "NEWSBOT_FEEDS": feeds,
            "NEWSBOT_RULES_DIR": REPO / "rules", "NEWSBOT_DATA_DIR": tmp_path / "data",
            "SLACK_BOT_TOKEN": api.token, "SLACK_API_URL": api.api_url}
        if secret:
            values["SLACK_SIGNING_SECRET"] = "s3cret"
        settings = Settings(**values)
        async with App(settings) as app:
            await app.chats.subscribe("slack:C0123", TOPIC)
            assert await app.run_once() == 2
        posts = api.calls_to("chat.postMessage")
        assert len(posts) == 2
        assert all((p.params["blocks"][-1]["type"] == "actions") is secret for p in posts)
