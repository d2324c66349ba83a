"""Issue 12's acceptance, end to end: one story per event from the first minute after a start.

The real service (`python -m bot run` in a subprocess, configured only by its environment)
polls the five seeds served as RSS over loopback, one feed per outlet, every item dated when
it appears, as in a live deployment: the publication times then say nothing about which
reports belong together. The RFI arms-trade report (004) comes first, then within a minute
DW's and VOA's reports of the Seoul summons (001, 002), the BBC report of it (003) and VOA's
report of the Korea-EU condemnation (000). Right after the start the window holds a handful
of articles, so only what the reports say can keep the three events apart.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.feedserver import FeedServer, rss
from tests.service import Service
from tests.telegram_server import BotApiServer
from tests.test_acceptance import (
    PRIVATE,
    RULE,
    SINGLE,
    STORY,
    UNMATCHED,
    _free_port,
    _seed_items,
    deployment_env,
    outlets_of,
    shown,
    store_env,
    tg_alert,
    tg_alert_calls,
    tg_replies,
)
from tests.waiting import until as _wait

__all__ = ["store_env"]  # the fixture, shared with tests/test_acceptance.py
pytestmark = pytest.mark.slow

until = functools.partial(_wait, deadline=60.0)
FEEDS = {"DW": ["001"], "VOA": ["002", "000"], "BBC": ["003"], "RFI": ["004"]}
RELEASES = ("004", "001", "002", "003", "000")  # the order the reports appear in


class LiveFeeds:
    """One RSS feed per outlet; `release` adds a seed to its feed, dated at that moment."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.items = _seed_items()
        self.released: dict[str, datetime] = {}
        for outlet in FEEDS:
            self._serve(outlet)

    def release(self, seed: str) -> None:
        """Publish `seed` in its outlet's feed with the current time as its pubDate."""
        self.released[seed] = datetime.now(UTC)
        self._serve(next(outlet for outlet, seeds in FEEDS.items() if seed in seeds))

    def _serve(self, outlet: str) -> None:
        items = [self.items[n] | {"pubDate": self.released[n]} for n in FEEDS[outlet]
                 if n in self.released]
        self.server.add(f"/{outlet.lower()}.xml", rss(items, language="zh", title=outlet))

    def feeds_file(self, path: Path) -> Path:
        """The feeds file: the four feeds, polled about every half second."""
        path.write_text("feeds:\n" + "".join(
            f"  - url: {self.server.url(f'/{outlet.lower()}.xml')}\n    outlet: {outlet}\n"
            f"    interval: 0.5\n    language: zh\n" for outlet in FEEDS))
        return path


@dataclass
class Live:
    """The Bot API server, the live feeds, and the service's environment."""

    api: BotApiServer
    feeds: LiveFeeds
    env: dict[str, str]
    cwd: Path


@pytest.fixture
async def live(tmp_path: Path, store_env: dict[str, str]) -> AsyncIterator[Live]:
    """The Bot API server, the live feeds, and a deployment's environment (Telegram only)."""
    async with BotApiServer() as api:
        with FeedServer() as server:
            feeds = LiveFeeds(server)
            env = deployment_env(tmp_path, store_env, port=_free_port(), api=api,
                                 feeds=feeds.feeds_file(tmp_path / "feeds.yaml"))
            cwd = tmp_path / "deploy"
            cwd.mkdir()
            yield Live(api, feeds, env, cwd)


def _placed(service: Service) -> int:
    """How many articles the service has placed so far (its log line per chunk of them)."""
    return sum(int(match.group(1)) for line in service.output
               if "pipeline: articles placed" in line
               and (match := re.search(r"\bplaced=(\d+)", line)))


def _stories(live: Live) -> list[dict[str, Any]]:
    """`newsbot stories --json` on the service's store, after it stopped."""
    listed = subprocess.run([sys.executable, "-m", "bot", "stories", "--since", "2d", "--json"],
                            cwd=live.cwd, env=live.env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr[-3000:]
    stories: list[dict[str, Any]] = json.loads(listed.stdout)
    return stories


async def test_five_reports_within_a_minute_make_three_stories_and_two_alerts(
        live: Live) -> None:
    """004 first, then 001, 002, 003 and 000 within a minute, all dated as they appear: the
    stories are {001, 002, 003}, {000} and {004}; `朝鲜 + 派兵` brings one alert for each of
    the first two (the first listing DW, VOA and BBC) and none for 004; `/digest now` lists
    the same two."""
    api, feeds = live.api, live.feeds
    titles = {n: item["title"] for n, item in feeds.items.items()}
    async with Service(live.env, live.cwd) as service:
        await until(lambda: service.started, "the service to start", service)
        api.queue_command(f"/rule add {RULE}", chat_id=PRIVATE)
        await until(lambda: tg_replies(api, PRIVATE), "the /rule add reply", service)
        start = time.monotonic()
        for count, seed in enumerate(RELEASES, 1):
            feeds.release(seed)
            await until(lambda count=count: _placed(service) >= count,  # type: ignore[misc]
                        f"seed {seed} to be placed", service)
        assert time.monotonic() - start < 60, "the five reports did not arrive within a minute"
        await until(lambda: outlets_of(tg_alert(api, STORY)) == {"DW", "VOA", "BBC"},
                    "the summons alert with its three outlets", service)
        await until(lambda: tg_alert(api, SINGLE), "the condemnation alert", service)
        api.queue_command("/digest now", chat_id=PRIVATE)
        await until(lambda: len(tg_replies(api, PRIVATE)) >= 2, "the digest", service)
        assert await service.stop() == 0, service.log()

    alerts = [shown(call).split("\n")[0] for call in tg_alert_calls(api, PRIVATE)]
    assert sorted(alerts) == sorted([STORY, SINGLE]), alerts  # one message each, then edits
    assert not any(UNMATCHED in m["text"] for m in api.messages(PRIVATE))
    digest = tg_replies(api, PRIVATE)[-1]
    assert STORY in digest and SINGLE in digest and UNMATCHED not in digest, digest
    assert digest.index(STORY) < digest.index(SINGLE)  # three outlets before one

    groups = sorted(sorted(next(n for n, t in titles.items() if t == a["title"])
                           for a in story["articles"]) for story in _stories(live))
    assert groups == [["000"], ["001", "002", "003"], ["004"]], groups
