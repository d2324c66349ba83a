"""The pipeline over a real store: seeds grouped into stories, routed, delivered once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.chats import ChatDirectory
from bot.dedup.index import StoryIndex
from bot.errors import RetryAfterError
from bot.feeds.dating import date_articles
from bot.feeds.seeds import read_seed_folder
from bot.models import Alert, Article, Topic
from bot.outbox import Deliverer, Outbox
from bot.pipeline import Pipeline, replay_order
from bot.routing import RuleBook
from bot.store import Store
from tests.conftest import SEEDS

TOPIC = Topic(name="dprk-troops", expression="朝鲜 + 派兵")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingChannel:
    """A chat peer that records what it was sent; optionally rate-limits the first calls."""

    platform = "test"

    def __init__(self, *, rate_limited: int = 0) -> None:
        self.sent: list[Alert] = []
        self.edits: list[tuple[str, Alert]] = []
        self.rate_limited = rate_limited

    async def send(self, alert: Alert) -> str:
        if self.rate_limited:
            self.rate_limited -= 1
            raise RetryAfterError("slow down", retry_after=0.01)
        self.sent.append(alert)
        return f"m{len(self.sent)}"

    async def edit(self, ref: str, alert: Alert) -> None:
        self.edits.append((ref, alert))


async def _setup(store: Store, channel: RecordingChannel) -> tuple[Pipeline, Deliverer]:
    chats = ChatDirectory(store)
    await chats.subscribe("test:1", TOPIC.name)
    outbox = Outbox(store)
    await outbox.ensure_group()
    index = StoryIndex(store, window_seconds=72 * 3600, seen_seconds=30 * 86_400)
    pipeline = Pipeline(store, index=index, rules=RuleBook([TOPIC], chats), outbox=outbox,
                        clock=lambda: NOW)
    return pipeline, Deliverer(store, outbox, {"test": channel})


def _seeds() -> list[Article]:
    """The seeds as one poll gives them to the pipeline: dated together (003 by its feed
    mates), in replay order, so that they can also be processed one at a time."""
    articles, _ = read_seed_folder(SEEDS)
    return replay_order(date_articles(articles, seen=NOW))


def _name(article: Article) -> str:
    return Path(article.path or "").name[:3]


async def test_seeds_group_into_three_stories(store: Store) -> None:
    """001, 002 and 003 form one story; 000 and 004 are stories of their own."""
    pipeline, _ = await _setup(store, RecordingChannel())
    groups: dict[str, set[str]] = {}
    for article in _seeds():
        outcome = await pipeline.process(article)
        assert outcome.assignment is not None
        groups.setdefault(outcome.assignment.story.id, set()).add(_name(article))
    assert sorted(map(sorted, groups.values())) == [["000"], ["001", "002", "003"], ["004"]]


async def test_seeds_give_two_alerts_and_the_big_story_lists_three_outlets(store: Store) -> None:
    """Delivery after the batch sends one alert per matching story, none for 004."""
    channel = RecordingChannel()
    pipeline, deliverer = await _setup(store, channel)
    for article in _seeds():
        await pipeline.process(article)
    assert await deliverer.drain() == 2
    outlets = sorted(len(a.story.outlets) for a in channel.sent)
    assert outlets == [1, 3] and channel.edits == []
    assert all(set(a.terms) == {"朝鲜", "派兵"} for a in channel.sent)
    assert await deliverer.drain() == 0  # nothing left, nothing repeated


async def test_later_outlet_edits_the_alert_already_sent(store: Store) -> None:
    """A report joining an alerted story edits that alert instead of sending another."""
    channel = RecordingChannel()
    pipeline, deliverer = await _setup(store, channel)
    by_name = {_name(a): a for a in _seeds()}
    await pipeline.process(by_name["001"])
    assert await deliverer.drain() == 1
    await pipeline.process(by_name["002"])
    assert await deliverer.drain() == 1
    assert len(channel.sent) == 1 and len(channel.edits) == 1
    ref, alert = channel.edits[0]
    assert ref == "m1" and alert.story.outlets == ("DW", "VOA")


async def test_copies_are_dropped(store: Store) -> None:
    """The same article again, or with tracking parameters in its URL, is not processed."""
    pipeline, _ = await _setup(store, RecordingChannel())
    article = next(a for a in _seeds() if _name(a) == "002")
    assert (await pipeline.process(article)).assignment is not None
    assert (await pipeline.process(article)).assignment is None
    tracked = replace(article, url=f"{article.url}?utm_source=x&fbclid=y", title="new title")
    assert (await pipeline.process(tracked)).assignment is None


async def test_retry_after_is_honoured_and_alert_arrives_once(store: Store) -> None:
    """A platform rate limit is waited out and the alert is then sent exactly once."""
    channel = RecordingChannel(rate_limited=2)
    pipeline, deliverer = await _setup(store, channel)
    await pipeline.process(next(a for a in _seeds() if _name(a) == "001"))
    assert await deliverer.drain() == 1
    assert len(channel.sent) == 1


async def test_unmatched_story_is_not_routed(store: Store) -> None:
    """Seed 004 (arms trade) matches no rule and queues nothing."""
    pipeline, _ = await _setup(store, RecordingChannel())
    outcome = await pipeline.process(next(a for a in _seeds() if _name(a) == "004"))
    assert outcome.assignment is not None and outcome.deliveries == ()


@pytest.mark.parametrize("hours", [0, 30, 71])
async def test_window_uses_article_time_not_wall_clock(store: Store, hours: int) -> None:
    """Old reports a few hours apart still group, whatever today's date is."""
    pipeline, _ = await _setup(store, RecordingChannel())
    by_name = {_name(a): a for a in _seeds()}
    first = await pipeline.process(by_name["001"])
    moved = replace(by_name["002"], published=by_name["001"].published
                    + timedelta(hours=hours))  # type: ignore[operator]
    second = await pipeline.process(moved)
    assert first.assignment and second.assignment
    assert second.assignment.story.id == first.assignment.story.id


async def test_entries_of_a_vanished_worker_are_claimed_and_delivered_once(store: Store) -> None:
    """Entries another worker read but never acknowledged are taken over, not lost."""
    channel = RecordingChannel()
    pipeline, _ = await _setup(store, channel)
    await pipeline.process(next(a for a in _seeds() if _name(a) == "001"))
    outbox = Outbox(store)
    assert len(await outbox.read("crashed-worker")) == 1  # read, then the worker dies
    survivor = Deliverer(store, outbox, {"test": channel}, consumer="survivor",
                         claim_idle_ms=0)
    assert await survivor.drain() == 1
    assert await survivor.drain() == 0 and len(channel.sent) == 1
    assert await outbox.depth() == 0


async def test_failing_channel_dead_letters_after_max_attempts(store: Store) -> None:
    """A delivery that keeps failing is retried, then parked in the dead-letter list."""
    from bot.errors import ChannelError
    from bot.outbox import MAX_ATTEMPTS

    class Broken(RecordingChannel):
        async def send(self, alert: Alert) -> str:
            raise ChannelError("test: chat not found")

    pipeline, _ = await _setup(store, Broken())
    outbox = Outbox(store)
    deliverer = Deliverer(store, outbox, {"test": Broken()})
    await pipeline.process(next(a for a in _seeds() if _name(a) == "001"))
    assert await deliverer.drain() == 0
    dead = await store.redis.lrange(outbox.dead, 0, -1)
    assert len(dead) == 1 and "chat not found" in dead[0]
    assert await outbox.depth() == 0 and MAX_ATTEMPTS == 5


async def test_deleted_alert_is_posted_again_when_the_story_grows(store: Store) -> None:
    """If the user deleted the alert, the next update is sent as a new message, not lost."""
    from bot.errors import MessageGoneError

    class Deleted(RecordingChannel):
        async def edit(self, ref: str, alert: Alert) -> None:
            raise MessageGoneError(f"test: message {ref} is gone")

    channel = Deleted()
    pipeline, _ = await _setup(store, channel)
    deliverer = Deliverer(store, Outbox(store), {"test": channel})
    by_name = {_name(a): a for a in _seeds()}
    await pipeline.process(by_name["001"])
    await deliverer.drain()
    await pipeline.process(by_name["002"])
    assert await deliverer.drain() == 1
    assert [a.story.outlets for a in channel.sent] == [("DW",), ("DW", "VOA")]
    assert await store.redis.hget(store.keys.sent("test:1", channel.sent[0].story.id),
                                  "ref") == "m2"


async def test_a_chat_rule_with_outlets_alerts_once_the_story_reaches_that_many(
        store: Store) -> None:
    """`朝鲜 + 派兵 outlets>=2`: 000 and 001 match but are one outlet each, so nothing goes
    out; 002 (VOA) joins 001's story (DW), which then alerts once, listing both outlets."""
    channel = RecordingChannel()
    pipeline, deliverer = await _setup(store, channel)
    chats = ChatDirectory(store)
    await chats.unsubscribe("test:1", TOPIC.name)
    await chats.add_rule("test:1", "朝鲜 + 派兵 outlets>=2")
    by_name = {_name(a): a for a in _seeds()}
    for name in ("000", "001"):
        outcome = await pipeline.process(by_name[name])
        assert outcome.assignment is not None and outcome.deliveries == ()
        key = store.keys.story_matched(outcome.assignment.story.id)
        assert "chat:test:1:1" in await store.redis.hkeys(key)
    assert await deliverer.drain() == 0
    joined = await pipeline.process(by_name["002"])
    assert [d.chat for d in joined.deliveries] == ["test:1"]
    assert await deliverer.drain() == 1
    [alert] = channel.sent
    assert alert.story.outlets == ("DW", "VOA") and set(alert.terms) == {"朝鲜", "派兵"}
