"""The batch pipeline over a real store: same stories and deliveries as one at a time, crash
safety of the batch path (markers set before placing, cleared as deliveries are queued), and
outcomes in replay order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from bot.archive import article_id
from bot.chats import ChatDirectory
from bot.dedup.index import StoryIndex
from bot.feeds.dating import date_articles
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, Delivery
from bot.outbox import Deliverer, Outbox
from bot.pipeline import Outcome, Pipeline, replay_order
from bot.routing import RuleBook
from bot.store import Store
from tests.conftest import SEEDS
from tests.test_pipeline import NOW, TOPIC, RecordingChannel

CHAT = "test:1"


class KilledError(Exception):
    """Stands for the process dying at that point."""


class CrashingOutbox(Outbox):
    """The real outbox, except that the process "dies" when queueing the `crash_at`-th batch
    of deliveries (nothing of that batch is written)."""

    def __init__(self, store: Store, *, crash_at: int) -> None:
        super().__init__(store)
        self.calls = 0
        self.crash_at = crash_at

    async def put_all(self, deliveries: Sequence[Delivery], *, clear: str | None = None
                      ) -> None:
        self.calls += 1
        if self.calls == self.crash_at:
            raise KilledError("killed while queueing")
        await super().put_all(deliveries, clear=clear)


async def _pipeline(store: Store, outbox: Outbox | None = None) -> Pipeline:
    """A pipeline with one chat subscribed to `朝鲜 + 派兵`, on a fixed clock."""
    chats = ChatDirectory(store)
    await chats.subscribe(CHAT, TOPIC.name)
    outbox = outbox or Outbox(store)
    await outbox.ensure_group()
    index = StoryIndex(store, window_seconds=72 * 3600, seen_seconds=30 * 86_400)
    return Pipeline(store, index=index, rules=RuleBook([TOPIC], chats), outbox=outbox,
                    clock=lambda: NOW)


def _raw_seeds() -> list[Article]:
    articles, errors = read_seed_folder(SEEDS)
    assert errors == [] and len(articles) == 5
    return articles


def _name(article: Article) -> str:
    return Path(article.path or "").name[:3]


async def _alerts(store: Store, outbox: Outbox) -> list[tuple[str, ...]]:
    """Deliver what is queued; the outlets of each alert sent (edits are not expected)."""
    channel = RecordingChannel()
    await Deliverer(store, outbox, {"test": channel}).drain()  # type: ignore[dict-item]
    assert channel.edits == []
    return sorted(tuple(sorted(a.story.outlets)) for a in channel.sent)


async def _clean_run(store: Store, key_prefix: str) -> list[tuple[str, ...]]:
    """The alerts the seeds give when nothing goes wrong, on a store of their own."""
    clean = Store(store.redis, prefix=f"{key_prefix}clean:")
    pipeline = await _pipeline(clean)
    await pipeline.process_many(_raw_seeds())
    return await _alerts(clean, pipeline.outbox)


async def _markers(store: Store) -> list[str]:
    return [k async for k in store.redis.scan_iter(match=store.keys.placing("*"))]


def _groups(outcomes: Sequence[Outcome]) -> dict[str, frozenset[str]]:
    """Story id -> the seed numbers placed in it."""
    members: dict[str, set[str]] = {}
    for o in outcomes:
        if o.assignment is not None:
            members.setdefault(o.assignment.story.id, set()).add(_name(o.article))
    return {sid: frozenset(names) for sid, names in members.items()}


def _summary(outcomes: Sequence[Outcome]) -> list[tuple[str, str | None, tuple[object, ...]]]:
    """Each outcome without its random story ids: seed, kind, and each delivery's chat, story
    (as its members) and rules."""
    groups = _groups(outcomes)
    return [(_name(o.article), o.assignment.kind if o.assignment else None,
             tuple((d.chat, groups.get(d.story_id), d.rule_ids) for d in o.deliveries))
            for o in outcomes]


async def test_a_batch_gives_the_stories_and_deliveries_of_one_at_a_time(
        store: Store, key_prefix: str) -> None:
    """`process_many` over the seeds (in any input order) places and routes them exactly as
    processing the same dated articles one at a time on a fresh store does."""
    single = Store(store.redis, prefix=f"{key_prefix}single:")
    batch = Store(store.redis, prefix=f"{key_prefix}batch:")
    one = await _pipeline(single)
    dated = replay_order(date_articles(_raw_seeds(), seen=NOW))
    singly = [await one.process(a) for a in dated]
    together = await (await _pipeline(batch)).process_many(_raw_seeds()[::-1])
    assert [o.article for o in together] == dated  # outcomes in replay order
    assert _summary(together) == _summary(singly)
    assert sorted(map(sorted, _groups(together).values())) == [
        ["000"], ["001", "002", "003"], ["004"]]
    assert sum(len(o.deliveries) for o in together) == 4  # 000; 001, 002, 003 as they join
    assert await Outbox(batch).depth() == await Outbox(single).depth() == 4


async def test_articles_an_interrupted_batch_placed_are_resumed_once(
        store: Store, key_prefix: str) -> None:
    """Markers left set by a run that placed its chunk (001, 002, 003, 004) and died before
    queueing: in the next batch those articles are copies whose stories are routed then, 000
    is new, each alert arrives once (as a clean run gives them) and no marker is left."""
    pipeline = await _pipeline(store)
    dated = replay_order(date_articles(_raw_seeds(), seen=NOW))
    chunk = [a for a in dated if _name(a) != "000"]
    for article in chunk:  # what the dead run had done: markers set, chunk placed
        await store.redis.set(store.keys.placing(article_id(article)), "1")
    placed = await pipeline.index.place_many(chunk, now=NOW)
    assert all(p.kind != "copy" for p in placed) and await pipeline.outbox.depth() == 0
    outcomes = {_name(o.article): o for o in await pipeline.process_many(_raw_seeds())}
    for name in ("001", "002", "003"):  # resumed: copies of themselves, routed all the same
        assert outcomes[name].assignment is None
        assert [d.chat for d in outcomes[name].deliveries] == [CHAT]
    assert outcomes["004"].assignment is None and outcomes["004"].deliveries == ()
    assert outcomes["000"].assignment is not None and outcomes["000"].deliveries
    clean = Store(store.redis, prefix=f"{key_prefix}clean:")  # the same batches, no crash
    reference = await _pipeline(clean)
    await reference.process_many(chunk)
    await reference.process_many(_raw_seeds())
    alerts = await _alerts(store, pipeline.outbox)
    assert alerts == await _alerts(clean, reference.outbox) and len(alerts) >= 2
    assert await _markers(store) == []
    again = await pipeline.process_many(_raw_seeds())
    assert all(o.assignment is None and o.deliveries == () for o in again)
    assert await _alerts(store, pipeline.outbox) == []


async def test_a_batch_killed_while_queueing_loses_and_repeats_no_alert(
        store: Store, key_prefix: str) -> None:
    """A batch that dies after queueing its first article's deliveries leaves the markers of
    the rest; the restart's batch resumes exactly those, and each chat gets each alert once."""
    crashing = CrashingOutbox(store, crash_at=2)
    with pytest.raises(KilledError):
        await (await _pipeline(store, crashing)).process_many(_raw_seeds())
    assert len(await _markers(store)) == 4  # queued: the first routed article (003)
    outbox = Outbox(store)
    assert await outbox.depth() == 1
    restarted = await _pipeline(store)
    outcomes = await restarted.process_many(_raw_seeds())
    resumed = [o for o in outcomes if o.assignment is None and o.deliveries]
    assert len(resumed) == 3  # the three matching articles not queued before the kill
    assert all(o.assignment is None for o in outcomes)  # all were placed by the first run
    assert await _alerts(store, outbox) == await _clean_run(store, key_prefix)
    assert await _markers(store) == []


async def test_a_marker_set_for_an_article_never_placed_is_a_plain_new_article(
        store: Store) -> None:
    """A marker the dead run set before placing anything does not turn the article into a
    resume: it is placed as new, routed, and its marker cleared."""
    pipeline = await _pipeline(store)
    article = next(a for a in _raw_seeds() if _name(a) == "001")
    marker = store.keys.placing(article_id(article))
    await store.redis.set(marker, "1")
    [outcome] = await pipeline.process_many([article])
    assert outcome.assignment is not None and outcome.assignment.kind == "new"
    assert [d.chat for d in outcome.deliveries] == [CHAT]
    assert await pipeline.outbox.depth() == 1 and not await store.redis.exists(marker)


async def test_the_same_article_twice_in_one_batch_is_placed_once_and_not_resumed(
        store: Store) -> None:
    """An article two feeds carry comes twice in one batch: the second is a copy, not taken
    for an interrupted run's article (its marker was set by the first), and queues nothing."""
    pipeline = await _pipeline(store)
    article = next(a for a in _raw_seeds() if _name(a) == "001")
    first, second = await pipeline.process_many([article, article])
    assert first.assignment is not None and len(first.deliveries) == 1
    assert second.assignment is None and second.deliveries == ()
    assert await pipeline.outbox.depth() == 1 and await _markers(store) == []


async def test_a_large_batch_is_placed_a_chunk_at_a_time_in_replay_order(store: Store) -> None:
    """`process_chunks` yields chunks of the given size whose articles, joined, are the whole
    batch in replay order; chunking changes none of the stories."""
    pipeline = await _pipeline(store)
    chunks = [chunk async for chunk in pipeline.process_chunks(_raw_seeds(), size=2)]
    assert [len(c) for c in chunks] == [2, 2, 1]
    dated = replay_order(date_articles(_raw_seeds(), seen=NOW))
    assert [o.article for c in chunks for o in c] == dated
    outcomes = [o for c in chunks for o in c]
    assert sorted(map(sorted, _groups(outcomes).values())) == [
        ["000"], ["001", "002", "003"], ["004"]]


def test_replay_order_is_total_and_ignores_the_input_order() -> None:
    """Articles sharing one time are ordered by article id, undated ones last, whatever order
    they come in."""
    seeds = _raw_seeds()
    when = seeds[0].published
    same = [replace(a, published=when) for a in seeds if a.published is not None]
    undated = [a for a in seeds if a.published is None]
    ordered = replay_order([*same, *undated])
    assert ordered == replay_order([*undated, *same[::-1]])
    assert [article_id(a) for a in ordered[:-1]] == sorted(article_id(a) for a in same)
    assert ordered[-1:] == undated


async def test_an_undated_report_polled_alone_is_read_in_the_time_of_the_news(
        store: Store) -> None:
    """An undated report that comes alone (its feed carries nothing dated) is read against the
    newest feed time read before, not the wall clock: replaying 2024 news in 2026, seed 003
    (`周一(10月21日)`) is dated 2024-10-21 and joins the story of 001 and 002."""
    pipeline = await _pipeline(store)
    seeds = {_name(a): a for a in _raw_seeds()}
    first = await pipeline.process_many([seeds["001"], seeds["002"], seeds["004"]])
    [late] = await pipeline.process_many([replace(seeds["003"], feed_id="another feed")])
    assert late.article.time_source == "text" and late.article.published is not None
    assert late.article.published.date().isoformat() == "2024-10-21"
    assert late.assignment is not None and late.assignment.kind == "joined"
    summons = next(o for o in first if _name(o.article) == "001")
    assert summons.assignment is not None
    assert late.assignment.story.id == summons.assignment.story.id
