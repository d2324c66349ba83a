"""Delivery over a real store and the loopback Bot API server: consumers that die, workers that
share the outbox, bursts, shutdown in the middle of a wait, the pipeline's crash marker, and
the leases behind Telegram's single poller. Processes that are really killed are in
tests/test_faults.py.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.archive import Archive, article_id
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter
from bot.dedup.index import StoryIndex
from bot.feeds.seeds import read_seed_folder
from bot.models import Delivery, Story, Topic
from bot.outbox import GROUP, Deliverer, Outbox
from bot.pacing import Pace, Pacer
from bot.pipeline import Pipeline
from bot.platforms.telegram import FloodControl, FloodLimits, TelegramChannel, TelegramFrontEnd
from bot.routing import RuleBook
from bot.store import (
    LISTED_PREFIX,
    Leader,
    Lease,
    Store,
    worker_gone,
    worker_name,
)
from tests.conftest import SEEDS
from tests.stories import headline, numbered_story, put_matched
from tests.telegram_server import BotApiServer, Limits, parse_html
from tests.waiting import until as _wait

T0 = datetime(2024, 10, 21, 8, 0, tzinfo=UTC)
TERMS = ("朝鲜", "派兵")
RULE = "topic:dprk"
DEADLINE = 30.0  # seconds any one wait may take before the test fails
_until = functools.partial(_wait, deadline=DEADLINE)
NO_PACE: dict[str, Any] = {}  # pacing off where a test is not about it (it only waits)


def _chat(n: int) -> str:
    return f"telegram:{1000 + n}"


_headline = headline
_story = partial(numbered_story, at=T0)


async def _put(store: Store, story: Story) -> Story:
    return await put_matched(store, story, RULE, TERMS)


async def _queue(outbox: Outbox, chat: str, story: Story) -> None:
    await outbox.put(Delivery(chat=chat, story_id=story.id, rule_ids=(RULE,)))


def _shown(api: BotApiServer, chat: str) -> Counter[str]:
    """How many sent messages to `chat` showed each headline (alerts and combined lists)."""
    chat_id = int(chat.partition(":")[2])
    seen: Counter[str] = Counter()
    for params in api.calls_of("sendMessage"):
        if params["chat_id"] == chat_id:
            text = parse_html(params["text"])[0]
            seen.update(h for h in map(_headline, range(100)) if h in text)
    return seen


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    """A Bot API server on a free loopback port."""
    async with BotApiServer() as server:
        yield server


@pytest.fixture
async def channel(api: BotApiServer) -> AsyncIterator[TelegramChannel]:
    """A Telegram channel on the test server."""
    async with TelegramChannel(token=api.token, api_url=api.root) as made:
        yield made


@pytest.fixture
async def outbox(store: Store) -> Outbox:
    """The outbox with its consumer group."""
    made = Outbox(store)
    await made.ensure_group()
    return made


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    done_proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                               capture_output=True, text=True, check=True)
    return int(done_proc.stdout)


# --- consumer names and dead consumers -----------------------------------------------------------


def test_every_deliverer_gets_a_consumer_name_of_its_own(store: Store) -> None:
    """Two Deliverers in one process have distinct names: host, pid and a random part."""
    outbox = Outbox(store)
    first, second = (Deliverer(store, outbox, {}) for _ in range(2))
    assert first.consumer != second.consumer
    host, pid, _ = first.consumer.rsplit("-", 2)
    assert host == socket.gethostname() and pid.isdigit()
    assert not worker_gone(first.consumer)  # named by this live process
    assert worker_gone(f"{socket.gethostname()}-{_dead_pid()}-abcdef")
    assert worker_gone(f"{socket.gethostname()}-{os.getpid()}-abcdef")  # pid reused: restarted
    assert not worker_gone("some-other-host-123-abcdef")  # unknown: not known dead


async def test_a_dead_local_workers_entries_are_taken_over_and_its_consumer_removed(
        store: Store, outbox: Outbox, api: BotApiServer, channel: TelegramChannel) -> None:
    """Entries a worker on this host read before dying go to the next reaper at once, are
    delivered once, and the dead consumer is deleted from the group."""
    dead = f"{socket.gethostname()}-{_dead_pid()}-0a0b0c"
    for n in range(2):
        await _queue(outbox, _chat(n), await _put(store, _story(n)))
    assert len(await outbox.read(dead)) == 2  # read, then the process died
    survivor = Deliverer(store, outbox, {"telegram": channel}, paces=NO_PACE)
    assert await survivor.reap() == 2
    assert await survivor.drain() == 2
    assert [_shown(api, _chat(n)) for n in range(2)] == [Counter({_headline(n): 1})
                                                         for n in range(2)]
    assert dead not in [name for name, _ in await outbox.consumers()]
    assert await outbox.depth() == 0


async def test_a_silent_remote_consumer_is_taken_over_only_once_its_heartbeat_stays_missing(
        store: Store, outbox: Outbox) -> None:
    """A consumer on another host without a heartbeat loses its entries on the second look a
    heartbeat TTL later; one whose heartbeat is kept keeps them."""
    for n in range(2):
        await _queue(outbox, _chat(n), await _put(store, _story(n)))
    silent, alive = "elsewhere-101-aaaaaa", "elsewhere-102-bbbbbb"
    await store.redis.set(outbox.alive_key(alive), "1", px=60_000)
    assert len(await outbox.read(silent, count=1)) == 1
    assert len(await outbox.read(alive, count=1)) == 1
    reaper = Deliverer(store, outbox, {}, heartbeat_ttl=0.3)
    assert await reaper.reap() == 0  # first look: maybe only Redis was away
    await asyncio.sleep(0.35)
    assert await reaper.reap() == 1
    pending = {name: count for name, count in await outbox.consumers()}
    assert silent not in pending and pending[alive] == 1 and pending[reaper.consumer] == 1


async def test_a_consumer_with_nothing_pending_is_removed_only_without_heartbeat(
        store: Store, outbox: Outbox) -> None:
    """XGROUP DELCONSUMER is done only when no heartbeat is kept and nothing is pending."""
    idle = "elsewhere-103-cccccc"
    await store.redis.xgroup_createconsumer(outbox.stream, GROUP, idle)
    await store.redis.set(outbox.alive_key(idle), "1", px=60_000)
    assert not await outbox.forget(idle)
    await store.redis.delete(outbox.alive_key(idle))
    assert await outbox.forget(idle)
    assert idle not in [name for name, _ in await outbox.consumers()]


# --- several workers ---------------------------------------------------------------------------


async def test_two_workers_in_one_process_send_each_alert_once_and_keep_telegrams_limits(
        store: Store, outbox: Outbox) -> None:
    """Two Deliverers with their own Telegram clients share the outbox: entries routed twice
    give one alert per chat and story, a story that grows is edited once per chat, and their
    shared pacing keeps a server enforcing Telegram's limits from answering any 429."""
    chats, stories = 12, 2
    async with BotApiServer(limits=Limits()) as api:
        for s in range(stories):
            story = await _put(store, _story(s))
            for c in range(chats):
                for _ in range(2):  # routed twice, e.g. by two articles of the story
                    await _queue(outbox, _chat(c), story)
        stop = asyncio.Event()
        async with TelegramChannel(token=api.token, api_url=api.root) as one, \
                TelegramChannel(token=api.token, api_url=api.root) as two:
            workers = [Deliverer(store, outbox, {"telegram": ch}) for ch in (one, two)]
            runs = [asyncio.create_task(w.run(stop)) for w in workers]
            await _until(lambda: len(api.calls_of("sendMessage")) >= chats * stories,
                         "every alert")
            grown = await _put(store, _story(0, outlets=("DW", "VOA")))
            for c in range(chats):
                await _queue(outbox, _chat(c), grown)
                await _queue(outbox, _chat(c), grown)
            await _until(lambda: len(api.calls_of("editMessageText")) >= chats, "the edits")

            async def drained() -> bool:
                return await outbox.depth() == 0

            await _until(drained, "the outbox to drain")
            stop.set()
            await asyncio.gather(*runs)
    for c in range(chats):
        assert _shown(api, _chat(c)) == Counter({_headline(0): 1, _headline(1): 1})
    assert len(api.calls_of("sendMessage")) == chats * stories
    edits = api.calls_of("editMessageText")
    assert sorted(p["chat_id"] for p in edits) == [1000 + c for c in range(chats)]
    assert all("VOA" in p["text"] for p in edits)
    assert api.rate_limited == 0


async def test_every_message_of_concurrent_slots_counts_in_the_shared_window(
        store: Store) -> None:
    """Messages to many chats wait for their slots at the same time (as the deliverer sends
    them): each is counted once in the platform's shared window, whatever the others did
    while it waited, so every worker sees how many went out."""
    pace = Pace(per_window=1000, window=60.0, gap=0.005, chat_interval=0.0, group_interval=0.0)
    pacer = Pacer(store, {"telegram": pace})
    await asyncio.gather(*(pacer.slot(f"telegram:{n}", "telegram") for n in range(40)))
    window = await store.redis.zrange(store.keys("pace", "telegram"), 0, -1)
    assert len(window) == len(set(window)) == 40


async def test_a_429_storm_loses_nothing_and_every_retry_waits_its_retry_after(
        store: Store, outbox: Outbox, api: BotApiServer, channel: TelegramChannel) -> None:
    """Six 429s (retry_after 1 s) in a row: every alert still arrives once, and no message is
    retried sooner than its 429 asked."""
    for n in range(3):
        await _queue(outbox, _chat(n), await _put(store, _story(n)))
    api.fail_next("sendMessage", 6, retry_after=1)
    deliverer = Deliverer(store, outbox, {"telegram": channel})
    assert await deliverer.drain() == 3
    for n in range(3):
        assert _shown(api, _chat(n)) == Counter({_headline(n): 1})
        tries = [c for c in api.calls if c.method == "sendMessage"
                 and c.params["chat_id"] == 1000 + n]
        for refused, retry in itertools.pairwise(tries):
            assert refused.status == 429 and retry.at - refused.at >= 1.0
    assert await outbox.depth() == 0 and not await store.redis.lrange(outbox.dead, 0, -1)


# --- shutdown, bursts ------------------------------------------------------------------------


async def test_a_stop_during_a_long_retry_after_ends_delivery_and_keeps_the_entry(
        store: Store, outbox: Outbox, api: BotApiServer, channel: TelegramChannel) -> None:
    """Telegram asks to wait 300 s; setting the stop event ends `run` without waiting, the
    entry stays pending and is not counted as a failure, and the next worker delivers it."""
    story = await _put(store, _story(0))
    await _queue(outbox, _chat(0), story)
    api.fail_next("sendMessage", retry_after=300)
    stop = asyncio.Event()
    first = Deliverer(store, outbox, {"telegram": channel}, paces=NO_PACE)
    running = asyncio.create_task(first.run(stop))
    await _until(lambda: api.statuses("sendMessage") == [429], "the 429")
    stop.set()
    await asyncio.wait_for(running, DEADLINE)  # bounded, so a hang fails instead of waiting
    assert await outbox.depth() == 1 and not await store.redis.hgetall(outbox.attempts)
    assert await Deliverer(store, outbox, {"telegram": channel}, paces=NO_PACE).drain() == 1
    assert _shown(api, _chat(0)) == Counter({_headline(0): 1})


async def test_a_burst_for_one_chat_becomes_one_combined_message(
        store: Store, outbox: Outbox, api: BotApiServer, channel: TelegramChannel) -> None:
    """Four new stories for one chat in one batch arrive as one message listing them, each
    recorded as shown in a list; two for another chat stay two alerts; a listed story that
    grows later comes as a new alert, not an edit."""
    busy, calm = _chat(0), _chat(1)
    for n in range(4):
        await _queue(outbox, busy, await _put(store, _story(n)))
    for n in (4, 5):
        await _queue(outbox, calm, await _put(store, _story(n)))
    deliverer = Deliverer(store, outbox, {"telegram": channel}, paces=NO_PACE)
    assert await deliverer.drain() == 1 + 2
    [combined] = [p for p in api.calls_of("sendMessage") if p["chat_id"] == 1000]
    text = parse_html(combined["text"])[0]
    assert text.startswith("4 new stories")
    assert _shown(api, busy) == Counter({_headline(n): 1 for n in range(4)})
    assert _shown(api, calm) == Counter({_headline(4): 1, _headline(5): 1})
    record = await store.redis.hgetall(store.keys.sent(busy, "s2"))
    assert record["ref"].startswith(LISTED_PREFIX) and record["version"] == "1"
    await _queue(outbox, busy, await _put(store, _story(2, outlets=("DW", "BBC"))))
    assert await deliverer.drain() == 1
    assert api.calls_of("editMessageText") == []
    assert _shown(api, busy)[_headline(2)] == 2 and "BBC" in api.calls_of("sendMessage")[-1][
        "text"]


# --- the pipeline's crash marker ----------------------------------------------------------------


async def _pipeline(store: Store, outbox: Outbox) -> Pipeline:
    chats = ChatDirectory(store)
    topic = Topic(name="dprk", expression="朝鲜 + 派兵")
    await chats.subscribe(_chat(0), topic.name)
    index = StoryIndex(store, window_seconds=72 * 3600, seen_seconds=86_400)
    return Pipeline(store, index=index, rules=RuleBook([topic], chats), outbox=outbox,
                    clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))


async def test_an_article_placed_by_an_interrupted_run_is_routed_when_seen_again(
        store: Store, outbox: Outbox) -> None:
    """A run that placed an article and died before queueing left the article's marker: the
    article, seen again (the feed is polled again), is a copy of itself, and its story is
    routed then; seen a third time it is a plain copy and queues nothing."""
    pipeline = await _pipeline(store, outbox)
    articles, _ = read_seed_folder(SEEDS)
    article = next(a for a in articles if Path(a.path or "").name.startswith("001"))
    marker = store.keys.placing(article_id(article))
    # What `process` had done when the process died: the marker set, the article placed.
    await store.redis.set(marker, "1")
    placed = await pipeline.index.place(article, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert placed.kind == "new" and await outbox.depth() == 0
    resumed = await pipeline.process(article)
    assert resumed.assignment is None  # a copy of itself...
    assert [d.chat for d in resumed.deliveries] == [_chat(0)]  # ...routed all the same
    assert await outbox.depth() == 1 and not await store.redis.exists(marker)
    assert len(await Archive(store, ttl=86_400).of_story(placed.story_id)) == 1
    again = await pipeline.process(article)
    assert again.deliveries == () and await outbox.depth() == 1
    assert not await store.redis.exists(marker)


async def test_the_marker_is_gone_once_an_articles_deliveries_are_queued(
        store: Store, outbox: Outbox) -> None:
    """Processing an article leaves no marker behind, whether it queued alerts or not."""
    pipeline = await _pipeline(store, outbox)
    articles, _ = read_seed_folder(SEEDS)
    for article in articles:
        await pipeline.process(article)
    assert await outbox.depth() >= 1
    assert [key async for key in store.redis.scan_iter(match=store.keys.placing("*"))] == []


# --- leases and the Telegram poller ------------------------------------------------------------


async def test_a_lease_is_renewed_by_its_holder_only_and_taken_from_a_dead_local_holder(
        store: Store) -> None:
    """The holder renews its lease and nobody else can; a lease whose holder died on this host
    is taken over at once, one held by a live process is not."""
    mine = Lease(store, "job", ttl=30.0)
    rival = Lease(store, "job", ttl=30.0)
    assert await mine.acquire() and mine.held
    assert not await rival.acquire() and not await rival.renew()
    assert await mine.renew()
    await mine.release()
    corpse = Lease(store, "job", ttl=30.0, holder=f"{socket.gethostname()}-{_dead_pid()}-dddddd")
    assert await corpse.acquire()
    assert await rival.acquire()  # taken from the dead holder without waiting 30 s
    assert await store.redis.get(rival.key) == rival.holder


async def test_only_the_lease_holder_polls_telegram_and_a_successor_takes_over(
        store: Store, api: BotApiServer, channel: TelegramChannel) -> None:
    """Two workers' front ends: only the leader long-polls (no 409 Conflict from the server),
    commands are answered once; when the leader dies (its lease is never released), the other
    takes over after the lease's TTL and answers the next command."""
    chats = ChatDirectory(store)
    interpreter = CommandInterpreter(store, chats=chats, rules=RuleBook([], chats),
                                     archive=Archive(store, ttl=86_400), admins=())
    stop = asyncio.Event()
    async with TelegramChannel(token=api.token, api_url=api.root,
                               flood=FloodControl(FloodLimits(chat_interval=0.0))) as other, \
            TelegramFrontEnd(channel, interpreter, poll=False, poll_timeout=1.0) as first, \
            TelegramFrontEnd(other, interpreter, poll=False, poll_timeout=1.0) as second:
        leaders = [Leader(store, "telegram:poller", ttl=1.5, holder=f"remote-{n}-{n:06x}")
                   for n in (1, 2)]
        runs = [asyncio.create_task(leader.run(stop, elected=front.start_polling,
                                               deposed=front.stop_polling))
                for leader, front in zip(leaders, (first, second), strict=True)]
        await _until(lambda: any(leader.leading for leader in leaders), "a leader")
        api.queue_command("/help", chat_id=77)
        await _until(lambda: len(api.calls_of("sendMessage")) == 1, "the first reply")
        assert [first.polling, second.polling].count(True) == 1
        dying = next(n for n, leader in enumerate(leaders) if leader.leading)
        runs[dying].cancel()  # dies: its lease stays until the TTL runs out
        await asyncio.gather(runs[dying], return_exceptions=True)
        survivor = leaders[1 - dying]
        await _until(lambda: survivor.leading, "the takeover")
        api.queue_command("/help", chat_id=78)
        await _until(lambda: len(api.calls_of("sendMessage")) == 2, "the second reply")
        stop.set()
        await runs[1 - dying]
    assert [p["chat_id"] for p in api.calls_of("sendMessage")] == [77, 78]
    assert api.conflicts == 0


def test_worker_names_from_this_process_are_alive() -> None:
    """A fresh worker name names this live process."""
    assert not worker_gone(worker_name())
