"""One story to 1,000 Telegram chats against a Bot API server that enforces Telegram's limits:
the achieved rate as a fraction of the allowed rate, and the 429s, against baselines measured
in the same run.

    REDIS_URL=redis://127.0.0.1:6379/14 python bench/fanout.py [--chats 1000]

The loopback Bot API server (tests/telegram_server.py, in its own process so that its CPU is
not the bot's) allows at most 30 messages in any 1-second window (by arrival time) and one
message per second per chat, and answers 429 with `retry_after` beyond them. One seed
article is run through the real pipeline with every chat subscribed to its topic, which
queues one outbox entry per chat; then delivery drains the outbox through the real
python-telegram-bot client. Rate = messages delivered / seconds from the first to the last
one the server accepted; allowed = 30/s; cpu = CPU seconds the bot's side (this process)
used while delivering. Runs, each on a fresh server and key prefix:

- newsbot: one Deliverer (shared Redis pacing + PTB's FloodControl), the way `newsbot run` does;
- newsbot, 2 workers: two Deliverers with their own Telegram clients sharing the outbox;
- baseline, per-process shaping only: PTB's FloodControl at Telegram's nominal limits, no shared
  pacing (what delivery did before); with two workers each shapes only its own sends;
- baseline, unshaped: no pacing and no FloodControl: send as fast as possible, wait out 429s.

Targets (issue 7): fraction >= 0.9 and zero 429s for newsbot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' Bot API server

from bot.alerts import AlertComposer
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.dedup.index import StoryIndex
from bot.feeds.seeds import read_seed_folder
from bot.models import Topic
from bot.outbox import Deliverer, Outbox
from bot.pacing import PACES, Pace
from bot.pipeline import Pipeline
from bot.platforms.telegram import FloodControl, FloodLimits, TelegramChannel
from bot.routing import RuleBook
from bot.store import Store
from tests.telegram_server import TOKEN, BotApiServer, Limits

ALLOWED = 30.0  # messages per second Telegram allows a bot overall
TOPIC = Topic(name="dprk-troops", expression="朝鲜 + 派兵")
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
WINDOW = 72 * 3600


@dataclass(frozen=True)
class Run:
    """How one run delivers: pacing shared through Redis or not, PTB's flood control."""

    name: str
    paces: Mapping[str, Pace]
    flood: FloodLimits | None
    workers: int = 1


@dataclass(frozen=True)
class Result:
    """What the server saw of one run."""

    delivered: int
    rate: float
    rate_limited: int
    seconds: float
    cpu: float  # CPU seconds of this process (the bot's side) while delivering


class ServerProcess:
    """The limit-enforcing Bot API server in a child process (`fanout.py --serve`)."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self.root = ""

    async def __aenter__(self) -> Self:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        self.root = (await self._line())["root"]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            await self._proc.wait()

    async def stats(self) -> dict[str, Any]:
        """Arrival times of the accepted sendMessage calls and the 429s answered."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(b"stats\n")
        await self._proc.stdin.drain()
        return await self._line()

    async def _line(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise SystemExit("fanout: the Bot API server process died")
        data: dict[str, Any] = json.loads(line)
        return data


async def serve() -> None:
    """The child: serve the Bot API with Telegram's limits; answer `stats` lines on stdin."""
    async with BotApiServer(limits=Limits(overall=int(ALLOWED))) as api:
        print(json.dumps({"root": api.root}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "stats":
                print(json.dumps({"times": api.times_of("sendMessage"),
                                  "rate_limited": api.rate_limited}), flush=True)


async def fan_out(run: Run, *, url: str, chats: int) -> Result:
    """Queue one story for `chats` chats, deliver it as `run` says, read the server's view."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    prefix = f"bench:fanout:{uuid.uuid4().hex[:8]}:"
    store = Store(client, prefix=prefix)
    try:
        async with ServerProcess() as server:
            outbox = await _queue(store, chats)
            start, cpu = time.monotonic(), time.process_time()
            await asyncio.gather(*(_deliver(store, outbox, server.root, run)
                                   for _ in range(run.workers)))
            seconds, cpu = time.monotonic() - start, time.process_time() - cpu
            stats = await server.stats()
            times = stats["times"]
            rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
            return Result(len(times), rate, int(stats["rate_limited"]), seconds, cpu)
    finally:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()


async def _queue(store: Store, chats: int) -> Outbox:
    """Subscribe `chats` chats to the topic and run one matching seed through the pipeline."""
    directory = ChatDirectory(store)
    async with store.redis.pipeline(transaction=False) as pipe:
        for n in range(chats):
            chat = f"telegram:{10_000 + n}"
            pipe.sadd(store.keys("topic", TOPIC.name, "chats"), chat)
            pipe.sadd(store.keys("chat", chat, "topics"), TOPIC.name)
        await pipe.execute()
    outbox = Outbox(store)
    await outbox.ensure_group()
    archive = Archive(store, ttl=WINDOW + 86_400)
    pipeline = Pipeline(store, index=StoryIndex(store, window_seconds=WINDOW,
                                                seen_seconds=86_400),
                        rules=RuleBook([TOPIC], directory), outbox=outbox, archive=archive,
                        clock=lambda: datetime(2024, 10, 22, tzinfo=UTC))
    articles, _ = read_seed_folder(SEEDS)
    article = next(a for a in articles if Path(a.path or "").name.startswith("001"))
    outcome = await pipeline.process(article)
    if len(outcome.deliveries) != chats:
        raise SystemExit(f"fanout: expected {chats} deliveries, the pipeline queued "
                         f"{len(outcome.deliveries)}")
    return outbox


async def _deliver(store: Store, outbox: Outbox, root: str, run: Run) -> None:
    """One worker: its own Telegram client (and flood control) draining the shared outbox."""
    flood = FloodControl(run.flood) if run.flood else FloodControl(
        FloodLimits(chat_interval=0.0, group_rate=0, overall_rate=0))
    async with TelegramChannel(token=TOKEN, api_url=root, flood=flood) as channel:
        chats = ChatDirectory(store)
        composer = AlertComposer(chats=chats, archive=Archive(store, ttl=WINDOW))
        deliverer = Deliverer(store, outbox, {"telegram": channel}, composer=composer,
                              paces=run.paces, gather=0.0)
        await deliverer.drain()


async def main(chats: int) -> None:
    """Every run, then the table."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    runs = [
        Run("newsbot (shared pacing + FloodControl)", PACES, FloodLimits()),
        Run("newsbot, 2 workers", PACES, FloodLimits(), workers=2),
        Run("baseline: FloodControl only", {}, FloodLimits()),
        Run("baseline: FloodControl only, 2 workers", {}, FloodLimits(), workers=2),
        Run("baseline: unshaped", {}, None),
    ]
    print(f"one story to {chats} chats; the server allows {ALLOWED:.0f} msg/s overall and "
          "1 msg/s per chat (429 beyond)")
    print(f"{'run':<42} {'delivered':>9} {'msg/s':>7} {'fraction':>8} {'429s':>6} "
          f"{'wall s':>7} {'cpu s':>6}")
    for run in runs:
        result = await fan_out(run, url=url, chats=chats)
        print(f"{run.name:<42} {result.delivered:>9} {result.rate:>7.2f} "
              f"{result.rate / ALLOWED:>8.3f} {result.rate_limited:>6} {result.seconds:>7.1f} "
              f"{result.cpu:>6.1f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000, help="chats to fan out to")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(serve() if args.serve else main(args.chats))
