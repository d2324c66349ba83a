"""Ops basics (issue 15): the User-Agent of feed and WebSub requests, /metrics on its own
loopback address, the rule-engine path logged at start, and the container healthcheck run
against a real `newsbot run`. Real servers and processes on 127.0.0.1 throughout."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web

from bot import __version__
from bot.app import App
from bot.config import Settings
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import poll_feed
from bot.http import HttpServer, build_http_app
from bot.rules import native
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.feedserver import FeedServer, rss
from tests.waiting import until
from tests.websub_hub import with_hub

DEADLINE = 60.0  # seconds a start or a stop may take (an upper bound, not a measurement)
COMPOSE_FILE = REPO / "docker-compose.yml"
ITEM = {"title": "Weather report", "guid": "w-1", "link": "https://www.dw.com/en/w-1"}


def _settings(tmp_path: Path, redis_url: str, key_prefix: str, feeds: str,
              **extra: Any) -> Settings:
    (tmp_path / "feeds.yaml").write_text(feeds)
    return Settings.model_validate({
        "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
        "NEWSBOT_FEEDS": tmp_path / "feeds.yaml", "NEWSBOT_RULES_DIR": REPO / "rules",
        "NEWSBOT_DATA_DIR": tmp_path / "data", **extra})


# --- User-Agent ------------------------------------------------------------------------------


async def test_feed_fetches_name_the_project_version_and_the_contact_url(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """By default a feed server sees `newsbot/<version> (+<NEWSBOT_CONTACT_URL>)`."""
    with FeedServer() as srv:
        url = srv.add("/feed.xml", rss([ITEM]))
        settings = _settings(tmp_path, redis_url, key_prefix, f"feeds:\n  - url: {url}\n",
                             NEWSBOT_CONTACT_URL="https://ops.example.org/newsbot")
        async with App(settings) as app:
            await app.run_once()
        [request] = srv.requests("/feed.xml")
    assert request["user-agent"] == f"newsbot/{__version__} (+https://ops.example.org/newsbot)"


async def test_a_set_user_agent_replaces_the_default_on_open_and_guarded_fetches(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """NEWSBOT_USER_AGENT is sent whole, by the service's fetcher for the feeds file and by a
    fetcher's guarded clients (feeds added from chat)."""
    agent = "ExampleDesk-Alerts/2.1 (+mailto:desk@example.org)"
    with FeedServer() as srv:
        url = srv.add("/feed.xml", rss([ITEM]))
        settings = _settings(tmp_path, redis_url, key_prefix, f"feeds:\n  - url: {url}\n",
                             NEWSBOT_USER_AGENT=agent)
        async with App(settings) as app:
            await app.run_once()
        loopback = [ipaddress.ip_network("127.0.0.0/8")]
        async with Fetcher(user_agent=settings.http_user_agent,
                           allow_networks=loopback) as fetcher:
            await fetcher.fetch(url, guard=True)
        agents = [r["user-agent"] for r in srv.requests("/feed.xml")]
    assert agents == [agent, agent]


@asynccontextmanager
async def recording_hub() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A hub that records each subscription request's headers and answers 202 (it never
    verifies: only what arrives matters here); its URL and the headers."""
    seen: list[dict[str, str]] = []

    async def subscribe(request: web.Request) -> web.Response:
        await request.read()
        seen.append({k.lower(): v for k, v in request.headers.items()})
        return web.Response(status=202)

    async with HttpServer(0, build_http_app([web.post("/", subscribe)]),
                          host="127.0.0.1") as hub:
        yield f"{hub.url}/", seen


async def test_websub_subscription_requests_carry_the_user_agent(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """The service's WebSub client (its own httpx clients) sends the same User-Agent to hubs."""
    with FeedServer() as srv:
        async with recording_hub() as (hub_url, seen):
            url = srv.add("/feed.xml", with_hub(rss([ITEM]), hub=hub_url))
            settings = _settings(tmp_path, redis_url, key_prefix, f"feeds:\n  - url: {url}\n",
                                 NEWSBOT_CONTACT_URL="mailto:ops@example.org",
                                 NEWSBOT_PUBLIC_URL="http://127.0.0.1:9/")
            async with App(settings) as app:
                assert app.websub is not None
                [feed] = app.feeds
                result = await poll_feed(feed, store=app.store, fetcher=app.fetcher)
                await app.handle_poll(result)
                await app.websub.run_due()
                await until(lambda: seen, "the subscription request")
        [feed_request] = srv.requests("/feed.xml")
    expected = f"newsbot/{__version__} (+mailto:ops@example.org)"
    assert feed_request["user-agent"] == expected
    assert [h["user-agent"] for h in seen] == [expected]


# --- `newsbot run`: the metrics server, the rule-engine line, the healthcheck -----------------


@dataclass
class Run:
    """`newsbot run` in a subprocess, its stderr collected; started once the scheduler is."""

    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=REPO, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert self.proc.stderr is not None
        async with asyncio.timeout(DEADLINE):
            while not any("scheduler: started" in line for line in self.lines):
                line = (await self.proc.stderr.readline()).decode()
                assert line, "the service exited:\n" + self.log()
                self.lines.append(line.rstrip())
        self._reader = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.lines.append(line.decode().rstrip())

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    def logged(self, message: str) -> list[str]:
        """The lines carrying `message`."""
        return [line for line in self.lines if message in line]

    def port(self, message: str) -> int:
        """The `port=` of the one line carrying `message`."""
        [line] = self.logged(message)
        found = re.search(r"\bport=(\d+)", line)
        assert found, line
        return int(found.group(1))

    async def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), DEADLINE)
        if self._reader is not None:
            await self._reader
        return code


@asynccontextmanager
async def running(tmp_path: Path, redis_url: str, key_prefix: str, feeds: str,
                  **extra: str) -> AsyncIterator[Run]:
    """`newsbot run` over `feeds` (the feeds file's text) with NEWSBOT_HTTP_PORT=0 and
    NEWSBOT_METRICS_PORT=0 unless `extra` says otherwise; it must stop with status 0."""
    (tmp_path / "feeds.yaml").write_text(feeds)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
    env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
            "NEWSBOT_FEEDS": str(tmp_path / "feeds.yaml"), "NEWSBOT_HTTP_PORT": "0",
            "NEWSBOT_METRICS_PORT": "0", "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
            "NEWSBOT_FETCH_TIMEOUT": "5", **extra}
    run = Run(env)
    await run.start()
    try:
        yield run
    finally:
        code = await run.stop()
    assert code == 0, run.log()


async def _healthy(client: httpx.AsyncClient) -> httpx.Response | None:
    response = await client.get("/healthz")
    return response if response.status_code == 200 else None


def test_server_urls_reach_a_server_bound_to_every_interface() -> None:
    """A server bound to all of IPv4 or IPv6 is reached on loopback; IPv6 hosts in brackets."""
    app = build_http_app()
    assert HttpServer(9464, app, host="0.0.0.0").url == "http://127.0.0.1:9464"
    assert HttpServer(9464, app, host="::").url == "http://[::1]:9464"
    assert HttpServer(9464, app, host="fd00::5").url == "http://[fd00::5]:9464"
    assert HttpServer(9464, app, host="127.0.0.1").url == "http://127.0.0.1:9464"


async def test_metrics_are_served_on_their_own_loopback_port_only(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """NEWSBOT_METRICS_PORT=0 picks a free port on 127.0.0.1 and logs it; /metrics answers
    there and not on NEWSBOT_HTTP_PORT, and /healthz answers on both."""
    async with running(tmp_path, redis_url, key_prefix, f"feeds:\n  - path: {SEEDS}\n") as run:
        [line] = run.logged("metrics: listening")
        assert "host=127.0.0.1" in line
        public, metrics_port = run.port("http: listening"), run.port("metrics: listening")
        assert metrics_port not in (0, public)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{public}") as web_client, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}") as metrics:
            scraped = await metrics.get("/metrics")
            assert scraped.status_code == 200
            assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert "\nnewsbot_redis_up 1.0\n" in scraped.text
            assert (await web_client.get("/metrics")).status_code == 404
            assert (await web_client.head("/metrics")).status_code == 404
            await until(lambda: _healthy(web_client), "/healthz 200 on the public port", run)
            assert (await metrics.get("/healthz")).json()["status"] == "ok"


async def test_a_taken_metrics_port_is_logged_and_the_service_runs_on(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """A second worker on one host with the same NEWSBOT_METRICS_PORT: an error line names
    the setting, and the service still serves /healthz and stops cleanly."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with running(tmp_path, redis_url, key_prefix, f"feeds:\n  - path: {SEEDS}\n",
                           NEWSBOT_METRICS_PORT=str(port)) as run:
            [line] = run.logged("metrics: not served")
            assert " ERROR " in line and "NEWSBOT_METRICS_PORT" in line and f"port={port}" in line
            assert not run.logged("metrics: listening")
            public = run.port("http: listening")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{public}") as client:
                await until(lambda: _healthy(client), "/healthz 200", run)


BLOCK_CORE = '''
import sys


class _NoCore:
    """Stands for an install made without a C compiler: bot.rules._cmatch is not there."""

    def find_spec(self, name, path=None, target=None):
        if name == "bot.rules._cmatch":
            raise ImportError("bot.rules._cmatch was not built")
        return None


sys.meta_path.insert(0, _NoCore())
'''


@pytest.mark.parametrize("core", ["as-installed", "without-core"])
async def test_the_rule_engine_path_is_logged_once_at_start(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store, core: str) -> None:
    """`newsbot run` logs one line naming the engine's path: the C core `bot.rules._cmatch`
    when it is built (as with `pip install -e .` and a compiler), pure Python in an install
    without it (here: its import refused at interpreter start, as when it was never built)."""
    extra = {}
    if core == "without-core":
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(BLOCK_CORE)
        extra["PYTHONPATH"] = os.pathsep.join(
            [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    async with running(tmp_path, redis_url, key_prefix, f"feeds:\n  - path: {SEEDS}\n",
                       **extra) as run:
        [line] = run.logged("rules: engine")
    if core == "as-installed" and native.AVAILABLE:
        assert "runs the C core" in line and "path=c " in line
        assert "module=bot.rules._cmatch" in line
    else:
        assert "runs pure Python" in line and "path=python " in line
        assert "C compiler" in line


def healthcheck() -> list[str]:
    """The compose file's healthcheck command for the bot (tests/test_compose.py holds the
    Dockerfile's HEALTHCHECK equal to it), with this interpreter for the image's `python`."""
    test = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["bot"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    return [sys.executable, *test[2:]]


def _check(port: int) -> subprocess.CompletedProcess[str]:
    """Run the healthcheck as Docker would in the container: NEWSBOT_HTTP_PORT in its env."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NEWSBOT_HTTP_PORT": str(port)}
    return subprocess.run(healthcheck(), env=env, capture_output=True, text=True,
                          timeout=DEADLINE, check=False)


async def test_the_container_healthcheck_passes_on_a_healthy_bot_and_fails_otherwise(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """The healthcheck command exits 0 against a bot whose /healthz is 200, non-zero against
    one whose only feed fails (503) and once nothing listens."""
    async with running(tmp_path, redis_url, key_prefix, f"feeds:\n  - path: {SEEDS}\n") as run:
        port = run.port("http: listening")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await until(lambda: _healthy(client), "/healthz 200", run)
        ok = await asyncio.to_thread(_check, port)
        assert ok.returncode == 0, ok.stderr
    gone = await asyncio.to_thread(_check, port)
    assert gone.returncode != 0
    with FeedServer() as srv:
        url = srv.add("/down.xml", b"oops", status=500)
        async with running(tmp_path, redis_url, f"{key_prefix}sick:",  # no shared good poll
                           f"feeds:\n  - url: {url}\n") as run:
            port = run.port("http: listening")
            await until(lambda: srv.count("/down.xml"), "the failed poll", run)
            sick = await asyncio.to_thread(_check, port)
    assert sick.returncode != 0
    assert "503" in sick.stderr
