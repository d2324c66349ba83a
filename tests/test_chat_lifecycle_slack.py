"""Chats that go away (issue 15), on Slack: the real slack_sdk client against the loopback Web
API, the real bolt app behind the bot's HTTP server for events. `not_in_channel`,
`channel_not_found` and `is_archived` pause the channel (no retries, no dead letter, the
admins told once in the app's messages tab); `member_joined_channel` for the app's own bot user
resumes it and the held alerts arrive as one batch.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.alerts import AlertComposer
from bot.archive import Archive
from bot.chats import ChatDirectory, ChatGoneError
from bot.commands import CommandInterpreter
from bot.digest import Digests
from bot.http import HttpServer, build_http_app
from bot.models import Alert, Delivery, Story
from bot.monitor import Monitor
from bot.outbox import Deliverer, Outbox
from bot.pacing import Pacer
from bot.platforms.slack import EVENTS_PATH, SlackChannel, SlackFrontEnd
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store, done
from tests.conftest import REPO
from tests.slack_server import SignedRequest, SlackServer
from tests.stories import headline, numbered_story, put_matched

TOKEN = "xoxb-1234-5678-SECRETtokenVALUE"
NOW = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=1)
RULE = "topic:dprk-troops"
ADMIN = "UADMIN1"
NEWS = "C777"


_headline = headline
_story = partial(numbered_story, at=T0)


@dataclass
class Bot:
    """Delivery and the event front end wired as bot/app.py wires them, over loopback Slack."""

    slack: SlackServer
    store: Store
    chats: ChatDirectory
    outbox: Outbox
    deliverer: Deliverer
    digests: Digests
    channel: SlackChannel
    http: HttpServer
    front: SlackFrontEnd

    async def alert(self, channel: str, story: Story) -> None:
        await put_matched(self.store, story, RULE, ["朝鲜", "派兵"])
        await self.outbox.put(Delivery(chat=f"slack:{channel}", story_id=story.id,
                                       rule_ids=(RULE,)))

    def posts_to(self, channel: str) -> int:
        """chat.postMessage and chat.update calls aimed at `channel` (refused ones included)."""
        return sum(c.params.get("channel") == channel for c in self.slack.calls
                   if c.method in ("chat.postMessage", "chat.update"))

    def admin_messages(self) -> list[str]:
        """What the admin sees in the app's messages tab."""
        return [m["text"] for m in self.slack.messages[self.slack.dm_channel(ADMIN)]]

    async def send(self, request: SignedRequest) -> int:
        """POST an Events API request to /slack/events as Slack would; the HTTP status."""
        async with aiohttp.ClientSession() as session, session.post(
                self.http.url + EVENTS_PATH, data=request.body.encode(),
                headers=request.headers) as response:
            return response.status

    async def dead_letters(self) -> int:
        return int(await done(self.store.redis.llen(self.outbox.dead)))


@pytest.fixture
async def bot(store: Store) -> AsyncIterator[Bot]:
    async with SlackServer(token=TOKEN, channels=("C123", NEWS)) as slack, \
            SlackChannel(token=TOKEN, api_url=slack.api_url) as channel:
        slack.users[ADMIN] = {**slack.users["U123"], "id": ADMIN, "name": "admin"}
        chats = ChatDirectory(store)
        archive = Archive(store, ttl=4 * 86_400)
        composer = AlertComposer(chats=chats, archive=archive)
        rules = RuleBook(load_topics(REPO / "rules"), chats)
        outbox = Outbox(store)
        await outbox.ensure_group()
        deliverer = Deliverer(store, outbox, {"slack": channel}, composer=composer, paces={},
                              gather=0, admins=(f"slack:{ADMIN}",), clock=lambda: NOW)
        digests = Digests(store, chats=chats, rules=rules, archive=archive, composer=composer,
                          pacer=Pacer(store, {}), clock=lambda: NOW)
        interpreter = CommandInterpreter(store, chats=chats, rules=rules, archive=archive,
                                         admins=(f"slack:{ADMIN}",), digests=digests)
        front = SlackFrontEnd(channel, interpreter, signing_secret=slack.signing_secret)
        async with front, HttpServer(0, build_http_app(front.routes()),
                                     host="127.0.0.1") as http:
            yield Bot(slack, store, chats, outbox, deliverer, digests, channel, http, front)


_LOSSES: dict[str, Callable[[SlackServer], None]] = {
    "not_in_channel": lambda slack: slack.remove_app(NEWS),
    "channel_not_found": lambda slack: slack.delete_channel(NEWS),
    "is_archived": lambda slack: slack.archive(NEWS),
}
_SAID = {"not_in_channel": "the app is not in the channel",
         "channel_not_found": "the channel was not found",
         "is_archived": "the channel was archived"}


@pytest.mark.parametrize("error", sorted(_LOSSES))
async def test_a_lost_channel_is_paused_once_and_its_later_alerts_held(bot: Bot,
                                                                        error: str) -> None:
    """The post is refused once: the channel is paused with Slack's error, the admin gets one
    direct message; later alerts are not tried and make no dead letter."""
    chat = f"slack:{NEWS}"
    _LOSSES[error](bot.slack)
    await bot.alert(NEWS, _story(1))
    assert await bot.deliverer.drain() == 0
    assert bot.posts_to(NEWS) == 1
    paused = await bot.chats.paused(chat)
    assert paused is not None and paused.reason == error and error in paused.error
    (notice,) = bot.admin_messages()
    assert notice.startswith(f"[CHAT PAUSED] newsbot can no longer post to {chat}: "
                             f"{_SAID[error]}")

    await bot.alert(NEWS, _story(2))
    await bot.alert(NEWS, _story(3))
    await bot.deliverer.drain()
    assert bot.posts_to(NEWS) == 1 and len(bot.admin_messages()) == 1
    assert await bot.chats.held(chat) == ["s1", "s2", "s3"]
    assert await bot.dead_letters() == 0 and await bot.outbox.depth() == 0
    exposition = (await Monitor(bot.store, outbox=bot.outbox, chats=bot.chats).exposition()
                  ).decode()
    assert "newsbot_chats_paused 1.0" in exposition.splitlines()


async def test_the_channel_raises_chat_gone_from_slack_sdks_error(bot: Bot) -> None:
    """What the outbox sees: ChatGoneError carrying Slack's code, from the SDK's SlackApiError."""
    bot.slack.remove_app(NEWS)
    with pytest.raises(ChatGoneError) as gone:
        await bot.channel.send(Alert(chat=f"slack:{NEWS}", story=_story(1)))
    assert gone.value.reason == "not_in_channel"
    assert isinstance(gone.value.__cause__, SlackApiError)


async def test_an_update_refused_because_the_channel_was_archived_pauses_it(bot: Bot) -> None:
    """An alert already sent; the channel is archived; the story grows: chat.update gets
    is_archived once, the channel is paused, the edit is not retried nor dead-lettered."""
    await bot.alert(NEWS, _story(1))
    assert await bot.deliverer.drain() == 1
    bot.slack.archive(NEWS)
    await bot.alert(NEWS, _story(1, outlets=("DW", "VOA")))
    await bot.deliverer.drain()
    assert [c.method for c in bot.slack.calls if c.params.get("channel") == NEWS] == [
        "chat.postMessage", "chat.update"]
    assert await bot.chats.is_paused(f"slack:{NEWS}")
    assert await bot.dead_letters() == 0 and await bot.outbox.depth() == 0
    assert len(bot.admin_messages()) == 1


async def test_the_app_invited_back_resumes_the_channel_and_the_held_alerts_arrive(
        bot: Bot) -> None:
    """member_joined_channel for another user changes nothing; for the app's bot user it
    resumes the channel, the held alerts arrive as one message, new alerts are sent again."""
    chat = f"slack:{NEWS}"
    bot.slack.remove_app(NEWS)
    await bot.alert(NEWS, _story(1))
    await bot.alert(NEWS, _story(2))
    await bot.deliverer.drain()
    assert await bot.chats.is_paused(chat)

    someone = bot.slack.event_request(bot.slack.member_joined_event(NEWS, user="U123"))
    assert await bot.send(someone) == 200
    assert await bot.chats.is_paused(chat)

    bot.slack.invite_app(NEWS)
    assert await bot.send(bot.slack.event_request(bot.slack.member_joined_event(NEWS))) == 200
    assert not await bot.chats.is_paused(chat)
    assert await bot.digests.release({"slack": bot.channel}, now=NOW) == 1
    (batch,) = bot.slack.messages[NEWS]
    shown = json.dumps(batch["blocks"], ensure_ascii=False)
    assert _headline(1) in shown and _headline(2) in shown

    await bot.alert(NEWS, _story(3))
    assert await bot.deliverer.drain() == 1
    assert _headline(3) in bot.slack.messages[NEWS][-1]["text"]


async def test_a_forged_event_resumes_nothing(bot: Bot) -> None:
    """An event without Slack's signature is refused with 401 and the channel stays paused."""
    bot.slack.remove_app(NEWS)
    await bot.alert(NEWS, _story(1))
    await bot.deliverer.drain()
    forged = bot.slack.event_request(bot.slack.member_joined_event(NEWS), secret="wrong")
    assert await bot.send(forged) == 401
    assert await bot.chats.is_paused(f"slack:{NEWS}")


async def test_status_says_the_channel_is_paused_and_lists_paused_chats_to_admins(
        bot: Bot) -> None:
    """`/newsbot status` still answers in a channel the app was removed from (through the
    response_url) and says alerts are paused; an admin elsewhere sees every paused chat."""
    bot.slack.remove_app(NEWS)
    await bot.alert(NEWS, _story(1))
    await bot.deliverer.drain()

    async def status(channel_id: str, user_id: str) -> str:
        request = bot.slack.slash_command("status", channel_id=channel_id, user_id=user_id)
        assert await bot.send(request) == 200
        await bot.front.drain()
        (reply,) = bot.slack.responses[request.response_id]
        return str(reply["text"])

    here = await status(NEWS, "U123")
    assert "Alerts paused (the bot cannot post here; held until it is added back): " \
           "the app is not in the channel, 2024-10-21 09:00 UTC" in here
    assert "Paused chats" not in here  # not an admin
    elsewhere = await status("C123", ADMIN)
    assert "Alerts paused" not in elsewhere
    assert f"Paused chats: slack:{NEWS} (not_in_channel, 2024-10-21 09:00 UTC)" in elsewhere


async def test_unarchiving_resumes_a_channel_paused_for_being_archived_only(bot: Bot) -> None:
    """channel_unarchive resumes a channel paused because it was archived; a channel paused
    because the app was removed stays paused (unarchiving does not bring the app back)."""
    bot.slack.archive(NEWS)
    bot.slack.remove_app("C123")
    await bot.alert(NEWS, _story(1))
    await bot.alert("C123", _story(2))
    await bot.deliverer.drain()
    assert set(await bot.chats.paused_chats()) == {f"slack:{NEWS}", "slack:C123"}
    for channel in ("C123", NEWS):
        event = bot.slack.event_request(bot.slack.unarchive_event(channel))
        assert await bot.send(event) == 200
    assert set(await bot.chats.paused_chats()) == {"slack:C123"}
