"""Digests and held alerts: content over the seeds, timing across DST, the late-start rule,
once-only sending, message splitting, mute and quiet hours holding and releasing alerts.

Messages go through the real python-telegram-bot code to the Bot API server on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import i18n
from bot.alerts import AlertComposer, ListedStory, StoryList
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.dedup.index import StoryIndex
from bot.digest import Digests, due_slot, slot_name
from bot.feeds.dating import date_articles
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, Topic
from bot.outbox import Deliverer, Outbox
from bot.pipeline import Pipeline
from bot.platforms.slack import MAX_BLOCKS, SECTION_LIMIT, render_list_blocks
from bot.platforms.telegram import (
    MESSAGE_LIMIT,
    FloodControl,
    FloodLimits,
    TelegramChannel,
    render_list_html,
)
from bot.routing import RuleBook
from bot.store import Store
from tests.conftest import SEEDS
from tests.telegram_server import BotApiServer, parse_html, utf16_len

TOPIC = Topic(name="dprk-troops", expression="朝鲜 + 派兵")
CHAT, CHAT_ID = "telegram:123", 123
BIG_STORY = "韩国指朝鲜派兵增援俄侵乌战争 北约回应"  # 001 (DW), joined by 002 (VOA) and 003
STORY_000 = "韩国与欧盟同声强烈谴责朝鲜出兵援俄攻乌"
T0 = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
WINDOW = 72 * 3600


@dataclass
class Bot:
    """The parts of the service a digest touches, on one clock the test moves."""

    store: Store
    api: BotApiServer
    channel: TelegramChannel
    chats: ChatDirectory
    pipeline: Pipeline
    deliverer: Deliverer
    digests: Digests
    now: datetime = T0
    channels: dict[str, TelegramChannel] = field(default_factory=dict)

    async def file(self, articles: list[Article]) -> None:
        await self.pipeline.process_many(articles)  # dated as one batch, like a poll

    async def tick(self) -> int:
        return await self.digests.tick(dict(self.channels), now=self.now)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.api.messages(CHAT_ID)]


def _seeds() -> dict[str, Article]:
    """The seeds as their feed gives them: 003 dated by its feed mates (bot.feeds.dating), so
    that it joins their story even when filed on its own."""
    articles, errors = read_seed_folder(SEEDS)
    assert not errors
    return {Path(a.path or "").name[:3]: a for a in date_articles(articles, seen=T0)}


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as server:
        yield server


@pytest.fixture
async def bot(store: Store, api: BotApiServer) -> AsyncIterator[Bot]:
    """Pipeline, delivery and digests wired like the app, against the Bot API server."""
    flood = FloodControl(FloodLimits(chat_interval=0.0))
    async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as channel:
        chats = ChatDirectory(store)
        rules = RuleBook([TOPIC], chats)
        archive = Archive(store, ttl=WINDOW + 86_400)
        outbox = Outbox(store)
        await outbox.ensure_group()
        composer = AlertComposer(chats=chats, archive=archive)
        made: Bot
        index = StoryIndex(store, window_seconds=WINDOW, seen_seconds=30 * 86_400)
        pipeline = Pipeline(store, index=index, rules=rules, outbox=outbox, archive=archive,
                            clock=lambda: made.now)
        deliverer = Deliverer(store, outbox, {"telegram": channel}, composer=composer,
                              clock=lambda: made.now)
        digests = Digests(store, chats=chats, rules=rules, archive=archive, composer=composer,
                          clock=lambda: made.now)
        made = Bot(store, api, channel, chats, pipeline, deliverer, digests,
                   channels={"telegram": channel})
        await chats.subscribe(CHAT, TOPIC.name)
        yield made


# --- content ------------------------------------------------------------------------------


async def test_digest_over_the_seeds_lists_the_big_story_first_then_000(bot: Bot) -> None:
    """The seeds' digest: the three-outlet story first, 000's second, each with a one-line
    summary and linked outlets; 004 (no match) is not in it."""
    await bot.file(list(_seeds().values()))
    bot.now = T0 + timedelta(hours=1)
    digest = await bot.digests.digest(CHAT)
    assert digest is not None
    assert [s.headline for s in digest.stories] == [BIG_STORY, STORY_000]
    big = digest.stories[0]
    assert [o for o, _ in big.outlets] == ["DW", "VOA", "unknown"]
    assert "召见" in big.summary and "大使" in big.summary and "\n" not in big.summary
    await bot.digests.send_digest(CHAT, bot.channel, slot="2026-01-10", now=bot.now)
    [text] = bot.texts()
    assert text.startswith("Daily digest, 2026-01-10: 2 stories\n\n1. " + BIG_STORY)
    assert text.index(BIG_STORY) < text.index(STORY_000)
    assert "3 outlets: DW · VOA · unknown" in text and "韩国敦促朝俄" not in text
    [message] = bot.api.messages(CHAT_ID)
    links = {e["url"] for e in message["entities"] if e["type"] == "text_link"}
    assert any("dw.com" in url for url in links) and any("voachinese" in url for url in links)


async def test_digest_labels_follow_the_chat_language_and_zone(bot: Bot) -> None:
    """A Chinese chat in Asia/Shanghai gets a Chinese title dated in its own zone."""
    await bot.file(list(_seeds().values()))
    await bot.chats.set_language(CHAT, "zh")
    await bot.chats.set_timezone(CHAT, "Asia/Shanghai")
    bot.now = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)  # 04:00 on the 11th in Shanghai
    digest = await bot.digests.digest(CHAT)
    assert digest is not None and digest.title == "每日摘要（2026-01-11）：2 条新闻"


# --- timing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "days"), [
    ("02:30", ("2026-03-28", "2026-03-29", "2026-03-30")),  # 02:30 does not exist on the 29th
    ("02:30", ("2026-10-24", "2026-10-25", "2026-10-26")),  # 02:30 happens twice on the 25th
    ("07:30", ("2026-03-28", "2026-03-29", "2026-03-30")),
])
def test_dst_changes_neither_skip_nor_double_a_digest(at: str, days: tuple[str, ...]) -> None:
    """Ticking every minute through three days around a DST change in Europe/Berlin yields
    exactly one digest slot per local date, each due at the chosen time (or the first
    instant after it, when the clock skips it)."""
    zone = "Europe/Berlin"
    start = datetime.fromisoformat(days[0]).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    sent: dict[str, datetime] = {}
    now = start
    while now < start + timedelta(days=3):
        fire = due_slot(at, zone, now)
        if fire is not None:
            sent.setdefault(slot_name(fire, zone), now)
        now += timedelta(minutes=1)
    assert sorted(sent) == list(days)
    for moment in sent.values():
        local = moment.astimezone(ZoneInfo(zone))
        hour, minute = map(int, at.split(":"))
        skipped = local.hour == hour + 1 and local.utcoffset() == timedelta(hours=2)
        assert (local.hour, local.minute) == (hour, minute) or (skipped and local.minute == minute)


async def test_tick_sends_one_digest_when_the_time_happens_twice(bot: Bot) -> None:
    """On the night clocks go back, 02:30 comes twice: the second one sends nothing."""
    await bot.chats.set_digest(CHAT, at="02:30", timezone="Europe/Berlin",
                               now=datetime(2026, 10, 24, tzinfo=UTC))
    bot.now = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    await bot.file(list(_seeds().values()))
    bot.now = datetime(2026, 10, 25, 0, 31, tzinfo=UTC)  # 02:31 CEST
    assert await bot.tick() == 1
    bot.now = datetime(2026, 10, 25, 1, 31, tzinfo=UTC)  # 02:31 CET, the same local date
    assert await bot.tick() == 0
    assert len(bot.texts()) == 1


async def test_late_start_sends_a_digest_less_than_three_hours_late_only(bot: Bot) -> None:
    """A bot down at digest time sends it on start if under LATE_LIMIT late; a digest set
    after today's time has passed is not owed today."""
    set_at = datetime(2026, 1, 9, tzinfo=UTC)
    await bot.file(list(_seeds().values()))
    for chat, at in (("telegram:1", "07:30"), ("telegram:2", "05:00"), (CHAT, "07:30")):
        await bot.chats.subscribe(chat, TOPIC.name)
        await bot.chats.set_digest(chat, at=at, timezone="UTC", now=set_at)
    await bot.chats.set_digest(CHAT, at="07:30", timezone="UTC", now=T0 + timedelta(hours=2))
    bot.now = T0 + timedelta(hours=3)  # 09:00: 1.5 h after 07:30, 4 h after 05:00
    assert await bot.tick() == 1
    assert [c["chat_id"] for c in bot.api.calls_of("sendMessage")] == [1]
    assert await bot.tick() == 0  # and only once


async def test_one_tick_matches_the_archive_once_for_all_its_digests(bot: Bot) -> None:
    """Three chats due in one tick: the archive is read and matched against the rules once
    (not once per chat), each chat still gets its own digest; the next tick, with another
    `now`, matches again."""
    await bot.file(list(_seeds().values()))
    set_at = T0 - timedelta(days=1)
    for chat in ("telegram:1", "telegram:2", CHAT):
        await bot.chats.subscribe(chat, TOPIC.name)
        await bot.chats.set_digest(chat, at="06:30", timezone="UTC", now=set_at)
    ruleset = await bot.digests.rules.current()
    matched: list[str] = []
    real_match = ruleset.match

    def counting(article: Article) -> Mapping[str, tuple[str, ...]]:
        matched.append(article.title)  # records the call, the real engine answers
        return real_match(article)

    ruleset.match = counting  # type: ignore[method-assign]
    bot.now = T0 + timedelta(hours=1)
    assert await bot.tick() == 3
    assert sorted(c["chat_id"] for c in bot.api.calls_of("sendMessage")) == [1, 2, CHAT_ID]
    assert len(matched) == len(_seeds())  # every archived article once, for three digests
    assert bot.texts()[0].startswith("Daily digest, 2026-01-10: 2 stories")
    await bot.digests.digest(CHAT, now=bot.now + timedelta(minutes=1))
    assert len(matched) == 2 * len(_seeds())


async def test_two_workers_send_a_due_digest_once(bot: Bot) -> None:
    """Two processes ticking at the same moment: the slot claim lets one send."""
    await bot.file(list(_seeds().values()))
    await bot.chats.set_digest(CHAT, at="06:30", timezone="UTC", now=T0 - timedelta(days=1))
    other = Digests(bot.store, chats=bot.chats, rules=bot.digests.rules,
                    archive=bot.digests.archive, composer=bot.digests.composer)
    bot.now = T0 + timedelta(hours=1)
    sent = await asyncio.gather(bot.tick(), other.tick(dict(bot.channels), now=bot.now))
    assert sorted(sent) == [0, 1] and len(bot.texts()) == 1


async def test_a_429_on_the_digest_is_waited_out_and_it_arrives_once(bot: Bot) -> None:
    """Telegram's retry_after is honoured; the digest is posted exactly once."""
    await bot.file(list(_seeds().values()))
    bot.api.fail_next("sendMessage", 1, retry_after=1)
    assert await bot.digests.send_digest(CHAT, bot.channel, slot="d", now=T0) == 1
    assert bot.api.statuses("sendMessage") == [429, 200]
    assert len(bot.texts()) == 1


async def test_digests_take_their_slots_from_the_pace_alerts_share(bot: Bot) -> None:
    """A digest is paced like alerts: its messages are slots in the platform's shared window
    and the chat's interval (Redis), and a retry_after pause one worker recorded for the
    platform holds the digest back too (on the Redis clock, its slot comes after the pause)."""
    await bot.file(list(_seeds().values()))
    keys = bot.store.keys
    await bot.store.redis.delete(keys("pace", "telegram"), keys("pace", "telegram", CHAT))
    paused_until = int(await _redis_ms(bot.store)) + 800
    await bot.store.redis.set(keys("pace", "telegram", "pause"), paused_until, px=60_000)
    assert await bot.digests.send_digest(CHAT, bot.channel, slot="d", now=T0) == 1
    window = await bot.store.redis.zrange(keys("pace", "telegram"), 0, -1, withscores=True)
    assert len(window) == len(bot.texts()) == 1
    [(_member, granted)] = window
    assert granted >= paused_until  # the slot came after the pause (Redis clock)
    assert await bot.store.redis.exists(keys("pace", "telegram", CHAT))


async def _redis_ms(store: Store) -> float:
    seconds, micros = await store.redis.time()
    return seconds * 1000 + micros / 1000


# --- splitting ----------------------------------------------------------------------------


def _long_list(count: int) -> StoryList:
    stories = tuple(ListedStory(
        story_id=f"s{n}", headline=f"第{n}条 " + "<朝鲜&派兵>" * 40,
        url=f"https://example.com/{'x' * 300}/{n}", summary="摘要&" * 200,
        outlets=tuple((f"Outlet{i}&", f"https://o{i}.example/{n}") for i in range(30)))
        for n in range(1, count + 1))
    return StoryList(chat=CHAT, title="Daily digest, 2026-01-10: many stories",
                     stories=stories)


def test_telegram_digest_splits_between_stories_within_the_limit() -> None:
    """Forty worst-case stories become several messages, each within 4,096 units, each
    story in exactly one, numbered in order, with "part i of n" on every title."""
    messages = render_list_html(_long_list(40))
    assert len(messages) > 1
    seen = []
    for n, html in enumerate(messages, 1):
        assert utf16_len(html) <= MESSAGE_LIMIT
        text, _ = parse_html(html)
        assert text.startswith(f"Daily digest, 2026-01-10: many stories (part {n} of "
                               f"{len(messages)})")
        seen += [int(line.split(".")[0]) for line in text.split("\n\n")[1:]]
    assert seen == list(range(1, 41))


def test_slack_digest_splits_within_block_and_section_limits() -> None:
    """120 stories: every message within MAX_BLOCKS, every section within SECTION_LIMIT."""
    messages = render_list_blocks(_long_list(120))
    assert len(messages) == 3
    numbers = []
    for text, blocks in messages:
        assert len(blocks) <= MAX_BLOCKS and text.startswith("Daily digest")
        assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks)
        numbers += [int(b["text"]["text"].split(".")[0]) for b in blocks[1:]]
    assert numbers == list(range(1, 121))


# --- mute and quiet hours -----------------------------------------------------------------


async def test_mute_holds_alerts_and_releases_them_as_one_batch(bot: Bot) -> None:
    """Muted: nothing is sent, both matching stories are held. When the mute ends one message
    lists them; a report joining a story afterwards arrives as a fresh alert."""
    seeds = _seeds()
    await bot.chats.mute(CHAT, until=T0 + timedelta(hours=2), now=T0)
    await bot.file([seeds[n] for n in ("000", "001", "002", "004")])
    assert await bot.deliverer.drain() == 0
    assert bot.texts() == [] and len(await bot.chats.held(CHAT)) == 2
    bot.now = T0 + timedelta(hours=1)
    assert await bot.tick() == 0  # still muted
    bot.now = T0 + timedelta(hours=2, minutes=1)
    assert await bot.tick() == 1
    [batch] = bot.texts()
    assert batch.startswith(i18n.text("en", "held.title", count=2))
    assert BIG_STORY in batch and STORY_000 in batch
    assert await bot.chats.held(CHAT) == [] and await bot.chats.held_chats() == set()
    assert await bot.tick() == 0  # released once
    await bot.file([seeds["003"]])  # a third outlet joins the big story
    assert await bot.deliverer.drain() == 1
    assert len(bot.texts()) == 2 and "3 outlets" in bot.texts()[1]
    assert bot.api.calls_of("editMessageText") == []


async def test_quiet_hours_hold_overnight_and_release_in_the_morning(bot: Bot) -> None:
    """Quiet 22:00-07:00 Shanghai: an alert at 23:00 local waits until 07:00."""
    await bot.chats.set_timezone(CHAT, "Asia/Shanghai")
    await bot.chats.set_quiet_hours(CHAT, (datetime.strptime("22:00", "%H:%M").time(),
                                           datetime.strptime("07:00", "%H:%M").time()))
    bot.now = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    await bot.file([_seeds()["000"]])
    assert await bot.deliverer.drain() == 0 and await bot.chats.held(CHAT)
    bot.now = datetime(2026, 1, 10, 22, 59, tzinfo=UTC)  # 06:59
    assert await bot.tick() == 0
    bot.now = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)  # 07:00
    assert await bot.tick() == 1 and STORY_000 in bot.texts()[0]


async def test_held_alerts_can_go_into_the_next_digest_instead(bot: Bot) -> None:
    """With `/mute mode digest` the release sends nothing; the next digest lists the held
    stories (even past its 24 hours) and clears them."""
    await bot.chats.set_held_mode(CHAT, "digest")
    await bot.chats.mute(CHAT, until=T0 + timedelta(hours=1), now=T0)
    await bot.file([_seeds()["000"]])
    assert await bot.deliverer.drain() == 0
    bot.now = T0 + timedelta(hours=30)
    assert await bot.tick() == 0 and bot.texts() == []
    await bot.chats.set_digest(CHAT, at="12:00", timezone="UTC", now=bot.now)
    bot.now = (bot.now + timedelta(days=1)).replace(hour=12, minute=1)
    assert await bot.tick() == 1
    assert STORY_000 in bot.texts()[0] and await bot.chats.held(CHAT) == []


async def test_digest_honours_a_chat_rules_outlets(bot: Bot) -> None:
    """A chat whose only rule is `朝鲜 + 派兵 outlets>=3` gets the three-outlet story in its
    digest and not 000, which one outlet carries."""
    await bot.chats.unsubscribe(CHAT, TOPIC.name)
    await bot.chats.add_rule(CHAT, "朝鲜 + 派兵 outlets>=3")
    await bot.file(list(_seeds().values()))
    assert await bot.deliverer.drain() == 1  # the alert, once the third outlet joined
    bot.now = T0 + timedelta(hours=1)
    digest = await bot.digests.digest(CHAT)
    assert digest is not None
    assert [s.headline for s in digest.stories] == [BIG_STORY]
    assert [o for o, _ in digest.stories[0].outlets] == ["DW", "VOA", "unknown"]
