"""Story assignment over the store: exact copies first, then the best story centroid.

Layer one drops copies by canonical URL, GUID and normalized title (per outlet). Layer two
finds candidate stories through an inverted index of salient terms in Redis (never a scan),
scores each candidate's centroid by cosine, and joins the best above `threshold`; otherwise
the article starts a new story. Dated articles only meet stories within the window of their
own publication time (so replayed 2024 articles group by 2024 times); an undated article is
placed at its first-seen time and meets the most recent candidates, with no time preference.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bot.dedup.features import Features, cosine, features, merge
from bot.models import Article, Story, StoryArticle
from bot.store import Store, story_from_json, story_to_json
from bot.text import canonical_url, normalized_title

DEFAULT_THRESHOLD = 0.42
MAX_CANDIDATES = 8
POSTINGS_PER_TERM = 64
UNDATED_POSTINGS = 32


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where an article went: a new story or an existing one."""

    story: Story
    kind: Literal["new", "joined"]
    score: float = 1.0


def exact_keys(article: Article) -> list[tuple[str, str]]:
    """The (kind, digest) pairs under which a copy of this article would be found."""
    keys: list[tuple[str, str]] = []
    if article.url:
        keys.append(("url", _digest(canonical_url(article.url))))
    if article.guid:
        keys.append(("guid", _digest(f"{article.outlet}\n{article.guid}")))
    title = normalized_title(article.title)
    if title:
        keys.append(("title", _digest(f"{article.outlet}\n{title}")))
    return keys


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


class StoryIndex:
    """Assigns articles to stories in the store; safe to share between workers."""

    def __init__(self, store: Store, *, window_seconds: int, seen_seconds: int,
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.store = store
        self.window = window_seconds
        self.seen_ttl = seen_seconds
        self.threshold = threshold

    async def find_copy(self, article: Article) -> str | None:
        """The story id an exact copy of `article` already belongs to, if any."""
        keys = [self.store.keys.seen(kind, d) for kind, d in exact_keys(article)]
        found = await self.store.redis.mget(keys) if keys else []
        return next((story_id for story_id in found if story_id), None)

    async def assign(self, article: Article, *, now: datetime) -> Assignment | None:
        """Put `article` into the story it reports, creating one if none fits.

        Returns None for a copy of an article already placed (even if its story aged out).
        """
        feats = features(article)
        async with self.store.lease("assign"):
            if await self.find_copy(article):
                return None
            when = article.published or now
            best, score = await self._best_candidate(feats, article.published)
            if best is None:
                story = await self._create(article, feats, when=when, now=now)
                return Assignment(story, "new")
            story = await self._join(best, article, feats, when=when, now=now, score=score)
            return Assignment(story, "joined", score)

    async def _best_candidate(self, feats: Features, published: datetime | None
                              ) -> tuple[str | None, float]:
        """The best-scoring candidate story id above the threshold, with its score."""
        hits: Counter[str] = Counter()
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for term in feats.salient:
                key = self.store.keys.term(term)
                if published is None:
                    pipe.zrevrange(key, 0, UNDATED_POSTINGS - 1)
                else:
                    t = published.timestamp()
                    pipe.zrangebyscore(key, t - self.window, t + self.window,
                                       start=0, num=POSTINGS_PER_TERM)
            for ids in await pipe.execute():
                hits.update(ids)
        candidates = [story_id for story_id, _ in hits.most_common(MAX_CANDIDATES)]
        if not candidates:
            return None, 0.0
        vectors = await self.store.redis.mget(
            [self.store.keys.story_vector(c) for c in candidates])
        scored = [(cosine(feats.vector, json.loads(raw)), c)
                  for c, raw in zip(candidates, vectors, strict=True) if raw]
        score, best = max(scored, default=(0.0, ""))
        return (best, score) if best and score >= self.threshold else (None, score)

    async def _create(self, article: Article, feats: Features, *, when: datetime,
                      now: datetime) -> Story:
        story_id = f"{when:%Y%m%d}-{secrets.token_hex(3)}"
        member = _member(article, when=when, score=1.0, reason="new story")
        story = Story(id=story_id, headline=article.title, first_seen=now, updated=now,
                      version=1, articles=(member,))
        event_time = when.timestamp() if article.published else None
        await self._write(story, feats.vector, article, feats, event_time=event_time)
        return story

    async def _join(self, story_id: str, article: Article, feats: Features, *, when: datetime,
                    now: datetime, score: float) -> Story:
        raw, raw_vec = await self.store.redis.mget(
            [self.store.keys.story(story_id), self.store.keys.story_vector(story_id)])
        current, event_time = story_from_json(raw)
        reason = f"cosine {score:.2f} >= {self.threshold:.2f}"
        member = _member(article, when=when, score=score, reason=reason)
        story = replace(current, updated=now, version=current.version + 1,
                        articles=(*current.articles, member))
        if article.published:
            t = article.published.timestamp()
            event_time = t if event_time is None else min(event_time, t)
        centroid = merge(json.loads(raw_vec), feats.vector, len(current.articles))
        await self._write(story, centroid, article, feats, event_time=event_time)
        return story

    async def _write(self, story: Story, centroid: dict[str, float], article: Article,
                     feats: Features, *, event_time: float | None) -> None:
        """Store the story, its centroid, the article's index terms and copy keys."""
        keys, ttl = self.store.keys, self.window + 86_400
        index_time = event_time if event_time is not None else story.first_seen.timestamp()
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.story(story.id), story_to_json(story, event_time=event_time), ex=ttl)
            pipe.set(keys.story_vector(story.id), json.dumps(centroid, ensure_ascii=False),
                     ex=ttl)
            pipe.zadd(keys.stories(), {story.id: story.first_seen.timestamp()})
            pipe.zremrangebyscore(keys.stories(), "-inf", story.updated.timestamp() - ttl)
            for term in feats.salient:
                pipe.zadd(keys.term(term), {story.id: index_time})
                pipe.zremrangebyrank(keys.term(term), 0, -POSTINGS_PER_TERM * 4 - 1)
                pipe.expire(keys.term(term), self.window)
            for kind, digest in exact_keys(article):
                pipe.set(keys.seen(kind, digest), story.id, ex=self.seen_ttl, nx=True)
            await pipe.execute()


def _member(article: Article, *, when: datetime, score: float, reason: str) -> StoryArticle:
    return StoryArticle(outlet=article.outlet, title=article.title, url=article.url, time=when,
                        dated=article.published is not None, path=article.path,
                        score=round(score, 4), reason=reason)
