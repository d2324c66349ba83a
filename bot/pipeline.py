"""article -> story -> matched rules -> chats -> outbox, a batch of articles at a time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.archive import Archive, article_id
from bot.dedup.index import Assignment, Placement, StoryIndex
from bot.feeds.dating import date_articles
from bot.metrics import Metrics
from bot.models import Article, Delivery, Story
from bot.outbox import Outbox
from bot.routing import RuleBook
from bot.rules.engine import RuleSet
from bot.store import Store

log = logging.getLogger(__name__)

CHUNK = 500  # articles marked, placed and queued together
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing one article did."""

    article: Article
    assignment: Assignment | None
    deliveries: tuple[Delivery, ...] = ()


@dataclass(slots=True)
class _Step:
    """One article of a chunk on its way: the story it is routed with, if any, and what for."""

    article: Article
    marker: str
    assignment: Assignment | None = None
    story: Story | None = None  # placed or resumed: the story to archive it under and route
    matched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    deliveries: tuple[Delivery, ...] = ()

    def outcome(self) -> Outcome:
        """The step as the caller sees it."""
        return Outcome(self.article, self.assignment, self.deliveries)


def replay_order(articles: Iterable[Article]) -> list[Article]:
    """Dated articles oldest first, then undated ones, ties broken by article id (then by
    every other field), so a replay places the same articles in the same order every time."""
    return sorted(articles, key=_replay_key)


def _replay_key(a: Article) -> tuple[bool, datetime, str, str, str, str, str, str, str]:
    return (a.published is None, a.published or _EPOCH, article_id(a), a.feed_id,
            a.path or "", a.url or "", a.guid or "", a.title, a.text)


class Pipeline:
    """Runs new articles through dedup, matching and routing into the outbox."""

    def __init__(self, store: Store, *, index: StoryIndex, rules: RuleBook, outbox: Outbox,
                 archive: Archive | None = None, metrics: Metrics | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.metrics = metrics if metrics is not None else Metrics()
        self.archive = archive or Archive(store, ttl=index.window + 86_400)
        self.index = index
        self.rules = rules
        self.outbox = outbox
        self.clock = clock

    async def process(self, article: Article) -> Outcome:
        """Place one article and queue the alerts or updates it causes (`process_many`)."""
        return (await self.process_many([article]))[0]

    async def process_many(self, articles: Sequence[Article]) -> list[Outcome]:
        """Place `articles` and queue the alerts or updates they cause; one outcome per
        article, in replay order.

        Crash-safe: a marker is set for each article before it is placed and cleared in the
        transaction that queues its deliveries. An article that turns out to be a copy while
        its marker was already set had been placed by a run that stopped before queueing (a
        crash, a kill -9, Redis going away): its story is matched and routed again. So a
        restart drops no alert, and repeats none, delivery being idempotent per chat, story
        and version (bot/outbox.py).
        """
        return [outcome async for chunk in self.process_chunks(articles) for outcome in chunk]

    async def process_chunks(self, articles: Sequence[Article], *, size: int = CHUNK
                             ) -> AsyncIterator[list[Outcome]]:
        """`process_many`, yielding each chunk's outcomes once its deliveries are queued: the
        whole batch is dated (a feed's items are context for each other) and put in replay
        order, then placed and queued `size` articles at a time."""
        seen = self.clock()
        news = await self._news_time(articles)
        ordered = replay_order(date_articles(articles, seen=seen, news=news))
        for start in range(0, len(ordered), size):
            yield await self._process_chunk(ordered[start:start + size])

    async def _news_time(self, articles: Sequence[Article]) -> datetime | None:
        """The newest feed time the bot has read, these `articles` included (kept in the
        store, so every worker and every restart shares it); None before any."""
        newest = max((a.published for a in articles if a.published is not None), default=None)
        return await self.store.news_time(newest)

    async def _process_chunk(self, articles: Sequence[Article]) -> list[Outcome]:
        """Mark, place, then archive, match, route and queue articles in replay order."""
        ruleset = await self.rules.current()
        now = self.clock()
        markers = [self.store.keys.placing(article_id(a)) for a in articles]
        interrupted = await self._mark(markers)
        placements = await self.index.place_many(articles, now=now)
        steps = await self._steps(articles, markers, placements=placements,
                                  interrupted=interrupted)
        live = [step for step in steps if step.story is not None]
        await self.archive.add_many([(step.article, _story(step).id) for step in live],
                                    seen_at=now)
        await self._record_matches(live, ruleset)
        await self._route(live)
        await self._queue(steps)
        _log_chunk(steps)
        return [step.outcome() for step in steps]

    async def _mark(self, markers: Sequence[str]) -> list[bool]:
        """Set every article's marker in one round trip; True where an earlier run had set
        it (not an earlier article of the same chunk: a copy within the chunk is no resume)."""
        before = await self.store.mark_placing(markers, ttl=self.index.seen_ttl)
        first: dict[str, int] = {}
        return [first.setdefault(marker, i) == i and was
                for i, (marker, was) in enumerate(zip(markers, before, strict=True))]

    async def _steps(self, articles: Sequence[Article], markers: Sequence[str], *,
                     placements: Sequence[Placement], interrupted: Sequence[bool]
                     ) -> list[_Step]:
        """What each placement leaves to do: route a new or joined story, resume the story
        of a copy an interrupted run had placed (unless it aged out), or nothing."""
        resumed = list(dict.fromkeys(p.story_id for p, was in zip(placements, interrupted,
                                                                   strict=True)
                                     if was and (p.kind == "copy" or p.story is None)))
        stories = dict(zip(resumed, await self.store.get_stories(resumed), strict=True))
        steps: list[_Step] = []
        for article, marker, placed, was in zip(articles, markers, placements, interrupted,
                                                strict=True):
            step = _Step(article, marker)
            if placed.kind != "copy" and placed.story is not None:
                step.assignment = Assignment(placed.story, placed.kind, placed.score)
                step.story = placed.story
            elif was:
                step.story = stories.get(placed.story_id)
            self.metrics.processed(step.assignment)
            steps.append(step)
        return steps

    async def _record_matches(self, steps: Sequence[_Step], ruleset: RuleSet) -> None:
        """Merge each article's matches into its story's record, in order; each step's story
        then carries all the matches of its story up to and including its article."""
        ids = list(dict.fromkeys(_story(step).id for step in steps))
        records = await self.store.matched_many(ids)
        changed: dict[str, dict[str, tuple[str, ...]]] = {}
        for step in steps:
            story = _story(step)
            record = records[story.id]
            step.matched = ruleset.match(step.article)
            for rule_id, terms in step.matched.items():
                record[rule_id] = tuple(sorted(set(terms) | set(record.get(rule_id, ()))))
                changed.setdefault(story.id, {})[rule_id] = record[rule_id]
            step.story = replace(story, matched=dict(sorted(record.items())))
        await self._store_matches(changed)

    async def _store_matches(self, changed: Mapping[str, Mapping[str, tuple[str, ...]]]
                             ) -> None:
        """Write the changed match records in one transaction."""
        if changed:
            await self.store.merge_matched(changed, ttl=self.index.window + 86_400)

    async def _route(self, steps: Sequence[_Step]) -> None:
        """Give each step one delivery per chat that should hear about its story now
        (bot/routing.py), the chats already alerted about it included."""
        stories = [_story(step) for step in steps]
        alerted = await self.store.alerted_chats(list(dict.fromkeys(s.id for s in stories)))
        routed = await self.rules.route(stories, alerted=alerted)
        for step, deliveries in zip(steps, routed, strict=True):
            step.deliveries = deliveries

    async def _queue(self, steps: Sequence[_Step]) -> None:
        """Queue each step's deliveries with its marker's clearing, in order; then clear the
        markers of the steps that queued nothing."""
        idle: list[str] = []
        for step in steps:
            if step.deliveries:
                await self.outbox.put_all(step.deliveries, clear=step.marker)
            else:
                idle.append(step.marker)
            if step.story is not None:
                _log(step)
        if idle:
            await self.store.clear_placing(list(dict.fromkeys(idle)))


def _story(step: _Step) -> Story:
    """The story of a step that has one."""
    assert step.story is not None
    return step.story


def _log(step: _Step) -> None:
    """The log line of an article placed, or of one whose routing was redone."""
    story = _story(step)
    if step.assignment is None:
        log.warning("pipeline: routing redone for an article an interrupted run had placed",
                    extra={"kv": {"outlet": step.article.outlet, "story_id": story.id,
                                  "deliveries": len(step.deliveries)}})
        return
    log.debug("pipeline: article placed", extra={"kv": {
        "outlet": step.article.outlet, "story_id": story.id, "kind": step.assignment.kind,
        "rules": ",".join(step.matched), "deliveries": len(step.deliveries)}})


def _log_chunk(steps: Sequence[_Step]) -> None:
    """One INFO line per chunk (a large poll is a few lines, not one per article): how many
    articles were placed (new stories, joined), were copies, and the deliveries queued."""
    kinds = [step.assignment.kind for step in steps if step.assignment is not None]
    new = sum(kind == "new" for kind in kinds)
    log.info("pipeline: articles placed", extra={"kv": {
        "articles": len(steps), "placed": len(kinds), "new_stories": new,
        "joined": len(kinds) - new, "duplicates": len(steps) - len(kinds),
        "deliveries": sum(len(step.deliveries) for step in steps)}})
