"""The Telegram channel over real python-telegram-bot and loopback HTTP to a Bot API server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from telegram import MessageEntity

from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert, Delivery, Story, StoryArticle
from bot.outbox import Deliverer, Outbox
from bot.platforms.telegram import (
    MESSAGE_LIMIT,
    FloodControl,
    FloodLimits,
    TelegramChannel,
    render_html,
)
from bot.store import Store
from tests.stories import put_matched
from tests.telegram_server import (
    BOT_USERNAME,
    TOKEN,
    BotApiServer,
    parse_html,
    utf16_len,
)

T0 = datetime(2024, 10, 21, 8, 0, tzinfo=UTC)
TERMS = ("朝鲜", "派兵")
CHAT = "telegram:123"


def _article(outlet: str, n: int, *, url: str | None = "", title: str | None = None,
             dated: bool = True) -> StoryArticle:
    return StoryArticle(
        outlet=outlet, title=title or f"韩国召见俄罗斯大使 {outlet} {n}",
        url=f"https://www.{outlet.lower()}.com/a/{n}" if url == "" else url,
        time=T0 + timedelta(hours=n), time_source="feed" if dated else "seen")


def _story(*articles: StoryArticle, story_id: str = "s1", headline: str = "韩国召见俄罗斯大使"
           ) -> Story:
    arts = articles or (_article("DW", 0), _article("VOA", 1), _article("BBC", 2, url=None,
                                                                       dated=False))
    return Story(id=story_id, headline=headline, first_seen=T0, updated=T0,
                 version=len(arts), articles=arts)


SUMMARY = "韩国外交部召见俄罗斯驻韩大使，抗议朝鲜派兵。<Seoul> summoned the envoy."


def _alert(story: Story | None = None, *, chat: str = CHAT) -> Alert:
    return Alert(chat=chat, story=story or _story(), terms=TERMS, rules=("topic:dprk",),
                 summary=SUMMARY, timezone="Asia/Seoul")


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    """A Bot API server on a free loopback port."""
    async with BotApiServer() as server:
        yield server


@pytest.fixture
async def channel(api: BotApiServer) -> AsyncIterator[TelegramChannel]:
    """A TelegramChannel initialized against the test server, without per-chat spacing."""
    flood = FloodControl(FloodLimits(chat_interval=0.0))
    async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as ch:
        yield ch


# --- rendering -----------------------------------------------------------------------------


def test_render_layout_links_headline_summary_outlets_terms_and_time() -> None:
    """The one layout: linked bold headline, summary, linked outlets, terms and local time."""
    html = render_html(_alert())
    lines = html.split("\n")
    assert lines[0] == '<b><a href="https://www.dw.com/a/0">韩国召见俄罗斯大使</a></b>'
    assert lines[1] == SUMMARY.replace("<", "&lt;").replace(">", "&gt;")
    assert lines[2] == ""
    assert lines[3] == ('3 outlets: <a href="https://www.dw.com/a/0">DW</a> · '
                        '<a href="https://www.voa.com/a/1">VOA</a> · BBC')
    assert lines[4] == "<i>Matched: 朝鲜, 派兵 · First reported 2024-10-21 17:00 KST</i>"
    assert len(lines) == 5
    assert "<i>(updated)</i>" in render_html(_alert(), update=True).split("\n")[0]


def test_render_labels_follow_the_chat_language() -> None:
    """A chat set to Chinese gets Chinese labels; times follow the chat's zone."""
    alert = replace(_alert(), lang="zh", timezone="Asia/Shanghai")
    html = render_html(alert, update=True)
    assert "（更新）" in html.split("\n")[0]
    assert "3 家媒体：" in html
    assert "匹配：朝鲜, 派兵 · 首次报道 2024-10-21 16:00 CST" in html


def test_render_escapes_outside_text_and_links_only_http() -> None:
    """Titles, outlets, terms, summary and hrefs are escaped; javascript: is never a link."""
    evil = _article("<b>X&Y</b>", 0, url="javascript:alert(1)",
                    title='<script>alert("x")</script> & \'q\'')
    quoted = _article("VOA", 1, url='https://voa.example/a?x="><script>')
    html = render_html(Alert(chat=CHAT, story=_story(evil, quoted, headline="<i>h</i>"),
                             terms=("<u>", "&amp;"), summary="<img src=x> & </b>"))
    assert "<script" not in html and "javascript:" not in html and "<img" not in html
    assert "&lt;i&gt;h&lt;/i&gt;" in html and "&lt;img src=x&gt; &amp; &lt;/b&gt;" in html
    assert "&lt;b&gt;X&amp;Y&lt;/b&gt;" in html
    assert 'href="https://voa.example/a?x=&quot;&gt;&lt;script&gt;"' in html
    text, entities = parse_html(html)  # Telegram's parser accepts it
    assert "<i>h</i>" in text and "Matched: <u>, &amp;" in text
    assert {e["url"] for e in entities if e["type"] == "text_link"} == {
        'https://voa.example/a?x="><script>'}


def test_render_huge_story_stays_within_the_limit() -> None:
    """200 outlets with long names and URLs, a huge headline, summary and 500 terms render
    within 4,096 code units, clipped with an ellipsis and the outlets beyond the budget counted."""
    articles = tuple(_article(f"Outlet&{i}" * 5, i, title="😀朝" * 250,
                              url=f"https://example.com/{'a&' * 250}/{i}") for i in range(200))
    story = _story(*articles, headline="😀&" * 3000)
    html = render_html(Alert(chat=CHAT, story=story, summary="<&>" * 3000,
                             terms=tuple(f"term&{i}" for i in range(500))))
    assert utf16_len(html) <= MESSAGE_LIMIT
    text, _ = parse_html(html)
    assert utf16_len(text) <= MESSAGE_LIMIT
    assert html.split("\n")[0].endswith("…</b>")  # the over-long URL is left unlinked
    outlets = next(line for line in html.split("\n") if line.startswith("200 outlets: "))
    assert outlets.endswith(" more") and "+1" in outlets


# --- send and edit over the wire ------------------------------------------------------------


@pytest.mark.parametrize(("chat", "chat_id"), [("telegram:123", 123),
                                               ("telegram:-1001234567890", -1001234567890)])
async def test_send_posts_html_and_returns_the_message_id(
        api: BotApiServer, channel: TelegramChannel, chat: str, chat_id: int) -> None:
    """send() calls sendMessage in HTML mode without preview and returns the message id."""
    ref = await channel.send(_alert(chat=chat))
    [call] = api.calls_of("sendMessage")
    assert ref == "1"
    assert call["chat_id"] == chat_id
    assert call["parse_mode"] == "HTML"
    assert call["link_preview_options"] == {"is_disabled": True}
    [message] = api.messages(chat_id)
    assert message["text"].startswith(f"韩国召见俄罗斯大使\n{SUMMARY}\n\n3 outlets: DW · VOA · BBC")
    assert {"bold", "text_link"} <= {e["type"] for e in message["entities"]}


async def test_edit_rewrites_the_same_message(api: BotApiServer,
                                              channel: TelegramChannel) -> None:
    """edit() calls editMessageText on the chat and message id that send() returned."""
    ref = await channel.send(_alert())
    grown = _story(*_story().articles, _article("RFI", 3))
    await channel.edit(ref, _alert(grown))
    [call] = api.calls_of("editMessageText")
    assert (call["chat_id"], call["message_id"], call["parse_mode"]) == (123, int(ref), "HTML")
    [message] = api.messages(123)
    assert "4 outlets: DW · VOA · BBC · RFI" in message["text"] and "edit_date" in message


async def test_unchanged_edit_is_not_an_error(api: BotApiServer,
                                              channel: TelegramChannel) -> None:
    """An edit Telegram answers with "message is not modified" counts as success."""
    ref = await channel.send(_alert())
    await channel.edit(ref, _alert())
    await channel.edit(ref, _alert())
    assert api.statuses("editMessageText") == [200, 400]


async def test_rate_limit_becomes_retry_after_error(api: BotApiServer,
                                                    channel: TelegramChannel) -> None:
    """A 429 with retry_after surfaces as RetryAfterError carrying those seconds."""
    api.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfterError) as caught:
        await channel.send(_alert())
    assert caught.value.retry_after == 7.0
    assert "chat 123" in str(caught.value)
    api.fail_next("editMessageText", retry_after=3)
    with pytest.raises(RetryAfterError) as caught:
        await channel.edit(await channel.send(_alert()), _alert(_story(_article("DW", 9))))
    assert caught.value.retry_after == 3.0


async def test_retry_after_as_timedelta_is_seconds(api: BotApiServer, channel: TelegramChannel,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With PTB's opt-in timedelta retry_after the error still carries float seconds."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api.fail_next("sendMessage", retry_after=5)
    with pytest.raises(RetryAfterError) as caught:
        await channel.send(_alert())
    assert caught.value.retry_after == 5.0


@pytest.mark.parametrize(("code", "description"), [
    (400, "Bad Request: chat not found"),
    (403, "Forbidden: bot was blocked by the user"),
])
async def test_refusal_becomes_channel_error_naming_the_chat(
        api: BotApiServer, channel: TelegramChannel, code: int, description: str) -> None:
    """A 400 or 403 surfaces as ChannelError (not RetryAfterError) naming chat and reason."""
    api.fail_next("sendMessage", code=code, description=description)
    with pytest.raises(ChannelError) as caught:
        await channel.send(_alert())
    assert not isinstance(caught.value, RetryAfterError)
    reason = description.partition(": ")[2]  # PTB drops the "Bad Request: " prefix
    assert str(caught.value).startswith("telegram: unable to send to chat 123: ")
    assert str(caught.value).lower().endswith(reason.lower())


async def test_edit_of_a_missing_message_is_message_gone(channel: TelegramChannel) -> None:
    """Editing a message Telegram does not know raises MessageGoneError naming it."""
    with pytest.raises(MessageGoneError, match=r"message 99 in chat 123 is gone"):
        await channel.edit("99", _alert())


async def test_bad_chat_ids_are_refused_before_any_request(api: BotApiServer,
                                                           channel: TelegramChannel) -> None:
    """Chat ids that are not telegram:<number> or telegram:@name raise without calling out."""
    for chat in ("telegram:", "telegram:abc", "slack:C1"):
        with pytest.raises(ChannelError, match="not a telegram chat id"):
            await channel.send(_alert(chat=chat))
    assert api.calls_of("sendMessage") == []


async def test_escaped_html_reaches_the_server(api: BotApiServer,
                                               channel: TelegramChannel) -> None:
    """A <script> title with quotes arrives escaped, and its javascript: URL is not linked."""
    evil = _article("DW", 0, url="javascript:alert(1)", title='<script>"x"</script> & co')
    await channel.send(_alert(_story(evil, headline='<script>"x"</script> & co')))
    [call] = api.calls_of("sendMessage")
    assert "<script" not in call["text"] and "javascript:" not in call["text"]
    assert "&lt;script&gt;&quot;x&quot;&lt;/script&gt; &amp; co" in call["text"]
    [message] = api.messages(123)
    assert message["text"].startswith('<script>"x"</script> & co')
    assert not [e for e in message["entities"] if e["type"] == "text_link"]


async def test_huge_story_is_accepted_by_the_server(api: BotApiServer,
                                                    channel: TelegramChannel) -> None:
    """A 200-report story with 500-character titles is sent without "message is too long"."""
    articles = tuple(_article("DW", i, title="标题" * 250) for i in range(200))
    await channel.send(_alert(_story(*articles)))
    [message] = api.messages(123)
    assert utf16_len(message["text"]) <= MESSAGE_LIMIT


async def test_token_never_shows(api: BotApiServer, channel: TelegramChannel) -> None:
    """The token appears neither in the channel's str/repr nor in raised errors and causes."""
    assert TOKEN not in str(channel) and TOKEN not in repr(channel)
    api.fail_next("sendMessage", code=400, description=f"Bad Request: echo {TOKEN}")
    api.fail_next("editMessageText", retry_after=2)
    errors: list[BaseException] = []
    for call in (channel.send(_alert()), channel.edit("1", _alert())):
        with pytest.raises(ChannelError) as caught:
            await call
        errors.append(caught.value)
    chain = [e for error in errors for e in (error, error.__cause__, error.__context__) if e]
    shown = [text.lower() for e in chain for text in (str(e), repr(e))]
    assert all(TOKEN.lower() not in text for text in shown)  # PTB lowercases descriptions


async def test_rejected_token_is_a_config_error_without_the_token(api: BotApiServer) -> None:
    """A token the server answers 401 to fails at start with ConfigError that hides it."""
    wrong = "999:not-the-token"
    with pytest.raises(ConfigError) as caught:
        async with TelegramChannel(token=wrong, api_url=api.root):
            pass  # pragma: no cover - entering fails
    assert wrong not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert api.statuses("getMe") == [401]


def test_empty_token_is_a_config_error() -> None:
    """An empty token is refused when the channel is built, before any request."""
    with pytest.raises(ConfigError, match="token is empty"):
        TelegramChannel(token="")


async def test_api_url_is_the_root(api: BotApiServer) -> None:
    """TELEGRAM_API_URL is the Bot API root: requests land at /bot<token>/<method>."""
    async with TelegramChannel(token=api.token, api_url=api.root + "/") as channel:
        await channel.send(_alert())
    assert [c.path for c in api.calls] == [f"/bot{TOKEN}/getMe", f"/bot{TOKEN}/sendMessage"]


# --- the test server's other methods (for the command front end) ----------------------------


async def test_queued_commands_arrive_with_utf16_entities(api: BotApiServer,
                                                          channel: TelegramChannel) -> None:
    """Queued user messages come back from getUpdates with bot_command entities PTB can read."""
    api.queue_command("/rule add 朝鲜 + 派兵", chat_id=42)
    api.queue_command(f"🇰🇵 /rule@{BOT_USERNAME} list", chat_id=-100555, user_id=7)
    first, second = await channel.bot.get_updates(timeout=0)
    assert first.message is not None and second.message is not None
    assert first.message.chat.type == "private"
    assert list(first.message.parse_entities([MessageEntity.BOT_COMMAND]).values()) == ["/rule"]
    assert second.message.chat.type == "supergroup" and second.message.from_user is not None
    assert second.message.from_user.id == 7
    [entity] = second.message.entities
    assert entity.offset == 5 and second.message.parse_entity(entity) == f"/rule@{BOT_USERNAME}"
    assert await channel.bot.get_updates(offset=second.update_id + 1, timeout=0) == ()


async def test_server_answers_setup_and_membership_methods(api: BotApiServer,
                                                           channel: TelegramChannel) -> None:
    """setMyCommands, deleteWebhook, getChatMember and getChatAdministrators work through PTB."""
    api.add_chat(-100777, chat_type="supergroup", admins=(7,), owner=1)
    assert await channel.bot.set_my_commands([("rule", "Manage rules")])
    assert await channel.bot.delete_webhook()
    assert api.commands == [{"command": "rule", "description": "Manage rules"}]
    assert (await channel.bot.get_chat_member(-100777, 7)).status == "administrator"
    assert (await channel.bot.get_chat_member(-100777, 8)).status == "member"
    admins = await channel.bot.get_chat_administrators(-100777)
    assert [(m.user.id, m.status) for m in admins] == [(1, "creator"), (7, "administrator")]


# --- end to end through the outbox ----------------------------------------------------------


async def _put_story(store: Store, story: Story) -> None:
    await put_matched(store, story, "topic:dprk", TERMS)


async def _deliverer(store: Store, channel: TelegramChannel) -> tuple[Outbox, Deliverer]:
    outbox = Outbox(store)
    await outbox.ensure_group()
    return outbox, Deliverer(store, outbox, {"telegram": channel})


async def test_outbox_sends_once_then_edits(store: Store, api: BotApiServer,
                                            channel: TelegramChannel) -> None:
    """Delivery sends one alert, and a grown story edits that message instead of resending."""
    outbox, deliverer = await _deliverer(store, channel)
    story = _story()
    await _put_story(store, story)
    await outbox.put(Delivery(chat=CHAT, story_id=story.id, rule_ids=("topic:dprk",)))
    assert await deliverer.drain() == 1
    [sent] = api.calls_of("sendMessage")
    assert "Matched: 朝鲜, 派兵" in sent["text"]
    grown = replace(story, articles=(*story.articles, _article("RFI", 3)), version=4)
    await _put_story(store, grown)
    await outbox.put(Delivery(chat=CHAT, story_id=story.id, rule_ids=("topic:dprk",)))
    assert await deliverer.drain() == 1
    assert len(api.calls_of("sendMessage")) == 1
    [edit] = api.calls_of("editMessageText")
    assert edit["message_id"] == 1 and "RFI" in edit["text"]
    [message] = api.messages(123)
    assert "4 outlets" in message["text"]


async def test_outbox_waits_out_a_rate_limit(store: Store, api: BotApiServer,
                                             channel: TelegramChannel) -> None:
    """A 429 retry_after=1 is waited out and the alert still arrives exactly once."""
    outbox, deliverer = await _deliverer(store, channel)
    await _put_story(store, _story())
    api.fail_next("sendMessage", retry_after=1)
    await outbox.put(Delivery(chat=CHAT, story_id="s1", rule_ids=("topic:dprk",)))
    assert await deliverer.drain() == 1
    assert api.statuses("sendMessage") == [429, 200]
    assert len(api.messages(123)) == 1
    assert await outbox.depth() == 0


# --- flood control --------------------------------------------------------------------------


class _FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _stamps(flood: FloodControl, clock: _FakeTime, chats: list[int | str]) -> list[float]:
    stamps = []
    for chat_id in chats:
        await flood.wait(chat_id)
        stamps.append(clock.now)
    return stamps


async def test_flood_control_spaces_one_chat_a_second_apart() -> None:
    """Five messages to one private chat get slots one second apart, others are not held up."""
    clock = _FakeTime()
    flood = FloodControl(clock=clock, sleep=clock.sleep)
    assert await _stamps(flood, clock, [123] * 5) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert await _stamps(flood, clock, [456, "789"]) == [4.0, 4.0]
    assert await _stamps(flood, clock, [789]) == [5.0]  # "789" and 789 are one chat


async def test_flood_control_holds_a_group_to_twenty_a_minute() -> None:
    """The 21st message to a group within a minute waits until the first one is 60 s old."""
    clock = _FakeTime()
    flood = FloodControl(clock=clock, sleep=clock.sleep)
    stamps = await _stamps(flood, clock, [-100555] * 22)
    assert stamps[:20] == [float(n) for n in range(20)]
    assert stamps[20:] == [60.0, 61.0]
    assert await _stamps(flood, clock, ["@channel"] * 21) == [61.0 + n for n in range(20)] + [
        121.0]


async def test_flood_control_holds_the_bot_to_thirty_a_second() -> None:
    """Thirty-one messages to different chats: the 31st waits for the next second."""
    clock = _FakeTime()
    flood = FloodControl(clock=clock, sleep=clock.sleep)
    stamps = await _stamps(flood, clock, list(range(1, 32)))
    assert stamps == [0.0] * 30 + [1.0]


async def test_flood_control_reserves_slots_in_call_order() -> None:
    """Concurrent waiters on one chat are released in the order they asked, a second apart."""
    clock = _FakeTime()
    flood = FloodControl(clock=clock, sleep=clock.sleep)
    released: list[tuple[int, float]] = []

    async def one(n: int) -> None:
        await flood.wait(123)
        released.append((n, clock.now))

    await asyncio.gather(*(one(n) for n in range(4)))
    assert [n for n, _ in released] == [0, 1, 2, 3]
    assert [at for _, at in released] == [0.0, 1.0, 2.0, 3.0]


async def test_sends_and_edits_to_one_chat_are_spaced_on_the_wire(api: BotApiServer) -> None:
    """Concurrent sends and an edit to one chat reach the server in order, spaced apart."""
    flood = FloodControl(FloodLimits(chat_interval=0.25))
    async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as channel:
        ref = await channel.send(_alert(_story(headline="story 0")))
        await asyncio.gather(
            *(channel.send(_alert(_story(headline=f"story {n}"))) for n in (1, 2, 3)),
            channel.edit(ref, _alert(_story(headline="story 0 grown"))))
    calls = [c for c in api.calls if c.method in ("sendMessage", "editMessageText")]
    assert [(c.method, c.params["text"].split("</a>")[0].rsplit(">", 1)[-1]) for c in calls] == [
        ("sendMessage", "story 0"), ("sendMessage", "story 1"), ("sendMessage", "story 2"),
        ("sendMessage", "story 3"), ("editMessageText", "story 0 grown")]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]
    assert all(gap >= 0.2 for gap in gaps), gaps  # 0.25 s apart, measured by the server
