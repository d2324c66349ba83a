"""One polling cycle over 10,000 feeds on loopback (80 % answer 304): feeds/s, CPU, peak RSS,
against the old ways of polling measured in the same run.

    REDIS_URL=redis://127.0.0.1:6379/14 python bench/poll.py [--feeds 10000] [--hosts 20]

The feed server runs in a separate process (so its CPU is not counted here): a small asyncio
HTTP/1.1 server with keep-alive listening on 127.0.0.1 ... 127.0.0.<hosts>, standing for that
many sites, so the per-host limit applies as it would in production. Feed i answers 304 to
the stored ETag unless i % 5 == 0, whose document (20 dated items, about 14 KB) has changed.
Each feed's state starts with ETag "v1", as after an earlier cycle.

Measured in this process (time.process_time covers every thread, so the parser threads too):
the engine's run_once over every feed (claim from Redis, fetch, parse, record, schedule; the
articles go to a handler that counts them, not to the story pipeline). Baselines, on
subsets of the same feeds: a sequential loop of poll_feed (today's fetcher), and the old
service: one APScheduler job per feed, all due at once, with the stock httpx client the
fetcher used before (one pool, httpx's anyio transport). Rates count successful polls only:
with 1,000 jobs due at once the stock client's pool times every request out (try
`--jobs 1000`), so the default subset is 300. On loopback the server answers at once, so
the sequential loop is not slowed by latency as it would be on the internet. Peak RSS is
read after the engine's cycle, before the baselines run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Self

import httpx
import redis.asyncio as aioredis

from bot.feeds.engine import PollEngine
from bot.feeds.fetch import ACCEPT, USER_AGENT, Fetcher
from bot.feeds.parse import parse_document
from bot.feeds.poll import PollResult, commit_poll, poll_feed
from bot.models import FeedSpec
from bot.store import Store

CHANGED_EVERY = 5  # feed i has a new document when i % 5 == 0: 20 % answer 200


# --- the feed server (its own process) -------------------------------------------------------

def _document(items: int = 20) -> bytes:
    """An RSS document of `items` dated items with ~600-byte descriptions; `{n}` = feed number."""
    now = datetime.now(UTC)
    words = ("Officials said on Monday that talks between the delegations would resume next "
             "week after a pause, while analysts warned that the outcome remained uncertain. ")
    entries = "".join(
        f"<item><title>Feed {{n}} report {i}: talks resume after pause</title>"
        f"<link>https://news.example/{{n}}/{i}</link><guid>{{n}}-{i}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=20 * (i + 1)))}</pubDate>"
        f"<description>{words * 4}</description></item>" for i in range(items))
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>Feed {n}</title><link>https://news.example/{n}</link>"
            f"<description>bench</description><language>en</language>{entries}"
            "</channel></rss>").encode()


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, just enough for GET /f/<n> with If-None-Match."""

    template = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            self.transport.write(self._answer(head))

    def _answer(self, head: bytes) -> bytes:
        lines = head.split(b"\r\n")
        path = lines[0].split(b" ")[1]
        n = int(path.rsplit(b"/", 1)[-1])
        etag = next((line.split(b":", 1)[1].strip() for line in lines[1:]
                     if line.lower().startswith(b"if-none-match:")), b"")
        current = b'"v2"' if n % CHANGED_EVERY == 0 else b'"v1"'
        if etag == current:
            return b"HTTP/1.1 304 Not Modified\r\nETag: " + current + b"\r\n\r\n"
        body = self.template.replace(b"{n}", str(n).encode())
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                b"ETag: " + current + b"\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\n\r\n" + body)


async def _serve(hosts: int) -> None:
    """Listen on 127.0.0.1..127.0.0.<hosts> (one port), print it, serve until SIGTERM."""
    _Http.template = _document()
    loop = asyncio.get_running_loop()
    first = await loop.create_server(_Http, "127.0.0.1", 0, backlog=1024)
    port = first.sockets[0].getsockname()[1]
    servers = [first] + [await loop.create_server(_Http, f"127.0.0.{k}", port, backlog=1024)
                         for k in range(2, hosts + 1)]
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


# --- the client (this process) ----------------------------------------------------------------

@dataclass
class Figures:
    """One measured run; rates count only the polls that succeeded (200 or 304)."""

    feeds: int
    wall: float
    cpu: float
    failed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # failures by FetchError kind

    @property
    def good(self) -> int:
        return self.feeds - self.failed

    @property
    def rate(self) -> float:
        return self.good / self.wall

    @property
    def cpu_per_feed_ms(self) -> float:
        return self.cpu / max(1, self.good) * 1000


class Counting:
    """The handler: counts articles handed on (the story pipeline is measured elsewhere)."""

    def __init__(self) -> None:
        self.articles = 0

    async def handle(self, result: PollResult) -> None:
        self.articles += len(result.articles)


def _feeds(count: int, *, hosts: int, port: int, offset: int = 0) -> list[FeedSpec]:
    return [FeedSpec(id=f"f{n}", url=f"http://127.0.0.{1 + n % hosts}:{port}/f/{n}")
            for n in range(offset, offset + count)]


async def _seed(store: Store, feeds: Sequence[FeedSpec]) -> None:
    """Every feed's state as after an earlier cycle: ETag "v1" stored."""
    async with store.redis.pipeline(transaction=False) as pipe:
        for feed in feeds:
            pipe.hset(store.keys.feed(feed.id), mapping={"etag": '"v1"', "status": "ok"})
        await pipe.execute()


async def engine_cycle(store: Store, feeds: list[FeedSpec], *, concurrency: int,
                       per_host: int) -> tuple[Figures, PollEngine, Counting]:
    """The engine's run_once over every feed, all due now."""
    counting = Counting()

    async def source() -> list[FeedSpec]:
        return feeds

    async with Fetcher(max_connections=max(100, concurrency)) as fetcher:
        engine = PollEngine(store, fetcher, source=source, handle=counting.handle,
                            concurrency=concurrency, per_host=per_host)
        await engine.sync()
        cpu, wall = time.process_time(), time.perf_counter()
        polled = await engine.run_once()
        figures = Figures(polled, time.perf_counter() - wall, time.process_time() - cpu,
                          failed=engine.stats["failed"] + engine.stats["crashed"])
    return figures, engine, counting


async def sequential(store: Store, feeds: list[FeedSpec]) -> Figures:
    """The old loop: poll_feed then commit, one feed after another."""
    failed = 0
    async with Fetcher() as fetcher:
        cpu, wall = time.process_time(), time.perf_counter()
        for feed in feeds:
            result = await poll_feed(feed, store=store, fetcher=fetcher)
            await commit_poll(result, store=store)
            failed += result.error is not None
        return Figures(len(feeds), time.perf_counter() - wall, time.process_time() - cpu,
                       failed)


class StockFetcher(Fetcher):
    """The fetcher as it was: one httpx client with httpx's own (anyio) transport."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        for client in self._open:
            await client.aclose()
        self._open = [httpx.AsyncClient(
            timeout=self._timeout, limits=httpx.Limits(max_connections=100,
                                                       max_keepalive_connections=20),
            follow_redirects=True, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})]
        return self


async def apscheduler_jobs(store: Store, feeds: list[FeedSpec]) -> Figures:
    """The old service: one APScheduler job per feed, all due at once, the stock client."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    done, failed, kinds = asyncio.Event(), 0, Counter[str]()
    remaining = len(feeds)

    async def job(feed: FeedSpec, fetcher: Fetcher) -> None:
        nonlocal remaining, failed
        result = await poll_feed(feed, store=store, fetcher=fetcher)
        await commit_poll(result, store=store)
        failed += result.error is not None
        if result.error is not None:
            kinds[result.error.kind] += 1
        remaining -= 1
        if remaining == 0:
            done.set()

    async with StockFetcher() as fetcher:
        scheduler = AsyncIOScheduler(timezone=UTC)
        cpu, wall = time.process_time(), time.perf_counter()
        for feed in feeds:
            scheduler.add_job(job, "interval", args=(feed, fetcher), seconds=300,
                              id=f"poll:{feed.id}", next_run_time=datetime.now(UTC),
                              max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.start()
        await done.wait()
        figures = Figures(len(feeds), time.perf_counter() - wall, time.process_time() - cpu,
                          failed, kinds)
        scheduler.shutdown(wait=False)
    return figures


def parse_cost_ms(samples: int = 30) -> float:
    """CPU milliseconds feedparser and our clean-up take on one changed document."""
    body = _document().replace(b"{n}", b"1")
    feed = FeedSpec(id="f1", url="http://127.0.0.1/f/1")
    start = time.process_time()
    for _ in range(samples):
        parse_document(body, feed=feed)
    return (time.process_time() - start) / samples * 1000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _line(name: str, f: Figures) -> str:
    return (f"{name:<40} {f.feeds:>6} feeds {f.wall:7.2f} s wall {f.cpu:7.2f} s CPU "
            f"{f.rate:8.1f} good polls/s  {f.cpu_per_feed_ms:6.2f} ms CPU per good poll  "
            f"(CPU/wall {f.cpu / f.wall:.2f}, failed {f.failed}"
            + (f": {dict(f.kinds)})" if f.kinds else ")"))


async def main(args: argparse.Namespace) -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        raise SystemExit("set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/14")
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--hosts", str(args.hosts),
        stdout=asyncio.subprocess.PIPE)
    assert server.stdout is not None
    port = json.loads(await server.stdout.readline())["port"]
    prefix = f"bench:poll:{uuid.uuid4().hex[:8]}:"
    store = Store(aioredis.Redis.from_url(url, decode_responses=True), prefix=prefix)
    total = args.feeds + args.sequential + args.jobs
    try:
        everything = _feeds(total, hosts=args.hosts, port=port)
        await _seed(store, everything)
        feeds = everything[:args.feeds]
        parse_ms = parse_cost_ms()
        rss_before = _peak_rss_mb()
        engine, eng, counting = await engine_cycle(store, feeds, concurrency=args.concurrency,
                                                   per_host=args.per_host)
        rss = _peak_rss_mb()
        seq = await sequential(store, everything[args.feeds:args.feeds + args.sequential])
        jobs = await apscheduler_jobs(store, everything[args.feeds + args.sequential:])
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
        async for key in store.redis.scan_iter(match=f"{prefix}*", count=1000):
            await store.redis.delete(key)
        await store.redis.aclose()
    print(f"feeds: {args.feeds} on {args.hosts} loopback hosts, {100 // CHANGED_EVERY} % changed "
          f"(200), the rest 304; concurrency {args.concurrency}, {args.per_host} per host")
    print(_line("engine run_once (one cycle)", engine))
    print(f"  answers: {dict(eng.stats)}; articles handed on: {counting.articles}")
    changed = eng.stats["ok"]
    print(f"  of which parsing: {changed} changed documents x {parse_ms:.1f} ms = "
          f"{changed * parse_ms / 1000:.1f} s CPU ({len(_document())} bytes, 20 items each)")
    print(f"  peak RSS {rss:.0f} MB (before the cycle {rss_before:.0f} MB); targets: one cycle "
          f"<= 60 s: {'met' if engine.wall <= 60 else 'NOT met'}; <= 1 core: "
          f"{'met' if engine.cpu <= engine.wall else 'NOT met'} ({engine.cpu / engine.wall:.2f});"
          f" RSS < 250 MB: {'met' if rss < 250 else 'NOT met'}")
    print(_line("baseline: sequential poll_feed", seq))
    print(_line("baseline: APScheduler jobs, stock httpx", jobs))
    for name, base in (("sequential", seq), ("APScheduler jobs, stock httpx", jobs)):
        faster = f"{engine.rate / base.rate:.1f}x" if base.good else "inf (no good poll)"
        print(f"engine vs {name}: {faster} the good polls/s; the baseline spends "
              f"{base.cpu_per_feed_ms / engine.cpu_per_feed_ms:.2f}x the CPU per good poll")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=20, help="loopback addresses to serve on")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--sequential", type=int, default=500,
                        help="feeds for the sequential baseline")
    parser.add_argument("--jobs", type=int, default=300,
                        help="feeds for the APScheduler-job-per-feed baseline")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        asyncio.run(_serve(arguments.hosts))
    else:
        asyncio.run(main(arguments))
