"""The Store: the one client of the Redis/Valkey server that holds all of newsbot's state."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import LeaseHeldError, StoreError
from bot.store.base import done, translated
from bot.store.embedded import EmbeddedValkey
from bot.store.feeds import FeedRecords
from bot.store.health import HealthRecords
from bot.store.keys import Keys
from bot.store.leases import RELEASE, RENEW, TAKE_OVER
from bot.store.sent import SentRecords
from bot.store.stories import StoryRecords


class Store(StoryRecords, FeedRecords, SentRecords, HealthRecords):
    """Async access to the one Redis/Valkey server that holds all of newsbot's state."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "newsbot:") -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self._release = client.register_script(RELEASE)
        self._renew = client.register_script(RENEW)
        self._take_over = client.register_script(TAKE_OVER)

    async def ping(self) -> None:
        """Raise StoreError unless the server answers."""
        try:
            await done(self.redis.ping())
        except RedisError as exc:
            raise StoreError(f"store: server does not answer: {exc}") from exc

    @asynccontextmanager
    async def lease(self, name: str, *, ttl_ms: int = 30_000, wait: float = 30.0
                    ) -> AsyncIterator[None]:
        """Hold the named lease (`SET NX PX`) for the block; waits up to `wait` seconds."""
        key, token = self.keys("lease", name), os.urandom(8).hex()
        deadline = time.monotonic() + wait
        with translated():
            while not await self.redis.set(key, token, nx=True, px=ttl_ms):
                if time.monotonic() > deadline:
                    raise LeaseHeldError(f"store: lease {name} is held by another worker")
                await asyncio.sleep(0.005)
        try:
            yield
        finally:
            with translated():
                await self._release(keys=[key], args=[token])

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


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
