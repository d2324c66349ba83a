"""What each chat was shown of each story ("already sent"): `sent:<chat>:<story>` (message
reference and version) and `story:<id>:chats` (the chats alerted), both kept SENT_TTL.

Written here only: by delivery (`record_sent`), by digests and released held alerts (the
same, with a list's reference) and by a chat's migration (`write_sent`); read by delivery
(`sent_many`) and routing (`alerted_chats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import Pipeline

from bot.models import Story
from bot.store.base import Records
from bot.store.keys import Keys

SENT_TTL = 30 * 86_400
LISTED_PREFIX = "list:"  # a sent-alert reference to a digest or batch: not editable
MOVED_REF = "#"          # `<old chat>#<message ref>`: an alert sent before the chat moved


@dataclass(frozen=True, slots=True)
class Sent:
    """What a chat has been shown of a story."""

    ref: str
    version: int


def write_sent(pipe: Pipeline, keys: Keys, chat: str, story_id: str,
               record: Mapping[str, str | int]) -> None:
    """Queue on `pipe` the writes that say `chat` was shown `story_id` (`record`: ref, version)."""
    pipe.hset(keys.sent(chat, story_id), mapping=dict(record))
    pipe.expire(keys.sent(chat, story_id), SENT_TTL)
    pipe.sadd(keys.story_chats(story_id), chat)
    pipe.expire(keys.story_chats(story_id), SENT_TTL)


class SentRecords(Records):
    """The "already sent" records."""

    async def sent_many(self, chat: str, story_ids: Sequence[str]) -> list[Sent | None]:
        """What `chat` was shown of each story (None: nothing yet), in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for story_id in story_ids:
                pipe.hgetall(self.keys.sent(chat, story_id))
            replies: list[dict[str, Any]] = await pipe.execute()
        return [Sent(ref=d["ref"], version=int(d["version"])) if d else None for d in replies]

    async def record_sent(self, chat: str, stories: Sequence[Story], ref: str) -> None:
        """Say, in one transaction, that `chat` was shown `stories` in the message `ref`."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for story in stories:
                write_sent(pipe, self.keys, chat, story.id, {"ref": ref, "version": story.version})
            await pipe.execute()

    async def alerted_chats(self, story_ids: Sequence[str]) -> dict[str, set[str]]:
        """The chats already alerted about each story, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for story_id in story_ids:
                pipe.smembers(self.keys.story_chats(story_id))
            replies = await pipe.execute()
        return {story_id: set(chats) for story_id, chats in zip(story_ids, replies, strict=True)}
