"""article -> story -> matched rules -> chats -> outbox: one plain step per article."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.archive import Archive, article_id
from bot.dedup.index import Assignment, StoryIndex
from bot.metrics import METRICS
from bot.models import Article, Delivery, Story
from bot.outbox import Outbox
from bot.rules.book import RuleBook
from bot.rules.engine import RuleSet
from bot.store import Store, decode_matched, done

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing one article did."""

    article: Article
    assignment: Assignment | None
    deliveries: tuple[Delivery, ...] = ()


def replay_order(articles: Iterable[Article]) -> list[Article]:
    """Dated articles oldest first, then undated ones, so replays group by their own times."""
    return sorted(articles, key=lambda a: (a.published is None,
                                           a.published or datetime.min.replace(tzinfo=UTC)))


class Pipeline:
    """Runs each new article through dedup, matching and routing into the outbox."""

    def __init__(self, store: Store, *, index: StoryIndex, rules: RuleBook, outbox: Outbox,
                 archive: Archive | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.archive = archive or Archive(store, ttl=index.window + 86_400)
        self.index = index
        self.rules = rules
        self.outbox = outbox
        self.clock = clock

    async def process(self, article: Article) -> Outcome:
        """Place one article and queue the alerts or updates it causes.

        Crash-safe: a marker is set for the article before it is placed and cleared in the
        transaction that queues its deliveries. An article that turns out to be a copy while
        its marker was already set had been placed by a run that stopped before queueing (a
        crash, a kill -9, Redis going away): its story is matched and routed again. So a
        restart drops no alert, and repeats none, delivery being idempotent per chat, story
        and version (bot/outbox.py).
        """
        ruleset = await self.rules.current()
        now = self.clock()
        marker = self.store.keys.placing(article_id(article))
        interrupted = await self.store.redis.set(marker, "1", ex=self.index.seen_ttl, get=True)
        placed = await self.index.place(article, now=now)
        assignment = (Assignment(placed.story, placed.kind, placed.score)
                      if placed.kind != "copy" and placed.story is not None else None)
        METRICS.processed(assignment)
        if assignment is None:
            if interrupted is not None:
                return await self._resume(article, placed.story_id, ruleset, marker, now=now)
            await done(self.store.redis.delete(marker))
            return Outcome(article, None)
        await self.archive.add(article, story_id=assignment.story.id, seen_at=now)
        matched = ruleset.match(article)
        story = replace(assignment.story,
                        matched=await self._record_matches(assignment.story.id, matched))
        deliveries = await self._route(story)
        await self.outbox.put_all(deliveries, clear=marker)
        log.info("pipeline: article placed", extra={"kv": {
            "outlet": article.outlet, "story_id": assignment.story.id, "kind": assignment.kind,
            "rules": ",".join(matched), "deliveries": len(deliveries)}})
        return Outcome(article, assignment, tuple(deliveries))

    async def _resume(self, article: Article, story_id: str, ruleset: RuleSet, marker: str, *,
                      now: datetime) -> Outcome:
        """Finish what an interrupted run left undone for `article`, already in `story_id`:
        archive it, merge its matches, route the story and queue the deliveries."""
        story = await self.store.get_story(story_id)
        if story is None:  # aged out since
            await done(self.store.redis.delete(marker))
            return Outcome(article, None)
        await self.archive.add(article, story_id=story.id, seen_at=now)
        matched = ruleset.match(article)
        story = replace(story, matched=await self._record_matches(story.id, matched))
        deliveries = await self._route(story)
        await self.outbox.put_all(deliveries, clear=marker)
        log.warning("pipeline: routing redone for an article an interrupted run had placed",
                    extra={"kv": {"outlet": article.outlet, "story_id": story.id,
                                  "deliveries": len(deliveries)}})
        return Outcome(article, None, tuple(deliveries))

    async def _record_matches(self, story_id: str, matched: Mapping[str, tuple[str, ...]]
                              ) -> dict[str, tuple[str, ...]]:
        """Merge this article's matches into the story's record; returns all of the story's."""
        key = self.store.keys.story_matched(story_id)
        stored = decode_matched(await done(self.store.redis.hgetall(key)))
        if not matched:
            return stored
        for rule_id, terms in matched.items():
            stored[rule_id] = tuple(sorted(set(terms) | set(stored.get(rule_id, ()))))
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={rule_id: json.dumps(stored[rule_id], ensure_ascii=False)
                                    for rule_id in matched})
            pipe.expire(key, self.index.window + 86_400)
            await pipe.execute()
        return stored

    async def _route(self, story: Story) -> list[Delivery]:
        """One delivery per chat that should hear about `story` (with all its matches) now."""
        by_chat: dict[str, list[str]] = {}
        for rule_id in story.matched:
            rule = self.rules.rule(rule_id)
            if rule is None or len(story.outlets) < rule.min_outlets:
                continue
            for chat in await self.rules.chats_for(rule):
                by_chat.setdefault(chat, []).append(rule_id)
        alerted = await done(self.store.redis.smembers(self.store.keys.story_chats(story.id)))
        for chat in alerted:
            by_chat.setdefault(chat, [])
        return [Delivery(chat=chat, story_id=story.id, rule_ids=tuple(rules))
                for chat, rules in sorted(by_chat.items())]
