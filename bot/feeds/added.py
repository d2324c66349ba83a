"""Feeds added from chat (`/feeds add`) or imported from OPML, kept in the store beside the
feeds file's. Their URLs are checked when added (bot/feeds/guard.py `url_problem`) and their
fetches go through the guard."""

from __future__ import annotations

import json
from datetime import datetime

from bot.models import FeedSpec
from bot.store import Store, done


class AddedFeeds:
    """Feeds added from chat with `/feeds add`, kept in the store beside the feeds file's."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.key = store.keys("feeds", "added")

    async def all(self) -> list[FeedSpec]:
        """Every feed added from chat, by id."""
        stored = await done(self.store.redis.hgetall(self.key))
        return [_spec(fid, json.loads(raw)) for fid, raw in sorted(stored.items())]

    async def add(self, spec: FeedSpec, *, by: str, at: datetime) -> bool:
        """Store a feed; False if one with its id is already stored."""
        record = {"url": spec.url, "outlet": spec.outlet, "added_by": by,
                  "added_at": at.timestamp()}
        return bool(await done(self.store.redis.hsetnx(self.key, spec.id, json.dumps(record))))

    async def remove(self, fid: str) -> bool:
        """Forget a feed added from chat; False if there was none with that id."""
        return bool(await done(self.store.redis.hdel(self.key, fid)))


def _spec(fid: str, record: dict[str, object]) -> FeedSpec:
    outlet = record.get("outlet")
    return FeedSpec(id=fid, url=str(record["url"]), outlet=str(outlet) if outlet else None)
