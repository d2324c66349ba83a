"""Issue 5's acceptance, end to end: the real service as a user deploys it.

`python -m bot run` runs in a subprocess, configured only by its environment: a fresh data
directory, TELEGRAM_BOT_TOKEN / SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET set, TELEGRAM_API_URL
and SLACK_API_URL pointing at the loopback test servers, and a feeds file listing the five
seeds served as RSS over loopback, one feed per outlet. The feeds change in stages so that the
outlets of the three-outlet story arrive one after another across polls. With REDIS_URL set
(CI's second pass) the service uses that server under a fresh key prefix; without it, the
embedded Valkey in the data directory, which the restart must find again.

The last test runs the service in-process to stop it while a poll is half-way through.
Every wait polls for a condition with a deadline; nothing asserts how long anything took
except that a retry came at least `retry_after` after the 429 that asked for it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from bot.app import App
from bot.archive import Archive
from bot.config import Settings
from bot.feeds.seeds import read_seed_folder
from bot.feeds.sources import feed_id
from bot.scheduler import serve
from bot.store import Store
from tests.conftest import SEEDS
from tests.feedserver import FeedServer, rss
from tests.service import Service
from tests.slack_server import SignedRequest, SlackServer
from tests.telegram_server import BotApiServer, parse_html
from tests.waiting import until as _wait

pytestmark = pytest.mark.slow

DEADLINE = 60.0  # seconds any one condition may take before the test fails with the logs
until = functools.partial(_wait, deadline=DEADLINE)
PRIVATE = 555  # the analyst's private chat with the bot
GROUP = -100777  # a supergroup where user 99 is a member and user 7 an administrator
CHANNEL = "C123"  # the Slack channel
RULE = "朝鲜 + 派兵"
OUTLETS = ("DW", "VOA", "BBC", "RFI")  # one feed each; seed 003 (no outlet) is served as BBC's
STORY = "韩国指朝鲜派兵增援俄侵乌战争 北约回应"  # seeds 001 (DW), 002 (VOA) and 003: one story
SINGLE = "韩国与欧盟同声强烈谴责朝鲜出兵援俄攻乌"  # seed 000 (VOA), a story of its own
UNMATCHED = "韩国敦促朝俄停止武器贸易"  # seed 004 (RFI, arms trade): matches no rule
TELEGRAM_RETRY_AFTER = 2  # above the 1 s per-chat spacing, so waiting it out is visible
SLACK_RETRY_AFTER = 1
_OUTLETS_LINE = re.compile(r"(\d+) outlets?: (.+)")
_MRKDWN_LINK = re.compile(r"<[^|>]*\|([^>]*)>")  # Slack's <url|label>
ONE, TWO, THREE = frozenset({"DW"}), frozenset({"DW", "VOA"}), frozenset({"DW", "VOA", "BBC"})


# --- the service in a subprocess ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- feeds in stages ------------------------------------------------------------------------


def _seed_items() -> dict[str, dict[str, Any]]:
    """RSS items of the five seeds, by seed number ("000" ... "004")."""
    articles, errors = read_seed_folder(SEEDS)
    assert not errors
    items: dict[str, dict[str, Any]] = {}
    for article in articles:
        item: dict[str, Any] = {"title": article.title, "description": article.text,
                                "guid": Path(article.path or "").name}
        if article.url:
            item["link"] = article.url
        if article.published:
            item["pubDate"] = article.published
        items[Path(article.path or "").name[:3]] = item
    return items


class StagedFeeds:
    """One RSS feed per outlet on a FeedServer; `publish` changes what the feeds carry."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.items = _seed_items()
        self.urls = {outlet: server.url(f"/{outlet.lower()}.xml") for outlet in OUTLETS}
        self.publish({})

    def publish(self, seeds: dict[str, list[str]]) -> None:
        """Serve exactly `seeds` (outlet -> seed numbers), with an ETag per content."""
        for outlet in OUTLETS:
            body = rss([self.items[n] for n in seeds.get(outlet, [])], language="zh",
                       title=f"{outlet} 中文", link=f"https://{outlet.lower()}.example/")
            tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            self.server.add(f"/{outlet.lower()}.xml", body, etag=tag)

    def write_feeds_file(self, path: Path) -> Path:
        """A feeds file listing the four feeds, polled every half second."""
        lines = ["feeds:"] + [f"  - url: {url}\n    outlet: {outlet}\n    interval: 0.5\n"
                              f"    language: zh" for outlet, url in self.urls.items()]
        path.write_text("\n".join(lines) + "\n")
        return path


# --- what the test servers saw -------------------------------------------------------------------


def _outlets(text: str) -> frozenset[str] | None:
    """{DW, VOA, BBC} from an alert's `3 outlets: DW · VOA · BBC` line (None if absent)."""
    match = _OUTLETS_LINE.search(_MRKDWN_LINK.sub(r"\1", text))
    if match is None:
        return None
    names = frozenset(name.strip() for name in match.group(2).split(" · "))
    assert len(names) == int(match.group(1)), match.group()
    return names


def tg_alert_calls(api: BotApiServer, chat_id: int, method: str = "sendMessage") -> list[Any]:
    """Every call of `method` for an alert in `chat_id` (replies quote a command; alerts don't),
    failed ones included, in order."""
    return [c for c in api.calls if c.method == method and c.params.get("chat_id") == chat_id
            and "reply_parameters" not in c.params]


def tg_replies(api: BotApiServer, chat_id: int) -> list[str]:
    """The text (as shown) of every command reply the bot sent to `chat_id`."""
    return [m["text"] for m in api.messages(chat_id) if "reply_to_message" in m]


def shown(call: Any) -> str:
    """The text a sendMessage or editMessageText call showed (its HTML parsed)."""
    return parse_html(call.params["text"])[0]


def tg_alert(api: BotApiServer, headline: str) -> dict[str, Any] | None:
    """The current state of the alert message about `headline` in the private chat."""
    return next((m for m in api.messages(PRIVATE) if "reply_to_message" not in m
                 and headline in m["text"].split("\n")[0]), None)


def slack_alert(slack: SlackServer, headline: str) -> dict[str, Any] | None:
    """The current state of the alert message in the channel about `headline`."""
    return next((m for m in slack.messages[CHANNEL] if headline in m["text"].split("\n")[0]),
                None)


def outlets_of(message: dict[str, Any] | None) -> frozenset[str] | None:
    """The outlets an alert message lists (Slack: in its text, else in its blocks), or None."""
    if message is None:
        return None
    return _outlets(message["text"]) or _outlets(json.dumps(message.get("blocks", []),
                                                            ensure_ascii=False))


async def post_command(port: int, request: SignedRequest) -> tuple[int, str]:
    """POST a slash command to the service's /slack/events as Slack would."""
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/slack/events", data=request.body.encode(),
            headers=request.headers) as response:
        return response.status, await response.text()


# --- the store the service uses ----------------------------------------------------------------


@pytest.fixture
def store_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The store settings of the service: REDIS_URL (if the suite has one) under a fresh
    prefix, removed afterwards; otherwise nothing, so the service embeds Valkey in its data
    directory."""
    url = os.environ.get("REDIS_URL")
    if not url:
        yield {}
        return
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield {"REDIS_URL": url, "NEWSBOT_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def deployment_env(tmp_path: Path, store_env: dict[str, str], *, feeds: Path, port: int,
                   api: BotApiServer) -> dict[str, str]:
    """The environment of a deployment: a fresh data directory, the feeds file, the store,
    fast polls, and Telegram at the test Bot API server; nothing else of ours inherited."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_")) and k != "REDIS_URL"}
    return env | store_env | {
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"), "NEWSBOT_FEEDS": str(feeds),
        "NEWSBOT_HTTP_PORT": str(port), "NEWSBOT_FETCH_TIMEOUT": "5",
        # re-poll every half second or so, however old the seeds' dates are
        "NEWSBOT_POLL_MIN_INTERVAL": "0.3", "NEWSBOT_POLL_MAX_INTERVAL": "0.5",
        "NEWSBOT_LOG_LEVEL": "INFO",
        "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root}


@dataclass
class World:
    """The test servers and the service's environment."""

    api: BotApiServer
    slack: SlackServer
    feeds: StagedFeeds
    env: dict[str, str]
    cwd: Path
    port: int


@pytest.fixture
async def world(tmp_path: Path, store_env: dict[str, str]) -> AsyncIterator[World]:
    """Bot API and Slack Web API servers, the staged feeds, and a deployment's environment."""
    port = _free_port()
    async with BotApiServer() as api, SlackServer(channels=(CHANNEL,)) as slack:
        api.add_chat(GROUP, chat_type="supergroup", title="Newsroom", admins=(7,))
        with FeedServer() as server:
            feeds = StagedFeeds(server)
            env = deployment_env(tmp_path, store_env, port=port, api=api,
                                 feeds=feeds.write_feeds_file(tmp_path / "feeds.yaml"))
            env |= {"SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": slack.signing_secret,
                    "SLACK_API_URL": slack.api_url}
            cwd = tmp_path / "deploy"  # no .env, no rules/ or feeds.yaml of its own
            cwd.mkdir()
            yield World(api, slack, feeds, env, cwd, port)


# --- the acceptance test ------------------------------------------------------------------------


async def _started(world: World, service: Service, starts: int) -> None:
    """Wait until the `starts`-th service has both front ends up (its Telegram menu set in
    two languages happens after the HTTP server listens)."""
    await until(lambda: len(world.api.calls_of("setMyCommands")) >= 2 * starts,
                f"service #{starts} to start", service)


async def _add_rules(world: World, service: Service) -> None:
    """Both platforms' `/rule add`, a forged and a stale Slack request, a group member's try."""
    api, slack = world.api, world.slack
    api.queue_command(f"/rule add {RULE}", chat_id=PRIVATE)
    api.queue_command(f"/rule add {RULE}", chat_id=GROUP, user_id=99)  # a member, not an admin
    forged = slack.slash_command(f"rule add {RULE}", secret="not-the-signing-secret")
    stale = slack.slash_command(f"rule add {RULE}", timestamp=int(time.time()) - 600)
    for request in (forged, stale):
        assert (await post_command(world.port, request))[0] == 401
    genuine = slack.slash_command(f"rule add {RULE}")
    assert await post_command(world.port, genuine) == (200, "")  # acknowledged at once

    [reply] = await until(lambda: tg_replies(api, PRIVATE), "the Telegram reply", service)
    assert reply.startswith(f"Rule #1 added: {RULE}")
    [refusal] = await until(lambda: tg_replies(api, GROUP), "the group refusal", service)
    assert refusal.startswith("Sorry, only this chat's administrators can change")
    [answer] = await until(lambda: slack.responses[genuine.response_id], "the Slack reply",
                           service)
    assert answer["text"].startswith(f"Rule #1 added: {RULE}")
    assert answer["response_type"] == "in_channel"
    for request in (forged, stale):  # refused requests were never answered
        assert request.response_id not in slack.response_posts


def _check_first_alerts_waited_out_429s(world: World) -> None:
    """The first alert on each platform waited out its 429 and arrived once."""
    tries = tg_alert_calls(world.api, PRIVATE)
    assert [c.status for c in tries] == [429, 200], [shown(c)[:40] for c in tries]
    assert tries[1].at - tries[0].at >= TELEGRAM_RETRY_AFTER
    posts = world.slack.calls_to("chat.postMessage")
    assert len(posts) == 2 and len(world.slack.messages[CHANNEL]) == 1
    assert posts[1].at - posts[0].at >= SLACK_RETRY_AFTER


async def test_rules_from_both_platforms_alert_twice_edit_and_survive_a_restart(
        world: World) -> None:
    """`/rule add 朝鲜 + 派兵` from a Telegram private chat and a signed Slack slash command
    lead to exactly two alerts on each platform; the three-outlet story's alert is edited as
    its outlets arrive; a 429 on either platform is waited out; forged Slack requests and a
    group member's `/rule add` change nothing; a restart in the middle sends nothing twice and
    loses nothing (articles published and a command sent while the bot was down)."""
    api, slack, feeds = world.api, world.slack, world.feeds
    async with Service(world.env, world.cwd) as first:
        await _started(world, first, 1)
        await _add_rules(world, first)

        api.fail_next("sendMessage", retry_after=TELEGRAM_RETRY_AFTER)
        slack.rate_limit("chat.postMessage", retry_after=SLACK_RETRY_AFTER)
        feeds.publish({"DW": ["001"], "RFI": ["004"]})
        await until(lambda: outlets_of(tg_alert(api, STORY)) == ONE, "the Telegram alert", first)
        await until(lambda: outlets_of(slack_alert(slack, STORY)) == ONE, "the Slack alert",
                    first)
        _check_first_alerts_waited_out_429s(world)

        feeds.publish({"DW": ["001"], "RFI": ["004"], "VOA": ["002"]})
        await until(lambda: outlets_of(tg_alert(api, STORY)) == TWO,
                    "the Telegram edit to two outlets", first)
        await until(lambda: outlets_of(slack_alert(slack, STORY)) == TWO,
                    "the Slack update to two outlets", first)
        assert await first.stop() == 0, first.log()
    assert "scheduler: stopped" in first.log()

    # While the bot is down: the third outlet and another story appear, and a command is sent.
    feeds.publish({"DW": ["001"], "RFI": ["004"], "VOA": ["002", "000"], "BBC": ["003"]})
    api.queue_command("/rules", chat_id=PRIVATE)

    async with Service(world.env, world.cwd) as second:
        await _started(world, second, 2)
        await until(lambda: outlets_of(tg_alert(api, STORY)) == THREE,
                    "the Telegram edit to three outlets", second)
        await until(lambda: outlets_of(slack_alert(slack, STORY)) == THREE,
                    "the Slack update to three outlets", second)
        await until(lambda: tg_alert(api, SINGLE), "the second Telegram alert", second)
        await until(lambda: slack_alert(slack, SINGLE), "the second Slack alert", second)
        await until(lambda: len(tg_replies(api, PRIVATE)) == 2, "the /rules reply", second)
        assert await second.stop() == 0, second.log()

    # A last start polls every feed once and delivers whatever is still queued, then exits:
    # after it nothing more can arrive, so the counts below are final.
    async with Service(world.env, world.cwd, args=("run", "--once")) as last:
        assert await last.wait() == 0, last.log()

    _check_telegram(api)
    _check_slack(slack)


def _check_telegram(api: BotApiServer) -> None:
    """Two alerts in the private chat (one per story), the big one edited twice, nothing else."""
    sent = [c for c in tg_alert_calls(api, PRIVATE) if c.status == 200]
    heads = [shown(c).split("\n")[0] for c in sent]
    assert len(heads) == 2 and STORY in heads[0] and SINGLE in heads[1]  # once each, in order
    edits = [c for c in tg_alert_calls(api, PRIVATE, "editMessageText") if c.status == 200]
    big = tg_alert(api, STORY)
    assert big is not None and {e.params["message_id"] for e in edits} == {big["message_id"]}
    assert [_outlets(shown(e)) for e in edits] == [TWO, THREE]
    assert outlets_of(tg_alert(api, SINGLE)) == {"VOA"}
    assert len(api.messages(PRIVATE)) == 2 + 2  # two alerts, two replies (/rule add, /rules)
    replies = tg_replies(api, PRIVATE)
    assert replies[1].splitlines() == ["Rules of this chat:", f"#1  {RULE}"]  # not added twice
    assert all(UNMATCHED not in m["text"] for m in api.messages(PRIVATE))
    assert len(api.messages(GROUP)) == 1  # the refusal; the group has no rule, so no alert


def _check_slack(slack: SlackServer) -> None:
    """Two alerts in the channel, the big one updated twice at its ts, one reply per command."""
    messages = slack.messages[CHANNEL]
    big = slack_alert(slack, STORY)
    assert big is not None and messages == [big, slack_alert(slack, SINGLE)]
    assert len(slack.calls_to("chat.postMessage")) == 3  # the two alerts and one 429
    updates = [c.params for c in slack.calls_to("chat.update")]
    assert {u["ts"] for u in updates} == {big["ts"]}
    assert [outlets_of(u) for u in updates] == [TWO, THREE]
    blocks = json.dumps(big["blocks"], ensure_ascii=False)
    assert all(outlet in blocks for outlet in ("DW", "VOA", "BBC"))
    assert outlets_of(slack_alert(slack, SINGLE)) == {"VOA"}
    assert sum(len(r) for r in slack.responses.values()) == 1  # only the genuine command
    assert len(slack.calls_to("auth.test")) == 3  # one per start
    assert all(UNMATCHED not in m["text"] for m in messages)


# --- a stop in the middle of a poll -------------------------------------------------------------


def _noise_items(count: int) -> list[dict[str, Any]]:
    """`count` unrelated English reports, each its own story (distinct words throughout)."""
    items = []
    for n in range(count):
        words = [hashlib.sha256(f"{n}:{k}".encode()).hexdigest()[:10] for k in range(40)]
        items.append({"title": f"Report {n} on {words[0]} and {words[1]}",
                      "description": " ".join(words), "link": f"https://www.dw.com/en/a-{n}",
                      "pubDate": datetime(2024, 10, 21, 12, tzinfo=UTC) + timedelta(minutes=n)})
    return items


async def test_a_stop_in_the_middle_of_a_poll_lets_the_poll_finish(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """Stopping the service while a poll is half-way through its articles lets that poll
    finish (an article cut off between joining its story and reaching the outbox would be
    seen, so never alerted, after the restart) and keeps its validators for the next start."""
    count = 40
    archive = Archive(store, ttl=10**9)
    epoch = datetime(1970, 1, 2, tzinfo=UTC)
    with FeedServer() as server:
        url = server.add("/feed.xml", rss(_noise_items(count)), etag='"v1"')
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {url}\n    interval: 3600\n")
        settings = Settings(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=key_prefix,  # type: ignore[call-arg]
                            NEWSBOT_FEEDS=feeds, NEWSBOT_DATA_DIR=tmp_path / "data",
                            NEWSBOT_HTTP_PORT=0)
        async with App(settings) as app:
            stop = asyncio.Event()
            service = asyncio.create_task(serve(app, stop=stop))
            async with asyncio.timeout(DEADLINE):
                while True:  # until the poll has started placing articles
                    if await archive.since(epoch):
                        break
                    await asyncio.sleep(0.005)
            stop.set()
            await asyncio.wait_for(service, DEADLINE)
            placed = len(await archive.since(epoch))
            state = await store.feed_state(feed_id(url))
    assert placed == count
    assert state.get("etag") == '"v1"'
