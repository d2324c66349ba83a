"""Alert latency of the real service: from an item appearing on a feed to the Telegram message
arriving, p50/p95/max, against the configured poll interval, for polled feeds and for feeds
whose WebSub hub pushes the item, in the same run.

    REDIS_URL=redis://127.0.0.1:6379/14 python bench/latency.py [--items 30] [--interval 2]

`python -m bot run` runs in a subprocess configured only by its environment (as in
tests/test_acceptance.py): a fresh data directory, a feeds file listing `--feeds` RSS feeds
on a loopback feed server (tests/feedserver.py) plus `--push-feeds` feeds that advertise a
loopback WebSub hub (tests/websub_hub.py, rel="hub" and rel="self"), TELEGRAM_API_URL pointing
at the loopback Bot API server (tests/telegram_server.py), NEWSBOT_PUBLIC_URL at the service's
own HTTP port (the hub's callbacks), NEWSBOT_POLL_MIN_INTERVAL = each feed's `interval` =
`--interval` and NEWSBOT_POLL_MAX_INTERVAL = 30 x `--interval`. So every polled feed is polled
at that interval (+/-10 % jitter) whatever its publishing rate (its own interval is its
longest wait), while a feed with a verified WebSub subscription is polled only as a fallback,
about every NEWSBOT_POLL_MAX_INTERVAL. With REDIS_URL set the service uses that server under a
fresh key prefix, deleted afterwards; without it, the embedded Valkey in the temporary data
directory.

`--chats` private chats each add a rule (`/rule add <animal>`) through getUpdates; the bench
waits until the hub has verified a subscription for every push feed. Then 2 x `--items` new
articles are published at random moments (gaps uniform in [0.25, 1] x interval), alternately
on a random polled feed and on a random push feed (the hub then POSTs the feed document, signed,
to the service's callback right away), each a distinct story (random words throughout)
whose title names the keyword of the next chat in turn, so each causes exactly one
sendMessage, and the chats take turns so that no chat's 1.1 s pacing or burst combining comes
into play. Latency = the Bot API server receiving the sendMessage whose text carries the
item's headline, minus the moment the item was put on the feed (both on this process's
monotonic clock: both servers run here). It splits into the wait for the feed's next poll
(the feed server's first request for that feed after publishing) and the rest (fetch, parse,
story grouping, rules, outbox, delivery pacing and its 0.5 s burst gathering). A pushed
item's latency splits into the hub's POST (until the service answered 202) and the rest
(parse, the same pipeline and delivery); the report counts the pushed items a fallback poll
fetched before the push was answered (normally none).

Baseline: with interval polling an item waits for the next poll, uniform over one poll
period, so about interval/2 on average (p50 ~0.5, p95 ~0.95 of the interval), plus the
processing; the ratios printed are latency / configured interval, and the push path's mean
latency over the polled path's, both measured in this run.

Everything is bounded: the service must start, take the rules and have every push feed
subscribed within 60 s each, and each item must arrive within 10 intervals + 30 s of the last
publication, else the bench exits 1 with the service's log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import itertools
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' servers

from bot.outbox import GATHER_SECONDS
from tests.feedserver import FeedServer, rss
from tests.service import Service
from tests.telegram_server import BotApiServer, parse_html
from tests.waiting import WaitError, until
from tests.websub_hub import Hub, with_hub

KEYWORDS = ("quokka", "axolotl", "pangolin", "narwhal", "okapi", "tapir", "capybara", "wombat")
FIRST_CHAT = 9001
START_DEADLINE = 60.0  # seconds for the service to start and answer every /rule add
FEED_ITEMS = 20  # newest items a feed carries, as a real feed keeps its latest
FALLBACK_FACTOR = 30  # NEWSBOT_POLL_MAX_INTERVAL = this x --interval (push feeds' fallback)


class BenchError(Exception):
    """The run could not be measured (the service died or something timed out)."""


# --- the service and the servers -------------------------------------------------------------


class TimedFeedServer(FeedServer):
    """A FeedServer that also notes when each request arrived (this process's monotonic clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: defaultdict[str, list[float]] = defaultdict(list)

    def record(self, path: str, headers: dict[str, str]) -> None:
        """Remember the request and its arrival time."""
        now = time.monotonic()
        super().record(path, headers)
        self.arrivals[path].append(now)  # list.append is atomic; handler threads may race

    def first_after(self, path: str, moment: float) -> float | None:
        """When `path` was first requested after `moment`, or None."""
        return next((t for t in list(self.arrivals[path]) if t >= moment), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- items -------------------------------------------------------------------------------------


@dataclass
class Item:
    """One published article and what became of it."""

    n: int
    feed: str  # path on the feed server
    chat: int
    headline: str
    push: bool = False  # on a feed whose hub pushes it
    published: float = 0.0  # monotonic
    polled: float | None = None  # the feed's first request after publishing
    pushed: float | None = None  # the service answered the hub's POST
    arrived: float | None = None  # the Bot API server received its sendMessage

    @property
    def latency(self) -> float:
        """Seconds from publishing to the sendMessage."""
        assert self.arrived is not None
        return self.arrived - self.published


def _words(seed: str, count: int) -> list[str]:
    """`count` random-looking lower-case words (letters only), different for every seed."""
    words = []
    for k in range(count):
        digest = hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()
        words.append("".join(chr(ord("a") + int(c, 16) % 26) for c in digest[:9]))
    return words


def _rss_item(item: Item, run: str) -> dict[str, Any]:
    """The RSS item of `item`: a distinct story that names its chat's keyword."""
    words = _words(f"{run}:{item.n}", 60)
    return {"title": item.headline, "guid": f"{run}-{item.n}",
            "link": f"https://news{item.feed.strip('/').split('.')[0]}.example/{run}/{item.n}",
            "description": " ".join(words[3:]), "pubDate": datetime.now(UTC)}


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The bench's parameters."""

    items: int
    interval: float
    feeds: int
    push_feeds: int
    chats: int
    seed: int


@dataclass(frozen=True)
class Polls:
    """What the feed server saw: gaps between successive requests of each polled feed, and
    the requests of each kind of feed while the items were published."""

    periods: list[float]
    polled_feeds: int
    push_feeds: int


async def run(cfg: Config) -> tuple[list[Item], Polls]:
    """Start the servers and the service, add the rules, publish, wait for every alert; the
    items and what the feed server saw."""
    rng = random.Random(cfg.seed)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench:latency:{run_id}:"
    url = os.environ.get("REDIS_URL")
    try:
        with tempfile.TemporaryDirectory(prefix="newsbot-latency-") as tmp:
            return await _measure(cfg, rng, run_id, Path(tmp),
                                  {"REDIS_URL": url, "NEWSBOT_KEY_PREFIX": prefix} if url else {})
    finally:
        if url:
            client = redis.Redis.from_url(url)
            try:
                for key in client.scan_iter(match=f"{prefix}*", count=1000):
                    client.delete(key)
            finally:
                client.close()


async def _measure(cfg: Config, rng: random.Random, run_id: str, tmp: Path,
                   store_env: dict[str, str]) -> tuple[list[Item], Polls]:
    chats = [FIRST_CHAT + k for k in range(cfg.chats)]
    async with BotApiServer() as api, Hub() as hub:
        with TimedFeedServer() as server:
            polled = [f"/feed{k}.xml" for k in range(cfg.feeds)]
            pushed = [f"/push{k}.xml" for k in range(cfg.push_feeds)]
            paths = polled + pushed
            carried: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}

            def put(path: str) -> bytes:
                body = rss(carried[path][:FEED_ITEMS], title=f"Feed {path}")
                if path in pushed:
                    body = with_hub(body, hub=hub.url, self_url=server.url(path))
                server.add(path, body, etag='"' + hashlib.sha256(body).hexdigest()[:16] + '"')
                return body

            for path in paths:
                put(path)
            feeds_file = tmp / "feeds.yaml"
            feeds_file.write_text("feeds:\n" + "".join(
                f"  - url: {server.url(p)}\n    outlet: Outlet{k}\n    interval: {cfg.interval}\n"
                f"    language: en\n" for k, p in enumerate(paths)))
            cwd = tmp / "deploy"  # no .env, no feeds.yaml of its own
            cwd.mkdir()
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_")) and k != "REDIS_URL"}
            port = _free_port()
            env |= store_env | {
                "NEWSBOT_DATA_DIR": str(tmp / "data"), "NEWSBOT_FEEDS": str(feeds_file),
                "NEWSBOT_HTTP_PORT": str(port), "NEWSBOT_FETCH_TIMEOUT": "5",
                "NEWSBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "NEWSBOT_POLL_MIN_INTERVAL": str(cfg.interval),
                "NEWSBOT_POLL_MAX_INTERVAL": str(cfg.interval * FALLBACK_FACTOR),
                "NEWSBOT_LOG_LEVEL": "INFO",
                "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root}
            async with Service(env, cwd) as service:
                await until(lambda: len(api.calls_of("setMyCommands")) >= 2,
                            "the service to start", service, deadline=START_DEADLINE)
                for chat, keyword in zip(chats, KEYWORDS, strict=False):
                    api.queue_command(f"/rule add {keyword}", chat_id=chat)
                for chat in chats:
                    replies = await until(functools.partial(_replies, api, chat),
                                          f"chat {chat}'s rule", service,
                                          deadline=START_DEADLINE)
                    if not replies[0].startswith("Rule #1 added"):
                        raise BenchError(f"/rule add was refused in chat {chat}: {replies[0]}")
                # every polled feed polled twice: the schedule is in its steady state; every
                # push feed subscribed, the hub's verification of intent answered
                await until(lambda: all(server.count(p) >= 2 for p in polled),
                            "two polls of every feed", service, deadline=START_DEADLINE)
                await until(lambda: all(hub.confirmed("subscribe", server.url(p))
                                        for p in pushed),
                            "the hub's subscriptions", service, deadline=START_DEADLINE)

                items = [Item(n, rng.choice(pushed if n % 2 else polled), chats[n % len(chats)],
                              f"{KEYWORDS[n % len(chats)]} sighting {n:03d} "
                              f"{' '.join(_words(f'{run_id}:{n}', 2))}", push=bool(n % 2))
                         for n in range(2 * cfg.items)]
                before = {p: server.count(p) for p in paths}
                for item in items:
                    await asyncio.sleep(rng.uniform(0.25, 1.0) * cfg.interval)
                    if not service.running:
                        raise BenchError(f"the service exited:\n{service.log()}")
                    carried[item.feed].insert(0, _rss_item(item, run_id))
                    body = put(item.feed)
                    item.published = time.monotonic()
                    if item.push:  # the hub distributes the new document at once
                        await _push(item, body, hub=hub, topic=server.url(item.feed))
                    _collect(api, server, items)
                during = {p: server.count(p) - before[p] for p in paths}

                deadline = 10 * cfg.interval + 30
                await until(lambda: _collect(api, server, items), "every alert", service,
                            deadline=deadline)
            return items, Polls(_periods(server, polled), sum(during[p] for p in polled),
                                sum(during[p] for p in pushed))


async def _push(item: Item, body: bytes, *, hub: Hub, topic: str) -> None:
    """The hub POSTs the feed document carrying `item` to the service's callback."""
    statuses = await hub.publish(topic, body)
    if statuses != [202]:
        raise BenchError(f"the service answered the hub's push with {statuses}")
    item.pushed = time.monotonic()


def _replies(api: BotApiServer, chat: int) -> list[str]:
    return [m["text"] for m in api.messages(chat) if "reply_to_message" in m]


def _collect(api: BotApiServer, server: TimedFeedServer, items: Sequence[Item]) -> bool:
    """Fill in poll and arrival times from what the servers saw; True once all arrived."""
    sends = [c for c in api.calls if c.method == "sendMessage" and c.status == 200
             and "reply_parameters" not in c.params]
    for item in items:
        if not item.published:
            continue
        if item.polled is None:
            item.polled = server.first_after(item.feed, item.published)
        if item.arrived is None:
            item.arrived = next((c.at for c in sends if c.params.get("chat_id") == item.chat
                                 and item.headline in parse_html(c.params["text"])[0]), None)
    return all(item.arrived is not None for item in items)


# --- the report ----------------------------------------------------------------------------------


def _pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _row(name: str, values: Sequence[float], interval: float) -> str:
    """One line of figures: p50, p95, max, mean, and the quantiles over the interval."""
    if not values:
        return f"  {name:<30} (none)"
    p50, p95, top = _pct(values, 0.5), _pct(values, 0.95), max(values)
    return (f"  {name:<30} p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {top:6.2f} s  "
            f"mean {statistics.fmean(values):6.2f} s   "
            f"(/interval: p50 {p50 / interval:.2f}  p95 {p95 / interval:.2f}  "
            f"max {top / interval:.2f})")


def report(cfg: Config, items: Sequence[Item], polls: Polls) -> str:
    """The figures as printed."""
    iv = cfg.interval
    polled = [i for i in items if not i.push]
    pushed = [i for i in items if i.push]
    latencies = [i.latency for i in polled]
    push_latencies = [i.latency for i in pushed]
    waits = [i.polled - i.published for i in polled if i.polled is not None]
    rest = [i.arrived - i.polled for i in polled
            if i.polled is not None and i.arrived is not None]
    posts = [i.pushed - i.published for i in pushed if i.pushed is not None]
    after_post = [i.arrived - i.pushed for i in pushed
                  if i.pushed is not None and i.arrived is not None]
    raced = sum(1 for i in pushed if i.polled is not None and i.pushed is not None
                and i.polled < i.pushed)
    period = statistics.fmean(polls.periods) if polls.periods else float("nan")
    mean, push_mean = statistics.fmean(latencies), statistics.fmean(push_latencies)
    return "\n".join([
        f"newsbot alert latency: {len(polled)} items on {cfg.feeds} polled feeds and "
        f"{len(pushed)} on {cfg.push_feeds} WebSub feeds, to {cfg.chats} chats, seed {cfg.seed}",
        f"  configured poll interval       {iv:.2f} s (NEWSBOT_POLL_MIN_INTERVAL and each feed's "
        f"interval; +/-10 % jitter)",
        f"  measured poll period           {period:.2f} s (mean gap between a polled feed's "
        f"requests)",
        "polled path (publish -> sendMessage received by the Bot API server):",
        _row("latency", latencies, iv),
        _row("  wait for the next poll", waits, iv),
        _row("  poll -> sendMessage", rest, iv),
        f"    (-> sendMessage includes the outbox's {GATHER_SECONDS:.2f} s wait for the rest "
        f"of a burst, GATHER_SECONDS)",
        f"baseline (interval polling): wait ~ uniform over one period: mean ~ interval/2 = "
        f"{iv / 2:.2f} s (0.50), p50 ~ 0.50, p95 ~ 0.95 of the interval, plus processing",
        f"  latency / baseline mean        {mean / (iv / 2):.2f} "
        f"(mean latency {mean:.2f} s vs interval/2 {iv / 2:.2f} s)",
        "push path (WebSub: publish, the hub POSTs the signed feed document to the callback "
        "-> sendMessage):",
        _row("latency", push_latencies, iv),
        _row("  publish -> push answered", posts, iv),
        _row("  push answered -> sendMessage", after_post, iv),
        f"  push / polled mean latency     {push_mean / mean:.2f} "
        f"(mean {push_mean:.2f} s vs {mean:.2f} s)",
        f"  requests while publishing      {polls.push_feeds} to the push feeds, "
        f"{polls.polled_feeds} to the polled feeds (a subscribed feed is polled about every "
        f"NEWSBOT_POLL_MAX_INTERVAL = {iv * FALLBACK_FACTOR:.0f} s)",
        f"  pushed items a poll got first  {raced}",
    ])


def _periods(server: TimedFeedServer, paths: Sequence[str]) -> list[float]:
    gaps = []
    for path in paths:
        ordered = sorted(server.arrivals[path])
        gaps += [b - a for a, b in itertools.pairwise(ordered)]
    return gaps


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=30,
                        help="articles to publish on each path, polled and pushed (30)")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="the configured poll interval, seconds (2)")
    parser.add_argument("--feeds", type=int, default=3, help="polled feeds (3)")
    parser.add_argument("--push-feeds", type=int, default=3,
                        help="feeds advertising the WebSub hub (3)")
    parser.add_argument("--chats", type=int, default=3,
                        help=f"Telegram chats with a rule each (3, at most {len(KEYWORDS)})")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed of the publishing moments (default: random)")
    args = parser.parse_args(argv)
    if min(args.items, args.feeds, args.push_feeds) < 1 or args.interval <= 0:
        parser.error("--items, --feeds and --push-feeds must be at least 1 and --interval "
                     "positive")
    if not 1 <= args.chats <= len(KEYWORDS):
        parser.error(f"--chats must be between 1 and {len(KEYWORDS)}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    return Config(args.items, args.interval, args.feeds, args.push_feeds, args.chats, seed)


async def main(cfg: Config) -> int:
    """Run once and print the figures; 1 if the run could not be measured."""
    try:
        items, polls = await run(cfg)
    except (BenchError, WaitError) as exc:
        print(f"latency: {exc}", file=sys.stderr)
        return 1
    print(report(cfg, items, polls))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse_args())))
