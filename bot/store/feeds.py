"""Feeds' state: validators, error count, last poll, status."""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.store.base import Records, done


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
