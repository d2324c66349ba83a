"""The archive: recent articles kept with their text for backtests (`rules test`, `/rule
test`).

Stories keep only titles and links; rules are tested against full text, so the pipeline also
files each placed article here for the story window, indexed by first-seen time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.models import Article, TimeSource
from bot.store.base import Records, RecordsOf, done


def article_id(article: Article) -> str:
    """A stable id for an article (its URL, GUID or title within its outlet)."""
    ident = article.url or article.guid or article.title
    return hashlib.blake2b(f"{article.outlet}\n{ident}".encode(), digest_size=10).hexdigest()


class Archive(RecordsOf):
    """Articles of the last `ttl` seconds, with text, in the store."""

    def __init__(self, store: Records, *, ttl: int) -> None:
        super().__init__(store)
        self.ttl = ttl
        self.index = store.keys("articles")

    async def add(self, article: Article, *, story_id: str, seen_at: datetime) -> None:
        """File one article under its story."""
        await self.add_many([(article, story_id)], seen_at=seen_at)

    async def add_many(self, filed: Sequence[tuple[Article, str]], *, seen_at: datetime
                       ) -> None:
        """File (article, story id) pairs, all in one transaction (one round trip)."""
        if not filed:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for article, story_id in filed:
                aid = article_id(article)
                pipe.set(self.keys("article", aid), json.dumps(_record(article, story_id),
                                                               ensure_ascii=False), ex=self.ttl)
                pipe.zadd(self.index, {aid: seen_at.timestamp()})
                pipe.rpush(self.keys("story", story_id, "articles"), aid)
                pipe.expire(self.keys("story", story_id, "articles"), self.ttl)
            pipe.zremrangebyscore(self.index, "-inf", seen_at.timestamp() - self.ttl)
            await pipe.execute()

    async def since(self, since: datetime) -> list[tuple[Article, str]]:
        """(article, story id) for articles first seen at or after `since`, oldest first."""
        ids = await self.redis.zrangebyscore(self.index, since.timestamp(), "+inf")
        found: list[tuple[Article, str]] = []
        for start in range(0, len(ids), 500):
            keys = [self.keys("article", aid) for aid in ids[start:start + 500]]
            found += [_article(json.loads(raw)) for raw in await self.redis.mget(keys)
                      if raw]
        return found

    async def count_since(self, since: float) -> int:
        """How many articles were first seen at or after `since` (a Unix time)."""
        return int(await self.redis.zcount(self.index, since, "+inf"))

    async def of_story(self, story_id: str) -> list[Article]:
        """The archived articles of one story, in the order they joined it."""
        ids = await done(self.redis.lrange(self.keys("story", story_id, "articles"), 0, -1))
        keys = [self.keys("article", aid) for aid in dict.fromkeys(ids)]
        raws = await self.redis.mget(keys) if keys else []
        return [_article(json.loads(raw))[0] for raw in raws if raw]


def _record(article: Article, story_id: str) -> dict[str, object]:
    return {"outlet": article.outlet, "title": article.title, "text": article.text,
            "url": article.url, "guid": article.guid, "language": article.language,
            "published": article.published.timestamp() if article.published else None,
            "feed_id": article.feed_id, "path": article.path, "story": story_id,
            "time_source": article.time_source, "time_evidence": article.time_evidence}


def _article(data: dict[str, object]) -> tuple[Article, str]:
    published = data.get("published")
    return Article(
        outlet=str(data["outlet"]), title=str(data["title"]), text=str(data["text"]),
        url=_opt(data.get("url")), guid=_opt(data.get("guid")),
        language=_opt(data.get("language")), feed_id=str(data.get("feed_id") or ""),
        path=_opt(data.get("path")),
        published=datetime.fromtimestamp(float(published), tz=UTC)
        if isinstance(published, int | float) else None,
        time_source=_time_source(data.get("time_source")),
        time_evidence=str(data.get("time_evidence") or ""),
    ), str(data["story"])


def _time_source(value: object) -> TimeSource:
    """A stored time source (records filed before it was kept say "feed")."""
    return value if value in ("feed", "text", "seen") else "feed"


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
