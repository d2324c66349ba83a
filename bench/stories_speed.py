"""Articles per second through StoryIndex on a real Redis at window sizes 1k, 10k and 100k,
against a brute-force baseline (rapidfuzz against every article in the window), in one run.

    REDIS_URL=redis://127.0.0.1:6379/14 python bench/stories_speed.py [--sizes 1000,10000,100000]

Synthetic articles (a title and a ~60-word lead drawn from a Zipf vocabulary, grouped into
events of 1-20 reports) are pre-filled into the window, then a batch of new articles (half
joining existing events) is timed, sequentially and with --workers concurrent tasks. The
baseline scores each new article with rapidfuzz against every article in the window held in
memory (no Redis cost at all); it is timed on a sample and its per-article cost extrapolated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

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

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.weights = [1 / (i + 1) for i in range(len(VOCAB))]
        self.events: list[list[str]] = []

    def _common(self, k: int) -> list[str]:
        return self.rng.choices(VOCAB, weights=self.weights, k=k)

    def article(self, *, at: datetime, join: bool) -> Article:
        """A report of an existing event (`join`) or of a new one."""
        if join and self.events:
            words = self.rng.choice(self.events[-2000:])
        else:
            words = [*self.rng.sample(VOCAB, 8), str(self.rng.randint(100, 99999))]
            self.events.append(words)
        title = " ".join(self.rng.sample(words, 4) + self._common(3))
        lead = " ".join(self.rng.sample(words, 6) + self._common(50) + self.rng.sample(words, 3))
        n = uuid.UUID(int=self.rng.getrandbits(128)).hex
        return Article(outlet=f"outlet{self.rng.randint(1, 40)}", title=title, text=lead,
                       url=f"https://news{self.rng.randint(1, 40)}.example/{n}", published=at)


async def place_all(index: StoryIndex, articles: Sequence[Article], workers: int) -> float:
    """Place `articles` with `workers` concurrent tasks; returns elapsed seconds."""
    queue = list(reversed(articles))

    async def worker() -> None:
        while queue:
            await index.place(queue.pop(), now=NOW)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


def baseline_cost(window: Sequence[Article], batch: Sequence[Article], sample: int) -> float:
    """Seconds per article for rapidfuzz against every article in the window (on a sample)."""
    texts = [f"{a.title} {a.text}" for a in window]
    start = time.perf_counter()
    for article in batch[:sample]:
        process.extractOne(f"{article.title} {article.text}", texts, scorer=fuzz.token_set_ratio,
                           score_cutoff=60)
    return (time.perf_counter() - start) / sample


async def measure(url: str, size: int, *, batch: int, workers: int, sample: int) -> None:
    """Fill a window of `size` articles, time a batch, print rates and the baseline ratio."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    prefix = f"bench:{uuid.uuid4().hex[:10]}:"
    index = StoryIndex(Store(client, prefix=prefix), window_seconds=WINDOW,
                       seen_seconds=WINDOW)
    synth = Synth(size)
    span = WINDOW - 3600
    fill = [synth.article(at=START + timedelta(seconds=span * i / size), join=random.random() < .6)
            for i in range(size)]
    try:
        fill_s = await place_all(index, fill, workers)
        at = START + timedelta(seconds=span)
        new = [synth.article(at=at, join=i % 2 == 0) for i in range(2 * batch)]
        seq_s = await place_all(index, new[:batch], 1)
        par_s = await place_all(index, new[batch:], workers)
        base = baseline_cost(fill, new, sample)
        per_article = seq_s / batch
        print(f"window {size:>7}: fill {size / fill_s:7.0f}/s; batch of {batch}: "
              f"{batch / seq_s:6.0f} articles/s sequential ({per_article * 1e6:5.0f} us each), "
              f"{batch / par_s:6.0f}/s with {workers} workers; baseline rapidfuzz "
              f"{1 / base:8.1f}/s ({base * 1e3:.1f} ms each, timed on {sample}, extrapolated); "
              f"speed-up {base / per_article:7.1f}x sequential, "
              f"{base * batch / par_s:7.1f}x with workers")
    finally:
        while keys := [k async for k in client.scan_iter(match=f"{prefix}*", count=5000)]:
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start:start + 1000])
        await client.aclose()


async def main() -> None:
    """Measure each window size in turn."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--sample", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    print(f"redis {url}; window {WINDOW // 3600} h; synthetic articles, 1 Python process")
    for size in map(int, args.sizes.split(",")):
        await measure(url, size, batch=args.batch, workers=args.workers, sample=args.sample)


if __name__ == "__main__":
    asyncio.run(main())
