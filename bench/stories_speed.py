"""Articles per second through StoryIndex on a real Redis at window sizes 1k, 10k and 100k,
against a brute-force baseline (rapidfuzz against every article in the window), in one run.

    REDIS_URL=redis://127.0.0.1:6379/14 python bench/stories_speed.py [--sizes 1000,10000,100000]
        [--batch 2000] [--chunk 500] [--workers 2] [--sample 20]

Synthetic articles (a title and a ~60-word lead drawn from a Zipf vocabulary, grouped into
events of 1-20 reports) are pre-filled into the window, then new articles (half joining
existing events) are timed three ways: one `place` at a time (a caller that waits for each
article), `place_many` on --chunk articles at a time (it sends them in rounds of
index.ROUND_SIZE, one read and one write call per round, and analyses the next round while the
last one's write runs), and --workers processes, each with its own StoryIndex and Redis
connection, splitting the chunks between them (the window is filled that way too). The second
is the throughput figure (the speed-up and the cost ratio use it). Client CPU per article
(process time, the workers' summed) and Redis CPU per article (INFO cpu, the whole server's)
are printed as well, since on a shared machine they say more than wall time, and the
workers' writes refused for a conflict with another worker (each costs a fresh read and
decision). Workers are started and warmed up (dictionaries loaded, one article analysed)
before any clock starts. The baseline scores each new article with rapidfuzz against every
article in the window held in memory (no Redis cost at all); it is timed on --sample articles
and its per-article cost extrapolated.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import redis.asyncio as aioredis
from rapidfuzz import fuzz, process

from bot.dedup.index import StoryIndex
from bot.models import Article
from bot.store import Store

WINDOW = 72 * 3600
START = datetime(2025, 6, 1, tzinfo=UTC)
NOW = START + timedelta(hours=80)
VOCAB = [f"{a}{b}{c}" for a in "bcdfghklmnprstvz" for b in "aeiou" for c in
         ("lan", "mor", "tek", "vis", "dor", "gan", "rix", "sul", "pen", "kor", "mid", "zan")]


class Synth:
    """Deterministic synthetic news: events with their own words, reports that reuse them."""

    def __init__(self, seed: int, *, common: Sequence[str] = VOCAB,
                 named: Sequence[str] = VOCAB) -> None:
        """`common` words (Zipf-weighted, in rank order) fill the text; an event's own
        words are drawn from `named`."""
        self.rng = random.Random(seed)
        self.common, self.named = list(common), list(named)
        self.weights = [1 / (i + 1) for i in range(len(self.common))]
        self.events: list[list[str]] = []

    def _common(self, k: int) -> list[str]:
        return self.rng.choices(self.common, weights=self.weights, k=k)

    def article(self, *, at: datetime, join: bool) -> Article:
        """A report of an existing event (`join`) or of a new one."""
        if join and self.events:
            words = self.rng.choice(self.events[-2000:])
        else:
            words = [*self.rng.sample(self.named, 8), str(self.rng.randint(100, 99999))]
            self.events.append(words)
        title = " ".join(self.rng.sample(words, 4) + self._common(3))
        lead = " ".join(self.rng.sample(words, 6) + self._common(50) + self.rng.sample(words, 3))
        n = uuid.UUID(int=self.rng.getrandbits(128)).hex
        return Article(outlet=f"outlet{self.rng.randint(1, 40)}", title=title, text=lead,
                       url=f"https://news{self.rng.randint(1, 40)}.example/{n}", published=at)


@dataclass(frozen=True)
class Timing:
    """Seconds of wall time, client CPU and Redis server CPU for one timed run, and the
    writes refused."""

    wall: float
    client: float
    server: float
    refused: int = 0  # writes refused (a conflict with another worker) and retried

    def per_article(self, n: int) -> str:
        """`n` articles: rate and costs per article."""
        return (f"{n / self.wall:6.0f}/s ({self.wall / n * 1e6:5.0f} us wall, "
                f"{self.client / n * 1e6:4.0f} us client CPU, "
                f"{self.server / n * 1e6:4.0f} us Redis CPU"
                + (f", {self.refused} writes retried)" if self.refused else ")"))


async def server_cpu(client: aioredis.Redis) -> float:
    """Seconds of CPU the Redis server has used (all its clients)."""
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def timed(client: aioredis.Redis, index: StoryIndex, articles: Sequence[Article], *,
                chunk: int) -> Timing:
    """Place `articles` in this process, in chunks (chunk 0: one `place` at a time)."""
    size = max(chunk, 1)
    chunks = [articles[i:i + size] for i in range(0, len(articles), size)]
    server0, client0, wall0 = await server_cpu(client), time.process_time(), time.perf_counter()
    for part in chunks:
        if chunk:
            await index.place_many(part, now=NOW)
        else:
            await index.place(part[0], now=NOW)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - client0
    return Timing(wall, cpu, await server_cpu(client) - server0)


class Workers:
    """Worker processes placing chunks of articles, each with its own StoryIndex and Redis
    connection (kept between jobs, so its caches are warm as a long-running worker's)."""

    def __init__(self, url: str, prefix: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # no copy of this process's event loop
        self._pipes: list[Connection] = []
        self._procs = []
        for _ in range(count):
            mine, theirs = context.Pipe()
            proc = context.Process(target=_worker, args=(url, prefix, theirs), daemon=True)
            proc.start()
            self._pipes.append(mine)
            self._procs.append(proc)
        for pipe in self._pipes:  # warmed up
            pipe.recv()

    async def timed(self, client: aioredis.Redis, articles: Sequence[Article], *, chunk: int
                    ) -> Timing:
        """Place `articles` in chunks, chunk k by worker k modulo the number of workers."""
        chunks = [articles[i:i + chunk] for i in range(0, len(articles), chunk)]
        count = len(self._pipes)
        for k, pipe in enumerate(self._pipes):
            pipe.send(chunks[k::count])
            pipe.recv()  # loaded
        server0, wall0 = await server_cpu(client), time.perf_counter()
        for pipe in self._pipes:
            pipe.send("go")
        cpu, refused = 0.0, 0
        for pipe in self._pipes:
            seconds, count = await asyncio.to_thread(pipe.recv)
            cpu, refused = cpu + seconds, refused + count
        wall = time.perf_counter() - wall0
        return Timing(wall, cpu, await server_cpu(client) - server0, refused)

    def close(self) -> None:
        for pipe, proc in zip(self._pipes, self._procs, strict=True):
            pipe.send(None)
            proc.join(timeout=30)


def _worker(url: str, prefix: str, pipe: Connection) -> None:
    """A worker process: warm up, then for each list of chunks received, place them when told
    to go and send back the CPU seconds it took; None ends it."""
    with asyncio.Runner() as runner:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        index = StoryIndex(Store(client, prefix=prefix), window_seconds=WINDOW,
                           seen_seconds=WINDOW)
        index.analyzer.analyse(Synth(0).article(at=START, join=False))
        pipe.send("ready")
        while (chunks := pipe.recv()) is not None:
            pipe.send("loaded")
            pipe.recv()
            cpu0, refused0 = time.process_time(), index.refused.total()
            for part in chunks:
                runner.run(index.place_many(part, now=NOW))
            pipe.send((time.process_time() - cpu0, index.refused.total() - refused0))
        runner.run(client.aclose())


def baseline_cost(window: Sequence[Article], batch: Sequence[Article], sample: int) -> float:
    """Seconds per article for rapidfuzz against every article in the window (on a sample)."""
    texts = [f"{a.title} {a.text}" for a in window]
    start = time.perf_counter()
    for article in batch[:sample]:
        process.extractOne(f"{article.title} {article.text}", texts, scorer=fuzz.token_set_ratio,
                           score_cutoff=60)
    return (time.perf_counter() - start) / sample


async def measure(url: str, size: int, *, batch: int, chunk: int, processes: int, sample: int
                  ) -> float:
    """Fill a window of `size` articles, time new ones, print rates and the baseline ratio;
    returns the throughput cost (seconds per article through place_many)."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    prefix = f"bench:{uuid.uuid4().hex[:10]}:"
    index = StoryIndex(Store(client, prefix=prefix), window_seconds=WINDOW,
                       seen_seconds=WINDOW)
    synth = Synth(size)
    span = WINDOW - 3600
    fill = [synth.article(at=START + timedelta(seconds=span * i / size), join=random.random() < .6)
            for i in range(size)]
    workers = Workers(url, prefix, processes)
    try:
        fill_t = await workers.timed(client, fill, chunk=chunk)
        at = START + timedelta(seconds=span)
        new = [synth.article(at=at, join=i % 2 == 0) for i in range(3 * batch)]
        one = await timed(client, index, new[:batch], chunk=0)
        chunked = await timed(client, index, new[batch:2 * batch], chunk=chunk)
        many = await workers.timed(client, new[2 * batch:], chunk=chunk)
        base = baseline_cost(fill, new, sample)
        cost = chunked.wall / batch
        print(f"window {size:>7} (filled at {size / fill_t.wall:.0f}/s), {batch} new articles:\n"
              f"  one at a time     {one.per_article(batch)}\n"
              f"  place_many {chunk:<6} {chunked.per_article(batch)}\n"
              f"  {processes} workers      {many.per_article(batch)}\n"
              f"  baseline rapidfuzz {1 / base:.1f}/s ({base * 1e3:.1f} ms each, timed on "
              f"{sample}, extrapolated); speed-up {base / cost:.1f}x (place_many), "
              f"{base * batch / one.wall:.1f}x (one at a time)", flush=True)
        return cost
    finally:
        workers.close()
        while keys := [k async for k in client.scan_iter(match=f"{prefix}*", count=5000)]:
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start:start + 1000])
        await client.aclose()


async def main() -> None:
    """Measure each window size in turn, then the cost ratio of the largest to the smallest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--batch", type=int, default=2000, help="articles timed each way")
    parser.add_argument("--chunk", type=int, default=500, help="articles per place_many call")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--sample", type=int, default=20, help="articles timed for the baseline")
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    print(f"redis {url}; window {WINDOW // 3600} h; synthetic articles, "
          f"{args.workers} worker processes")
    sizes = [int(s) for s in args.sizes.split(",")]
    costs = [await measure(url, size, batch=args.batch, chunk=args.chunk,
                           processes=args.workers, sample=args.sample) for size in sizes]
    if len(sizes) > 1:
        print(f"cost per article at {sizes[-1]} is {costs[-1] / costs[0]:.2f}x the cost at "
              f"{sizes[0]} (place_many, {args.chunk} at a time)")


if __name__ == "__main__":
    asyncio.run(main())
