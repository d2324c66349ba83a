"""Feeds' state (validators, error count, last poll, status) and the feeds added from chat."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime

from bot.models import FeedSpec
from bot.store.base import Records, RecordsOf, done


class FeedRecords(Records):
    """The hash `feed:<id>` of each feed."""

    async def feed_state(self, feed_id: str) -> dict[str, str]:
        """The stored state of a feed (empty for a new feed)."""
        return dict(await done(self.redis.hgetall(self.keys.feed(feed_id))))

    async def update_feed_state(self, feed_id: str, fields: Mapping[str, str | int | float]
                                ) -> None:
        """Set some fields of a feed's state."""
        await done(self.redis.hset(self.keys.feed(feed_id), mapping=dict(fields)))

    async def record_feed_error(self, feed_id: str, *, kind: str, message: str) -> int:
        """Count one failure of a feed; returns the number of failures in a row."""
        key = self.keys.feed(feed_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "errors", 1)
            pipe.hset(key, mapping={"last_error": f"{kind}: {message}"[:500],
                                    "last_error_at": time.time(), "status": "error"})
            errors, _ = await pipe.execute()
        return int(errors)


class AddedFeeds(RecordsOf):
    """Feeds added from chat (`/feeds add`) or imported from OPML, kept beside the feeds
    file's: the hash `feeds:added` of feed id -> URL, outlet, who added it and when."""

    def __init__(self, store: Records) -> None:
        super().__init__(store)
        self.key = store.keys("feeds", "added")

    async def all(self) -> list[FeedSpec]:
        """Every feed added from chat, by id."""
        stored = await done(self.redis.hgetall(self.key))
        return [_spec(fid, json.loads(raw)) for fid, raw in sorted(stored.items())]

    async def add(self, spec: FeedSpec, *, by: str, at: datetime) -> bool:
        """Store a feed; False if one with its id is already stored."""
        record = {"url": spec.url, "outlet": spec.outlet, "added_by": by,
                  "added_at": at.timestamp()}
        return bool(await done(self.redis.hsetnx(self.key, spec.id, json.dumps(record))))

    async def remove(self, fid: str) -> bool:
        """Forget a feed added from chat; False if there was none with that id."""
        return bool(await done(self.redis.hdel(self.key, fid)))


def _spec(fid: str, record: dict[str, object]) -> FeedSpec:
    outlet = record.get("outlet")
    return FeedSpec(id=fid, url=str(record["url"]), outlet=str(outlet) if outlet else None)
