"""WebSub, subscriber side, against a real hub on loopback (tests/websub_hub.py).

Feeds are served over HTTP by tests/feedserver.py and advertise the hub; the subscriber's
callback is served by the bot's own HTTP server (bot/http.py) on a free port, and the hub
talks to it over real HTTP: verification of intent by GET, content by a signed POST. State is
read back from the real Redis/Valkey server. The first test runs the whole service in-process
(polling, WebSub, pipeline, outbox, the console channel). Waits are upper bounds on a test that
hangs, never measurements.
"""

from __future__ import annotations

import asyncio
import functools
import io
import ipaddress
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.app import App
from bot.config import Settings
from bot.feeds.engine import PollPolicy
from bot.feeds.fetch import Fetcher
from bot.feeds.links import FeedLinks, header_links
from bot.feeds.parse import parse_document
from bot.feeds.poll import PollResult, poll_feed
from bot.feeds.sources import feed_id
from bot.feeds.websub import WebSub, signature_ok
from bot.http import HttpServer, build_http_app
from bot.models import FeedSpec
from bot.platforms.console import ConsoleChannel
from bot.scheduler import serve
from bot.store import Store
from tests.conftest import REPO
from tests.feedserver import FeedServer, atom, rss
from tests.waiting import until as _wait
from tests.websub_hub import Hub, with_hub

WAIT = 30.0  # upper bound for anything awaited; reaching it is a failure, not a measurement
_until = functools.partial(_wait, deadline=WAIT)
HEADLINE = "朝鲜派兵增援俄罗斯 首尔召见大使"


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(timeout=5, connect_timeout=5) as f:
        yield f


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Recorder:
    """The handler pushes are given (the app gives its pipeline): what it was handed."""

    def __init__(self) -> None:
        self.results: list[PollResult] = []
        self.gate: asyncio.Event | None = None

    async def handle(self, result: PollResult) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.results.append(result)

    def titles(self) -> list[str]:
        return [a.title for r in self.results for a in r.articles]


def _feed(url: str) -> FeedSpec:
    return FeedSpec(id=feed_id(url), url=url)


def _listing(*feeds: FeedSpec) -> Callable[[], Awaitable[list[FeedSpec]]]:
    async def source() -> list[FeedSpec]:
        return list(feeds)

    return source


@asynccontextmanager
async def subscriber(store: Store, feeds: list[FeedSpec], recorder: Recorder, *,
                     untrusted: Sequence[FeedSpec] = (), **options: Any
                     ) -> AsyncIterator[WebSub]:
    """A WebSub over `feeds` (and chat feeds `untrusted`) with its callback served on a free
    port of 127.0.0.1; `feeds` may change while it runs (a feed deleted)."""
    port = _free_port()
    chat = {f.id for f in untrusted}

    async def source() -> list[FeedSpec]:
        return [*feeds, *untrusted]

    websub = WebSub(store, source=source, handle=recorder.handle,
                    public_url=f"http://127.0.0.1:{port}", untrusted=lambda f: f.id in chat,
                    **options)
    async with websub, HttpServer(port, build_http_app(websub.routes()), host="127.0.0.1"):
        yield websub


async def _discover(websub: WebSub, feed: FeedSpec, store: Store, fetcher: Fetcher, *,
                    guard: bool = False) -> PollResult:
    """Poll `feed` for real and let WebSub see the result, as the engine's handler does."""
    result = await poll_feed(feed, store=store, fetcher=fetcher, guard=guard)
    assert result.error is None, result.error
    await websub.discovered(result)
    return result


async def _subscribed(websub: WebSub, hub: Hub, feed: FeedSpec, topic: str, *, store: Store,
                      fetcher: Fetcher) -> None:
    """Discover the hub from a poll, subscribe, and wait for the hub's verification."""
    await _discover(websub, feed, store, fetcher)
    await websub.run_due()
    await hub.wait_verified(topic)


async def _get(url: str, **params: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as resp:
        return resp.status, await resp.text()


# --- discovery ---------------------------------------------------------------------------------

_BASE = "https://news.example/feeds/world.xml"
_DISCOVERY = [
    ("rss atom:link hub and self",
     with_hub(rss([{"title": "a"}]), hub="https://hub.example/", self_url=_BASE),
     FeedLinks(("https://hub.example/",), _BASE)),
    ("atom hub and self",
     with_hub(atom([{"title": "a"}]), hub="https://hub.example/h", self_url=_BASE),
     FeedLinks(("https://hub.example/h",), _BASE)),
    ("atom relative hub, no self", with_hub(atom([{"title": "a"}]), hub="/hub"),
     FeedLinks(("https://news.example/hub",), None)),
    ("two hubs in order", with_hub(rss([{"title": "a"}]), hub=["https://a.example/",
                                                               "https://b.example/"]),
     FeedLinks(("https://a.example/", "https://b.example/"), None)),
    ("a hub that is not http(s) is ignored",
     with_hub(rss([{"title": "a"}]), hub="javascript:alert(1)"), FeedLinks((), None)),
    ("no links", rss([{"title": "a"}]), FeedLinks((), None)),
    ("a link inside an entry is not the feed's",
     atom([{"title": "a"}]).replace(b"<entry>", b'<entry><link rel="hub" href="https://x/"/>'),
     FeedLinks((), None)),
]


@pytest.mark.parametrize(("case", "document", "expected"), _DISCOVERY,
                         ids=[c[0] for c in _DISCOVERY])
def test_hub_and_self_links_are_discovered(case: str, document: bytes,
                                           expected: FeedLinks) -> None:
    """The feed-level rel="hub" and rel="self" links of Atom and RSS, absolute, http(s)."""
    parsed = parse_document(document, feed=FeedSpec(id="f", url=_BASE), url=_BASE)
    assert parsed.links == expected and [a.title for a in parsed.articles] == ["a"]


_HEADERS = [
    ('<https://hub.example/>; rel="hub", <https://news.example/f.xml>; rel="self"',
     FeedLinks(("https://hub.example/",), "https://news.example/f.xml")),
    ("<https://hub.example/>; rel=hub", FeedLinks(("https://hub.example/",), None)),
    ('</hub>; title="a, b; c"; rel="hub self"', FeedLinks(("https://news.example/hub",),
                                                          "https://news.example/hub")),
    ('<https://a.example/>; rel="HUB", <https://b.example/>;rel="hub"',
     FeedLinks(("https://a.example/", "https://b.example/"), None)),
    ('<https://x.example/>; rel="alternate"; rel="hub"', FeedLinks((), None)),  # first rel only
    ('<ftp://hub.example/>; rel="hub"', FeedLinks((), None)),
    ("garbage; <<>> ,, rel=", FeedLinks((), None)),
    (None, FeedLinks((), None)),
]


@pytest.mark.parametrize(("value", "expected"), _HEADERS, ids=[str(h[0]) for h in _HEADERS])
def test_hub_and_self_links_from_the_link_header(value: str | None,
                                                 expected: FeedLinks) -> None:
    """RFC 8288 Link headers: several values, quoted or bare rel, several rel types, relative
    URLs made absolute against the response URL; only http(s) hubs."""
    assert header_links(value, "https://news.example/feeds/f.xml") == expected


async def test_a_polled_feeds_link_header_comes_before_its_document_links(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """The spec has subscribers look at the HTTP Link header first: its hub wins over the
    document's; the document's self link is kept when the header names none."""
    document = with_hub(rss([{"title": "a"}]), hub="https://doc-hub.example/",
                        self_url="https://news.example/self.xml")
    url = srv.add("/link-header.xml", document,
                  headers={"Link": '<https://header-hub.example/>; rel="hub"'})
    result = await poll_feed(FeedSpec(id=feed_id(url), url=url), store=store, fetcher=fetcher)
    assert result.links == FeedLinks(("https://header-hub.example/",),
                                     "https://news.example/self.xml")
    plain = srv.add("/no-link-header.xml", document)
    result = await poll_feed(FeedSpec(id=feed_id(plain), url=plain), store=store,
                             fetcher=fetcher)
    assert result.links == FeedLinks(("https://doc-hub.example/",),
                                     "https://news.example/self.xml")


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_signature_check_accepts_each_method_and_nothing_else(method: str) -> None:
    """An HMAC of the exact body with the secret passes; any other body, secret or form not."""
    import hmac

    body, secret = b"<rss/>", "s3cret"
    good = f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"
    assert signature_ok(good, secret, body) and signature_ok(good.upper(), secret, body)
    assert not signature_ok(good, secret, body + b" ")
    assert not signature_ok(good, "other", body)
    assert not signature_ok(None, secret, body) and not signature_ok(good, "", body)
    assert not signature_ok(good.replace(method, "md5"), secret, body)
    assert not signature_ok(f"{method}=é{good[len(method) + 2:]}", secret, body)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("https://bot.example.org/", "https://bot.example.org"),
    ("https://bot.example.org/newsbot", "https://bot.example.org/newsbot"),
    ("ftp://bot.example.org", ValueError), ("bot.example.org", ValueError),
    ("https://bot.example.org/?a=1", ValueError)])
def test_public_url_setting_turns_websub_on(value: str | None, expected: object,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """NEWSBOT_PUBLIC_URL: an http(s) URL (kept without its trailing slash) turns WebSub on;
    unset it is off; anything else is refused at start."""
    monkeypatch.delenv("NEWSBOT_PUBLIC_URL", raising=False)
    monkeypatch.delenv("NEWSBOT_WEBSUB_LEASE", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    env = {} if value is None else {"NEWSBOT_PUBLIC_URL": value}
    if expected is ValueError:
        with pytest.raises(ValueError, match="NEWSBOT_PUBLIC_URL"):
            Settings.model_validate(env)
        return
    settings = Settings.model_validate(env)
    assert settings.public_url == expected and settings.websub_enabled == (value is not None)
    assert settings.websub_lease == 864_000


# --- the whole service --------------------------------------------------------------------------


async def test_a_push_alerts_through_the_service_and_the_next_poll_adds_nothing(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store,
        srv: FeedServer) -> None:
    """The service polls a feed that names a hub, subscribes (topic: its rel="self"), answers
    the hub's challenge, lengthens that feed's polling, and alerts once on a signed push; the
    poll that later finds the same item alerts nothing more."""
    topic = "https://news.example/canonical/world.xml"
    async with Hub() as hub:
        path = "/service/world.xml"
        url = srv.add(path, with_hub(rss([{"title": "Weather report", "guid": "w"}]),
                                     hub=hub.url, self_url=topic))
        fid = feed_id(url)
        (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {url}\n    outlet: VOA\n"
                                             f"    language: zh\n")
        port = _free_port()
        settings = Settings.model_validate({
            "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
            "NEWSBOT_FEEDS": tmp_path / "feeds.yaml", "NEWSBOT_RULES_DIR": REPO / "rules",
            "NEWSBOT_DATA_DIR": tmp_path / "data", "NEWSBOT_HTTP_PORT": port,
            "NEWSBOT_PUBLIC_URL": f"http://127.0.0.1:{port}/"})
        console = io.StringIO()
        async with App(settings, channels=[ConsoleChannel(console)]) as app:
            assert app.websub is not None
            stop = asyncio.Event()
            service = asyncio.create_task(serve(app, stop=stop))
            try:
                await hub.wait_verified(topic)
                [request] = hub.requests_of("subscribe")
                assert request["hub.callback"] == f"http://127.0.0.1:{port}/websub/{fid}"
                assert request["hub.lease_seconds"] == "864000"
                assert re.fullmatch(r"[0-9a-f]{64}", request["hub.secret"])
                state = await _until(lambda: _active_state(store, fid), "the active state")
                assert (state["websub_hub"], state["websub_topic"]) == (hub.url, topic)
                assert await app.websub.active_count() == 1
                assert b"\nnewsbot_websub_subscriptions_active 1.0\n" in (
                    await app.monitor.exposition())

                accepted = app.metrics.value("newsbot_websub_pushes_total", result="accepted",
                                             reason="ok")
                body = with_hub(rss([{"title": HEADLINE, "guid": "news-1",
                                      "link": "https://www.voanews.com/a/1",
                                      "description": "韩国召见俄罗斯大使，抗议朝鲜派兵。",
                                      "pubDate": datetime.now(UTC)},
                                     {"title": "Weather report", "guid": "w"}]),
                                hub=hub.url, self_url=topic)
                srv.add(path, body)
                assert await hub.publish(topic, body) == [202]
                await _until(lambda: _printed(console, HEADLINE), "the pushed alert")
                assert app.metrics.value("newsbot_websub_pushes_total", result="accepted",
                                         reason="ok") == accepted + 1

                polls, fetched = app.engine.stats["polled"], srv.count(path)
                duplicates = app.metrics.value("newsbot_articles_processed_total",
                                               result="duplicate")
                await app.engine.due_now(fid)
                await _until(lambda: app.engine.stats["polled"] > polls, "the poll")
                assert srv.count(path) == fetched + 1
                assert app.metrics.value("newsbot_articles_processed_total",
                                         result="duplicate") >= duplicates + 2
                delay = await app.engine.next_due(fid) or 0.0
                assert delay - await app.engine.server_time() >= 0.9 * 3600 - 5  # not 300 s
                assert await app.outbox.depth() == 0
            finally:
                stop.set()
                await asyncio.wait_for(service, WAIT)
    assert _printed(console, HEADLINE) == 1


async def _active_state(store: Store, fid: str) -> dict[str, str] | None:
    state = await store.feed_state(fid)
    return state if state.get("websub_status") == "active" else None


def _printed(console: io.StringIO, headline: str) -> int:
    """How many alerts the console printed about `headline`."""
    return sum(1 for line in console.getvalue().splitlines()
               if line.startswith("[") and headline in line)


# --- subscriptions, one component over real HTTP ---------------------------------------------


async def test_signed_pushes_are_processed_and_forged_ones_acknowledged_but_discarded(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """Pushes signed with the subscription's secret (sha1, sha256, sha384, sha512) reach the
    handler; a wrong key, a missing signature or an unknown method get a 2xx and nothing else;
    an oversized body gets 413 and a feed without a subscription 410."""
    async with Hub() as hub:
        topic = srv.add("/sig.xml", with_hub(rss([{"title": "first"}]), hub=hub.url))
        feed, rec = _feed(topic), Recorder()
        async with subscriber(store, [feed], rec, max_bytes=64 * 1024) as websub:
            await _subscribed(websub, hub, feed, topic, store=store, fetcher=fetcher)
            rejected = websub.metrics.value("newsbot_websub_pushes_total", result="rejected",
                                            reason="signature")
            body = rss([{"title": "pushed"}])
            assert await hub.publish(topic, body, key="not-the-secret") == [202]
            assert await hub.publish(topic, body, sign=False) == [202]
            assert await hub.publish(topic, body, method="md5") == [202]
            assert websub.stats["push_signature"] == 3 and not websub.stats["processed"]
            for method in ("sha1", "sha256", "sha384", "sha512"):
                assert await hub.publish(topic, rss([{"title": method}]), method=method) == [202]
            await _until(lambda: websub.stats["processed"] == 4, "four processed pushes")
            assert sorted(rec.titles()) == ["sha1", "sha256", "sha384", "sha512"]
            assert {r.feed for r in rec.results} == {feed}
            assert websub.metrics.value("newsbot_websub_pushes_total", result="rejected",
                                        reason="signature") == rejected + 3

            assert await hub.publish(topic, rss([{"title": "x" * 70_000}])) == [413]
            async with aiohttp.ClientSession() as session, session.post(
                    websub.callback("nosuchfeed"), data=body) as response:
                assert response.status == 410
            assert len(rec.results) == 4  # the oversized and the unknown ones came to nothing


async def test_pushes_beyond_the_bound_are_refused_until_one_finishes(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """With one push allowed in flight, a second one while the first is processed gets 503
    with Retry-After (the hub retries later); once it is done the next is taken."""
    async with Hub() as hub:
        topic = srv.add("/bound.xml", with_hub(rss([{"title": "first"}]), hub=hub.url))
        feed, rec = _feed(topic), Recorder()
        async with subscriber(store, [feed], rec, max_pushes=1) as websub:
            await _subscribed(websub, hub, feed, topic, store=store, fetcher=fetcher)
            rec.gate = asyncio.Event()
            assert await hub.publish(topic, rss([{"title": "one"}])) == [202]
            assert await hub.publish(topic, rss([{"title": "two"}])) == [503]
            rec.gate.set()
            await _until(lambda: websub.stats["processed"] == 1, "the first push")
            assert await hub.publish(topic, rss([{"title": "three"}])) == [202]
            await _until(lambda: websub.stats["processed"] == 2, "the third push")
    assert rec.titles() == ["one", "three"] and websub.stats["push_busy"] == 1


async def test_a_challenge_that_matches_no_subscription_is_refused(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """Only a subscribe verification for the subscribed topic is answered with the challenge;
    another topic, another feed, an unsubscribe nobody asked for or no challenge get 404; one
    with no request pending is answered but cannot put the lease's end off."""
    async with Hub() as hub:
        topic = srv.add("/challenge.xml", with_hub(atom([{"title": "a"}]), hub=hub.url))
        feed = _feed(topic)
        async with subscriber(store, [feed], Recorder()) as websub:
            await _subscribed(websub, hub, feed, topic, store=store, fetcher=fetcher)
            callback = websub.callback(feed.id)
            ask = {"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c-1",
                   "hub.lease_seconds": "600"}
            assert await _get(callback, **{**ask, "hub.topic": topic + "?x"}) == (
                404, "no such subscription")
            assert (await _get(websub.callback("other"), **ask))[0] == 404
            assert (await _get(callback, **{**ask, "hub.mode": "unsubscribe"}))[0] == 404
            assert (await _get(callback, **{**ask, "hub.challenge": ""}))[0] == 404
            assert (await _get(callback, **{**ask, "hub.mode": "publish"}))[0] == 400
            assert await hub.publish(topic, atom([{"title": "still"}]),
                                     content_type="application/atom+xml") == [202]
            until = (await store.feed_state(feed.id))["websub_until"]
            renewal = await store.redis.zscore(store.keys("websub", "due"), f"sub:{feed.id}")
            ask["hub.lease_seconds"] = str(10**9)  # no request of ours pending: cannot stretch
            assert await _get(callback, **ask) == (200, "c-1")  # a hub re-confirming
            assert (await store.feed_state(feed.id))["websub_until"] == until
            assert await store.redis.zscore(store.keys("websub", "due"),
                                            f"sub:{feed.id}") <= renewal  # not put off
            ask["hub.lease_seconds"] = "600"  # but it may shorten the lease
            assert await _get(callback, **ask) == (200, "c-1")
            assert float((await store.feed_state(feed.id))["websub_until"]) < time.time() + 601


async def test_the_lease_is_renewed_before_it_expires(srv: FeedServer, store: Store,
                                                      fetcher: Fetcher) -> None:
    """A hub granting 2 s leases (and verifying before it answers) sees the subscription
    renewed again and again by the running upkeep, with the same callback and secret, each
    renewal verified and the lease's end moving on."""
    async with Hub(max_lease=2, verify_first=True) as hub:
        topic = srv.add("/lease.xml", with_hub(rss([{"title": "a"}]), hub=hub.url))
        feed = _feed(topic)
        async with subscriber(store, [feed], Recorder(), min_renew=0.2) as websub:
            await _discover(websub, feed, store, fetcher)
            stop = asyncio.Event()
            upkeep = asyncio.create_task(websub.run(stop))
            try:
                await hub.wait_verified(topic)
                first = float((await store.feed_state(feed.id))["websub_until"])
                await hub.wait_verified(topic, count=3)
            finally:
                stop.set()
                await asyncio.wait_for(upkeep, WAIT)
            last = float((await store.feed_state(feed.id))["websub_until"])
    requests = hub.requests_of("subscribe", topic)
    assert len(requests) >= 3 and not websub.stats["failed"]
    assert len({(r["hub.callback"], r["hub.secret"]) for r in requests}) == 1
    assert all(v.lease == 2 for v in hub.confirmed("subscribe", topic))
    assert last > first and hub.subscriptions[(topic, websub.callback(feed.id))].lease == 2


async def test_only_one_worker_keeps_the_subscriptions(
        srv: FeedServer, store: Store, fetcher: Fetcher, redis_url: str,
        key_prefix: str) -> None:
    """Two workers sharing one Redis both run the upkeep; the renewals of a short lease all
    come from the one holding the `websub` lease."""
    async with Hub(max_lease=1) as hub:
        topic = srv.add("/workers.xml", with_hub(rss([{"title": "a"}]), hub=hub.url))
        feed = _feed(topic)
        other = Store(aioredis.Redis.from_url(redis_url, decode_responses=True),
                      prefix=key_prefix)
        try:
            async with subscriber(store, [feed], Recorder(), min_renew=0.2) as a, WebSub(
                    other, source=_listing(feed), handle=Recorder().handle,
                    public_url=a.public_url, min_renew=0.2) as b:  # one address for both
                await _discover(a, feed, store, fetcher)
                stop = asyncio.Event()
                runs = [asyncio.create_task(w.run(stop)) for w in (a, b)]
                try:
                    await hub.wait_verified(topic, count=4)
                finally:
                    stop.set()
                    await asyncio.wait_for(asyncio.gather(*runs), WAIT)
        finally:
            await other.redis.aclose()
    assert sorted([a.stats["requests"], b.stats["requests"]])[0] == 0
    assert a.stats["requests"] + b.stats["requests"] >= 4


async def test_a_denied_subscription_is_recorded_and_polling_carries_on(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """hub.mode=denied marks the subscription denied with the hub's reason, asks again only
    after the longest backoff, and leaves the feed's polling as it was."""
    async with Hub() as hub:
        topic = srv.add("/denied.xml", with_hub(rss([{"title": "a"}]), hub=hub.url))
        hub.deny.add(topic)
        feed = _feed(topic)
        policy = PollPolicy()
        async with subscriber(store, [feed], Recorder(), policy=policy) as websub:
            await _discover(websub, feed, store, fetcher)
            await websub.run_due()
            await hub.wait_for(lambda: bool(hub.confirmed("denied", topic)))
            state = await store.feed_state(feed.id)
            assert state["websub_status"] == "denied"
            assert "does not serve that topic" in state["websub_error"]
            due = await store.redis.zscore(store.keys("websub", "due"), f"sub:{feed.id}")
            assert due is not None and due - time.time() > 0.9 * policy.backoff_max
            again = await poll_feed(feed, store=store, fetcher=fetcher)
            assert websub.poll_floor(again) is None and await websub.active_count() == 0
            assert await hub.publish(topic, rss([{"title": "x"}])) == []  # nobody subscribed


async def test_a_deleted_feed_is_unsubscribed(srv: FeedServer, store: Store,
                                              fetcher: Fetcher) -> None:
    """Once a feed leaves the list, the upkeep asks the hub to unsubscribe, confirms the hub's
    unsubscribe verification, and pushes for it are answered 410 Gone."""
    async with Hub() as hub:
        topic = srv.add("/deleted.xml", with_hub(rss([{"title": "a"}]), hub=hub.url))
        feed = _feed(topic)
        feeds = [feed]
        async with subscriber(store, feeds, Recorder()) as websub:
            await _subscribed(websub, hub, feed, topic, store=store, fetcher=fetcher)
            assert await websub.active_count() == 1
            feeds.clear()
            assert await websub.sync() == 1
            await websub.run_due()  # ends the subscription here...
            await websub.run_due()  # ...and asks the hub
            await hub.wait_for(lambda: bool(hub.confirmed("unsubscribe", topic)))
            assert hub.subscriptions == {} and await websub.active_count() == 0
            assert not await store.redis.exists(store.keys("websub", "sub", feed.id),
                                                store.keys("websub", "gone", feed.id))
            assert await store.redis.zcard(store.keys("websub", "due")) == 0
            async with aiohttp.ClientSession() as session, session.post(
                    websub.callback(feed.id), data=b"<rss/>") as response:
                assert response.status == 410


async def test_a_feed_that_moves_to_another_hub_is_moved_too(srv: FeedServer, store: Store,
                                                             fetcher: Fetcher) -> None:
    """When the document names a new hub, the old hub is unsubscribed and the new one
    subscribed with a new secret."""
    async with Hub() as old, Hub() as new:
        path = "/moving.xml"
        topic = srv.add(path, with_hub(rss([{"title": "a"}]), hub=old.url))
        feed = _feed(topic)
        async with subscriber(store, [feed], Recorder()) as websub:
            await _subscribed(websub, old, feed, topic, store=store, fetcher=fetcher)
            srv.add(path, with_hub(rss([{"title": "b"}]), hub=new.url))
            await _discover(websub, feed, store, fetcher)
            await websub.run_due()
            await websub.run_due()
            await new.wait_verified(topic)
            await old.wait_for(lambda: bool(old.confirmed("unsubscribe", topic)))
    [before], [after] = old.requests_of("subscribe"), new.requests_of("subscribe")
    assert before["hub.secret"] != after["hub.secret"]
    assert before["hub.callback"] == after["hub.callback"]
    assert old.subscriptions == {} and len(new.subscriptions) == 1


async def test_a_chat_feeds_hub_is_reached_only_through_the_ssrf_guard(
        store: Store, fetcher: Fetcher) -> None:
    """A feed added from chat (on 127.0.0.2, standing for a public host) that names a hub on
    127.0.0.1 never gets its hub contacted; the same hub named by a feeds-file feed does."""
    allow = [ipaddress.ip_network("127.0.0.2/32")]
    with FeedServer(host="127.0.0.2") as outside:
        async with Hub() as hub, Fetcher(timeout=5, allow_networks=allow) as guarded:
            chat = _feed(outside.add("/chat.xml", with_hub(rss([{"title": "a"}]),
                                                           hub=hub.url)))
            filed = _feed(outside.add("/file.xml", with_hub(rss([{"title": "a"}]),
                                                            hub=hub.url)))
            policy = PollPolicy()
            async with subscriber(store, [filed], Recorder(), untrusted=[chat],
                                  allow_networks=allow, policy=policy) as websub:
                await _discover(websub, chat, store, guarded, guard=True)
                await _discover(websub, filed, store, guarded)
                await websub.run_due()
                await hub.wait_verified(filed.url or "")
                state = await store.feed_state(chat.id)
                due = await store.redis.zscore(store.keys("websub", "due"), f"sub:{chat.id}")
    assert [r["hub.topic"] for r in hub.requests] == [filed.url]
    assert state["websub_status"] == "error"
    assert "127.0.0.1 is an internal address" in state["websub_error"]
    assert due is not None and due - time.time() > 0.9 * policy.backoff_max  # not soon again


async def test_a_new_public_url_moves_the_subscription_to_the_new_callback(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """A maintainer started with another NEWSBOT_PUBLIC_URL unsubscribes the old callback and
    subscribes the new one, without waiting for the renewal."""
    async with Hub() as hub:
        topic = srv.add("/readdressed.xml", with_hub(rss([{"title": "a"}]), hub=hub.url))
        feed = _feed(topic)
        async with subscriber(store, [feed], Recorder()) as before, \
                subscriber(store, [feed], Recorder()) as after:
            await _subscribed(before, hub, feed, topic, store=store, fetcher=fetcher)
            assert await after.sync() == 0
            assert await after.sync(check_callbacks=True) == 1
            await after.run_due()
            await after.run_due()
            await hub.wait_for(lambda: bool(hub.confirmed("unsubscribe", topic)))
            await hub.wait_verified(topic, count=2)
    assert list(hub.subscriptions) == [(topic, after.callback(feed.id))]
    assert [v.callback for v in hub.confirmed("unsubscribe", topic)] == [
        before.callback(feed.id)]
