"""Stories as stored: the story JSON and the matched-rules hash."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.models import Story, StoryArticle
from bot.store.base import Records, done

# What json.dumps(..., ensure_ascii=False) writes, without building its encoder at every call
# (story placement writes a few JSON arguments for every article).
json_text = json.JSONEncoder(ensure_ascii=False).encode


def _ts(value: datetime) -> float:
    return value.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def decode_matched(stored: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The story's matched-rules hash (rule id -> JSON list of terms) as a dict."""
    return {rule_id: tuple(json.loads(terms)) for rule_id, terms in stored.items()}


def story_to_json(story: Story, *, event_time: float | None) -> str:
    """Serialize a story (with its event time, None when no member is dated)."""
    return json_text({
        "id": story.id, "headline": story.headline, "first_seen": _ts(story.first_seen),
        "updated": _ts(story.updated), "version": story.version, "time": event_time,
        "articles": [_member(a) for a in story.articles],
    })


def member_to_json(member: StoryArticle) -> str:
    """One member as `story_to_json` writes it in a story's articles."""
    return json_text(_member(member))


def _member(a: StoryArticle) -> dict[str, Any]:
    return {"outlet": a.outlet, "title": a.title, "url": a.url, "time": _ts(a.time),
            "dated": a.dated, "ts": a.time_source, "te": a.time_evidence, "path": a.path,
            "score": a.score, "reason": a.reason}


def member_from_json(a: Mapping[str, Any]) -> StoryArticle:
    """One member from a story's stored articles."""
    return StoryArticle(
        outlet=a["outlet"], title=a["title"], url=a["url"], time=_dt(a["time"]),
        time_source=a.get("ts") or ("feed" if a["dated"] else "seen"),
        time_evidence=a.get("te") or "", path=a.get("path"), score=a.get("score", 1.0),
        reason=a.get("reason", ""))


def story_joined(story: Story, member: str, *, updated: float) -> Story:
    """`story` as `story_from_json` reads it once the member `member` (its JSON, as
    `member_to_json` writes it) was appended at `updated`, without parsing the whole story:
    the dedup write script appends a member to the stored text (bot/dedup/scripts.py)."""
    return replace(story, updated=_dt(updated), version=story.version + 1, matched={},
                   articles=(*story.articles, member_from_json(json.loads(member))))


def story_from_json(raw: str | Mapping[str, Any]) -> tuple[Story, float | None]:
    """The story and its event time from stored JSON."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    articles = tuple(member_from_json(a) for a in data["articles"])
    story = Story(id=data["id"], headline=data["headline"], first_seen=_dt(data["first_seen"]),
                  updated=_dt(data["updated"]), version=data["version"], articles=articles)
    return story, data.get("time")


class StoryRecords(Records):
    """Reading stories (the dedup index writes them: bot/dedup/index.py)."""

    async def get_story(self, story_id: str) -> Story | None:
        """A story with the rules it matched, or None once it has aged out."""
        return (await self.get_stories([story_id]))[0]

    async def get_stories(self, story_ids: list[str]) -> list[Story | None]:
        """Several stories in one round trip, in order (None for those aged out)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for story_id in story_ids:
                pipe.get(self.keys.story(story_id))
                pipe.hgetall(self.keys.story_matched(story_id))
            replies = await pipe.execute()
        stories: list[Story | None] = []
        for raw, matched in zip(replies[::2], replies[1::2], strict=True):
            story = None if raw is None else story_from_json(raw)[0]
            stories.append(story and replace(story, matched=decode_matched(matched)))
        return stories

    async def stories_since(self, since: datetime) -> list[Story]:
        """Stories first seen at or after `since`, oldest first."""
        ids = await self.redis.zrangebyscore(self.keys.stories(), since.timestamp(), "+inf")
        return [s for s in await self.get_stories(list(ids)) if s is not None]

    async def count_stories_since(self, since: float) -> int:
        """How many stories were first seen at or after `since` (a Unix time)."""
        return int(await self.redis.zcount(self.keys.stories(), since, "+inf"))

    async def matched_many(self, story_ids: Sequence[str]
                           ) -> dict[str, dict[str, tuple[str, ...]]]:
        """The matched-rules record of each story, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for story_id in story_ids:
                pipe.hgetall(self.keys.story_matched(story_id))
            replies = await pipe.execute()
        return {sid: decode_matched(raw) for sid, raw in zip(story_ids, replies, strict=True)}

    async def merge_matched(self, changed: Mapping[str, Mapping[str, tuple[str, ...]]], *,
                            ttl: int) -> None:
        """Write the changed rules of stories' matched records in one transaction."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for story_id, fields in changed.items():
                key = self.keys.story_matched(story_id)
                pipe.hset(key, mapping={rule_id: json.dumps(terms, ensure_ascii=False)
                                        for rule_id, terms in fields.items()})
                pipe.expire(key, ttl)
            await pipe.execute()

    async def news_time(self, newest: datetime | None) -> datetime | None:
        """The newest feed time read by any worker, after counting `newest` (None before any)."""
        key = self.keys("news", "time")
        async with self.redis.pipeline(transaction=False) as pipe:
            if newest is not None:
                pipe.zadd(key, {"newest": newest.timestamp()}, gt=True)
            pipe.zscore(key, "newest")
            *_, stamp = await pipe.execute()
        return None if stamp is None else datetime.fromtimestamp(float(stamp), tz=UTC)

    async def mark_placing(self, markers: Sequence[str], *, ttl: int) -> list[bool]:
        """Set each article's placing marker (`Keys.placing`) in one round trip; True where
        it was set already."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for marker in markers:
                pipe.set(marker, "1", ex=ttl, get=True)
            before = await pipe.execute()
        return [was is not None for was in before]

    async def clear_placing(self, markers: Sequence[str]) -> None:
        """Clear placing markers (the articles' deliveries are queued, or there were none)."""
        if markers:
            await done(self.redis.delete(*markers))
