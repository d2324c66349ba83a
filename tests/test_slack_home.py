"""Slack App Home (issue 15): a user opening the app's Home tab gets a view, published with the
real slack_sdk client to the loopback Web API, listing the channels they are in that newsbot
alerts, with each channel's rules, topics, digest, mute and pause. The `app_home_opened`
event reaches the real bolt app behind the bot's HTTP server, signed as Slack signs it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter
from bot.http import HttpServer, build_http_app
from bot.platforms.slack import (
    EVENTS_PATH,
    HOME_MAX_BLOCKS,
    SECTION_LIMIT,
    SlackChannel,
    SlackFrontEnd,
    render_home,
)
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store
from tests.conftest import REPO
from tests.slack_server import SignedRequest, SlackServer

TOKEN = "xoxb-1234-5678-SECRETtokenVALUE"
NOW = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)
USER = "U123"
NEWS, DESK, SECRET, QUIET = "C777", "C123", "C999", "C555"


@dataclass
class Home:
    slack: SlackServer
    chats: ChatDirectory
    front: SlackFrontEnd
    http: HttpServer

    async def send(self, request: SignedRequest) -> int:
        async with aiohttp.ClientSession() as session, session.post(
                self.http.url + EVENTS_PATH, data=request.body.encode(),
                headers=request.headers) as response:
            return response.status

    async def open(self, user: str = USER, *, tab: str = "home") -> dict[str, Any] | None:
        """The user opens the app's tab `tab`: the view published for them, if any."""
        event = self.slack.event_request(self.slack.app_home_opened_event(user, tab=tab))
        assert await self.send(event) == 200
        await self.front.drain()
        return self.slack.home_views.get(user)


def sections(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


@pytest.fixture
async def home(store: Store) -> AsyncIterator[Home]:
    """NEWS: a rule, a topic and a digest; DESK: a topic, muted and paused; SECRET: rules, but
    the user is not a member; QUIET: the user is a member, newsbot knows nothing of it; a
    Telegram chat with rules."""
    channels = (DESK, NEWS, SECRET, QUIET)
    async with SlackServer(token=TOKEN, channels=channels,
                           members={SECRET: {"U999"}}) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url, buttons=True) as channel:
        chats = ChatDirectory(store)
        rules = RuleBook(load_topics(REPO / "rules"), chats)
        interpreter = CommandInterpreter(store, chats=chats, rules=rules,
                                         archive=Archive(store, ttl=3600), clock=lambda: NOW)
        await chats.add_rule(f"slack:{NEWS}", "北约 + 朝鲜")
        await chats.add_rule(f"slack:{NEWS}", "韩国 + <武器>")
        await chats.subscribe(f"slack:{NEWS}", "dprk-troops")
        await chats.set_digest(f"slack:{NEWS}", at="07:30", timezone="Asia/Shanghai", now=NOW)
        await chats.subscribe(f"slack:{DESK}", "dprk-troops")
        await chats.mute(f"slack:{DESK}", until=NOW + timedelta(hours=2), now=NOW)
        await chats.pause(f"slack:{DESK}", reason="not_in_channel", error="not_in_channel",
                          now=NOW - timedelta(hours=1))
        await chats.add_rule(f"slack:{SECRET}", "秘密 + 计划")
        await chats.add_rule("telegram:-100", "俄罗斯 + 乌克兰")
        front = SlackFrontEnd(channel, interpreter, signing_secret=slack.signing_secret)
        async with front, HttpServer(0, build_http_app(front.routes()),
                                     host="127.0.0.1") as http:
            yield Home(slack, chats, front, http)


async def test_opening_home_lists_the_users_channels_with_their_rules_and_status(
        home: Home) -> None:
    """views.publish for the user: a header, then NEWS and DESK (the channels they are in
    that newsbot alerts), each with rules, topics, digest, mute and pause; not SECRET (the
    user is not in it), QUIET (nothing to show) or the Telegram chat."""
    view = await home.open()
    assert view is not None and view["type"] == "home"
    (call,) = home.slack.calls_to("views.publish")
    assert call.params["user_id"] == USER and call.token == TOKEN
    (users,) = home.slack.calls_to("users.conversations")
    assert users.params["user"] == USER and "private_channel" in users.params["types"]
    assert view["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "newsbot: your channels"}}
    desk, news = sections(view)
    assert news.split("\n") == [
        f"*<#{NEWS}>*",
        "Rules: #1 北约 + 朝鲜; #2 韩国 + &lt;武器&gt;",
        "Topics: dprk-troops",
        "Digest: 07:30 Asia/Shanghai",
        "Mute: off"]
    assert desk.split("\n") == [
        f"*<#{DESK}>*",
        "Rules: none",
        "Topics: dprk-troops",
        "Digest: off",
        "Mute: until 2024-10-21 11:00 UTC",
        "Paused: the app is not in the channel, since 2024-10-21 08:00 UTC"]
    shown = json.dumps(view, ensure_ascii=False)
    for absent in (SECRET, "秘密", QUIET, "俄罗斯", "telegram"):
        assert absent not in shown
    assert len(view["blocks"]) <= HOME_MAX_BLOCKS
    assert all(len(text) <= SECTION_LIMIT for text in sections(view))


async def test_home_follows_the_users_language_and_shows_a_newcomer_how_to_start(
        home: Home) -> None:
    """A user who chose /lang zh in the app's messages sees the tab in Chinese; a user in no
    alerted channel is told how to start."""
    await home.chats.set_language(f"slack:{USER}", "zh")
    view = await home.open()
    assert view is not None and view["blocks"][0]["text"]["text"] == "newsbot：你的频道"
    assert sections(view)[1].split("\n")[1] == "规则：#1 北约 + 朝鲜; #2 韩国 + &lt;武器&gt;"

    home.slack.users["U555"] = {**home.slack.users[USER], "id": "U555", "name": "newcomer"}
    home.slack.members[QUIET] = {"U555"}
    newcomer = await home.open("U555")
    assert newcomer is not None
    (only,) = sections(newcomer)
    assert only.startswith("None of the channels you are in has newsbot rules or topics yet.")


async def test_the_messages_tab_and_a_forged_event_publish_nothing(home: Home) -> None:
    """Opening the Messages tab is not a reason to publish; a forged event gets 401."""
    assert await home.open(tab="messages") is None
    forged = home.slack.event_request(home.slack.app_home_opened_event(USER), secret="wrong")
    assert await home.send(forged) == 401
    await home.front.drain()
    assert home.slack.calls_to("views.publish") == []


async def test_a_failure_to_list_the_users_channels_is_said_not_hidden(home: Home) -> None:
    """users.conversations refused (e.g. a scope missing): the tab says so, lists nothing."""
    home.slack.fail("users.conversations", "missing_scope")
    view = await home.open()
    assert view is not None
    (said,) = sections(view)
    assert said == "newsbot could not list your channels (missing_scope); try again later."


async def test_many_channels_are_read_page_by_page(home: Home) -> None:
    """A user in 450 channels: users.conversations is read a page at a time (cursor) and the
    alerted channel on the last page is still shown."""
    home.slack.channels = (*(f"C{n:04d}X" for n in range(447)), *home.slack.channels)
    view = await home.open()
    assert view is not None
    assert len(home.slack.calls_to("users.conversations")) == 3
    assert [text.split("\n")[0] for text in sections(view)] == [f"*<#{DESK}>*", f"*<#{NEWS}>*"]


def test_a_home_with_very_many_channels_stays_within_slacks_limits() -> None:
    """150 channels with long rules: at most 100 blocks, each section within 3,000
    characters, the channels left out counted."""
    long_rules = [f"Rules: {'; '.join(f'#{n} <朝鲜> + 派兵 & 北约' for n in range(200))}"]
    channels = {f"slack:C{n:04d}": long_rules for n in range(150)}
    view = render_home(channels, lang="en", now=NOW)
    assert len(view["blocks"]) == HOME_MAX_BLOCKS
    assert all(len(text) <= SECTION_LIMIT for text in sections(view))
    assert view["blocks"][-1]["elements"][0]["text"] == "… and 54 more channels."
