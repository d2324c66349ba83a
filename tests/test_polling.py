"""The polling engine over real HTTP (loopback feed servers) and a real Redis/Valkey schedule.

No timed assertions: schedules are read back from Redis (due time minus the server's clock)
and compared with the policy's bounds; waits are only upper bounds on a test that hangs.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import ipaddress
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.errors import FeedError
from bot.feeds.engine import PollEngine, PollPolicy
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import PollResult
from bot.feeds.sources import feed_id
from bot.models import FeedSpec
from bot.store import Store
from tests.conftest import REPO
from tests.feedserver import FeedServer, rss
from tests.waiting import until as _wait

WAIT = 60.0  # upper bound for anything awaited; reaching it is a failure, not a measurement
_until = functools.partial(_wait, deadline=WAIT)


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A fetcher with 3 s timeouts (a slow route waits 10 s) and the default 10 MB cap."""
    async with Fetcher(timeout=3, connect_timeout=3) as f:
        yield f


class Recorder:
    """What the engine handed on: each good poll, and each feed it switched off."""

    def __init__(self) -> None:
        self.results: list[PollResult] = []
        self.off: list[tuple[FeedSpec, FeedError]] = []

    async def handle(self, result: PollResult) -> None:
        self.results.append(result)

    async def deactivated(self, feed: FeedSpec, error: FeedError) -> None:
        self.off.append((feed, error))

    def articles(self, fid: str) -> list[str]:
        return [a.title for r in self.results if r.feed.id == fid for a in r.articles]


def _feed(url: str, **fields: object) -> FeedSpec:
    return FeedSpec(id=feed_id(url), url=url, **fields)  # type: ignore[arg-type]


def _engine(store: Store, fetcher: Fetcher, feeds: Sequence[FeedSpec], recorder: Recorder, *,
            untrusted: Sequence[FeedSpec] = (), **options: object) -> PollEngine:
    async def source() -> Sequence[FeedSpec]:
        return [*feeds, *untrusted]

    chat = {f.id for f in untrusted}
    return PollEngine(store, fetcher, source=source, handle=recorder.handle,
                      untrusted=lambda f: f.id in chat, on_deactivated=recorder.deactivated,
                      **options)  # type: ignore[arg-type]


async def _cycle(engine: PollEngine, *feeds: FeedSpec) -> int:
    """Make `feeds` due and poll everything due once."""
    await engine.sync()
    await engine.due_now(*(f.id for f in feeds))
    return await engine.run_once()


async def _delay(engine: PollEngine, feed: FeedSpec) -> float:
    """Seconds from now (the Redis clock) until `feed` is next due."""
    due = await engine.next_due(feed.id)
    assert due is not None, f"{feed.id} is not scheduled"
    return due - await engine.server_time()


def _items(count: int, gap: timedelta, *, title: str = "item") -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [{"title": f"{title} {i}", "link": f"https://example.org/{title}/{i}",
             "guid": f"{title}-{i}", "pubDate": now - gap * (i + 1)} for i in range(count)]


async def test_conditional_get_answers_304_without_new_articles(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """The second poll sends the stored ETag, gets 304 and hands on no articles."""
    url = srv.add("/cond.xml", rss([{"title": "first"}]), etag='"v1"')
    feed, rec = _feed(url), Recorder()
    engine = _engine(store, fetcher, [feed], rec)
    assert await _cycle(engine, feed) == 1
    assert await _cycle(engine, feed) == 1
    assert srv.requests("/cond.xml")[1]["if-none-match"] == '"v1"'
    assert rec.articles(feed.id) == ["first"]  # the 304 (not handed on) adds nothing
    assert engine.stats["ok"] == 1 and engine.stats["not_modified"] == 1
    assert (await store.feed_state(feed.id))["etag"] == '"v1"'


async def test_retry_after_on_429_is_honoured(srv: FeedServer, store: Store,
                                              fetcher: Fetcher) -> None:
    """A 429 with Retry-After: 7200 puts the next poll two hours out; polls meanwhile skip it."""
    url = srv.add("/429.xml", b"slow down", status=429, headers={"Retry-After": "7200"})
    feed, rec = _feed(url), Recorder()
    engine = _engine(store, fetcher, [feed], rec)
    await _cycle(engine, feed)
    assert 7100 <= await _delay(engine, feed) <= 7200
    assert await engine.run_once() == 0 and srv.count("/429.xml") == 1
    state = await store.feed_state(feed.id)
    assert state["status"] == "error" and state["last_error"].startswith("rate_limited")


async def test_503_without_retry_after_backs_off(srv: FeedServer, store: Store,
                                                 fetcher: Fetcher) -> None:
    """A 503 with no Retry-After is retried after the first backoff step (30-60 s)."""
    url = srv.add("/503.xml", b"busy", status=503)
    feed, rec = _feed(url), Recorder()
    engine = _engine(store, fetcher, [feed], rec)
    await _cycle(engine, feed)
    assert 29 <= await _delay(engine, feed) <= 60


async def test_cache_control_max_age_is_honoured_up_to_the_max(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """max-age=1800 waits 30 minutes; max-age of a week is held to the max interval."""
    short = _feed(srv.add("/cc-short.xml", rss([{"title": "a"}]),
                          headers={"Cache-Control": "public, max-age=1800"}))
    long = _feed(srv.add("/cc-long.xml", rss([{"title": "b"}]),
                         headers={"Cache-Control": "max-age=604800"}))
    engine = _engine(store, fetcher, [short, long], Recorder(),
                     policy=PollPolicy(min_interval=60, max_interval=7200))
    await _cycle(engine, short, long)
    assert 1790 <= await _delay(engine, short) <= 1800
    assert 7190 <= await _delay(engine, long) <= 7200


async def test_rss_ttl_is_honoured_after_200_and_304(srv: FeedServer, store: Store,
                                                     fetcher: Fetcher) -> None:
    """<ttl>90</ttl> means 90 minutes, on the fresh document and on later 304 answers."""
    body = rss([{"title": "a"}]).replace(b"<language>", b"<ttl>90</ttl><language>")
    feed = _feed(srv.add("/ttl.xml", body, etag='"t1"'))
    engine = _engine(store, fetcher, [feed], Recorder(),
                     policy=PollPolicy(min_interval=60, max_interval=7200))
    await _cycle(engine, feed)
    assert 5390 <= await _delay(engine, feed) <= 5400
    await _cycle(engine, feed)
    assert engine.stats["not_modified"] == 1
    assert 5390 <= await _delay(engine, feed) <= 5400


async def test_interval_adapts_to_each_feeds_publishing_rate(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """A busy feed is polled often, a slow one at its own (longest) interval, undated too."""
    busy = _feed(srv.add("/busy.xml", rss(_items(20, timedelta(minutes=10), title="busy"))),
                 interval=3600.0)
    slow = _feed(srv.add("/slow.xml", rss(_items(20, timedelta(days=1), title="slow"))),
                 interval=3600.0)
    undated = _feed(srv.add("/undated.xml", rss([{"title": "u1"}, {"title": "u2"}])),
                    interval=600.0)
    engine = _engine(store, fetcher, [busy, slow, undated], Recorder(), policy=PollPolicy(
        min_interval=60, max_interval=3600, jitter=0.0))
    await _cycle(engine, busy, slow, undated)
    busy_state = await store.feed_state(busy.id)
    oldest = datetime.now(UTC) - timedelta(minutes=10) * 20
    expected_busy = (datetime.now(UTC) - oldest).total_seconds() / 20 * 0.5  # half the mean gap
    assert float(busy_state["interval"]) == pytest.approx(expected_busy, rel=0.02)
    assert busy_state["rate_items"] == "20"
    assert await _delay(engine, busy) == pytest.approx(expected_busy, rel=0.02)
    assert float((await store.feed_state(slow.id))["interval"]) == 3600.0
    assert float((await store.feed_state(undated.id))["interval"]) == 600.0


async def test_backoff_doubles_with_each_failure(srv: FeedServer, store: Store,
                                                 fetcher: Fetcher) -> None:
    """Failure k is retried after [c/2, c] with c = 60 s * 2^(k-1); the count is kept."""
    feed = _feed(srv.add("/down.xml", b"oops", status=500))
    engine = _engine(store, fetcher, [feed], Recorder())
    for k in range(1, 6):
        await _cycle(engine, feed)
        ceiling = 60.0 * 2 ** (k - 1)
        assert ceiling / 2 - 1 <= await _delay(engine, feed) <= ceiling
        assert (await store.feed_state(feed.id))["errors"] == str(k)


async def test_success_resets_the_failure_count(srv: FeedServer, store: Store,
                                                fetcher: Fetcher) -> None:
    """After two failures one good poll sets the count back to zero and the normal interval."""
    path = "/flaky.xml"
    feed = _feed(srv.add(path, b"oops", status=500))
    engine = _engine(store, fetcher, [feed], Recorder())
    await _cycle(engine, feed)
    await _cycle(engine, feed)
    srv.add(path, rss([{"title": "back"}]))
    await _cycle(engine, feed)
    state = await store.feed_state(feed.id)
    assert state["errors"] == "0" and state["status"] == "ok"
    assert 270 <= await _delay(engine, feed) <= 300  # the feed's own 300 s, less up to 10 %


async def test_feed_is_deactivated_after_n_failures_and_admins_told(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """After 3 failures (max_failures=3) the hook is called once and the feed is not polled."""
    bad = _feed(srv.add("/dead.xml", b"gone", status=500))
    good = _feed(srv.add("/alive.xml", rss([{"title": "fine"}])))
    rec = Recorder()
    engine = _engine(store, fetcher, [bad, good], rec, policy=PollPolicy(max_failures=3))
    for _ in range(3):
        await _cycle(engine, bad, good)
    assert [(f.id, e.kind) for f, e in rec.off] == [(bad.id, "http")]
    assert await engine.deactivated() == {bad.id} and await engine.next_due(bad.id) is None
    state = await store.feed_state(bad.id)
    assert state["status"] == "error" and state["last_error"].startswith(
        "deactivated after 3 failures in a row")
    await _cycle(engine, bad, good)  # a sync does not bring it back
    assert srv.count("/dead.xml") == 3 and srv.count("/alive.xml") == 4
    await engine.reactivate(bad.id)
    await engine.run_once()
    assert srv.count("/dead.xml") == 4 and (await store.feed_state(bad.id))["errors"] == "1"


async def test_deleted_feed_leaves_the_schedule(srv: FeedServer, store: Store,
                                                fetcher: Fetcher) -> None:
    """A feed the source no longer lists is dropped by sync and never polled again."""
    keep = _feed(srv.add("/keep.xml", rss([{"title": "k"}])))
    drop = _feed(srv.add("/drop.xml", rss([{"title": "d"}])))
    feeds = [keep, drop]

    async def source() -> list[FeedSpec]:
        return list(feeds)

    rec = Recorder()
    engine = PollEngine(store, fetcher, source=source, handle=rec.handle)
    await _cycle(engine, keep, drop)
    feeds.remove(drop)
    await _cycle(engine, keep, drop)
    assert await engine.next_due(drop.id) is None
    assert srv.count("/drop.xml") == 1 and srv.count("/keep.xml") == 2


async def _second_store(redis_url: str, prefix: str) -> Store:
    return Store(aioredis.Redis.from_url(redis_url, decode_responses=True), prefix=prefix)


async def test_two_workers_share_one_cycle_without_overlap(
        srv: FeedServer, store: Store, fetcher: Fetcher, redis_url: str,
        key_prefix: str) -> None:
    """Two engines on one Redis poll 120 due feeds: each feed once, both do part of the work."""
    feeds = [_feed(srv.add(f"/share/{i}.xml", rss([{"title": f"s{i}"}]), delay=0.02))
             for i in range(120)]
    other = await _second_store(redis_url, key_prefix)
    try:
        async with Fetcher(timeout=5) as fetcher_b:
            a = _engine(store, fetcher, feeds, Recorder(), concurrency=8, per_host=8)
            b = _engine(other, fetcher_b, feeds, Recorder(), concurrency=8, per_host=8)
            await a.sync()
            polled_a, polled_b = await asyncio.gather(a.run_once(), b.run_once())
    finally:
        await other.redis.aclose()
    paths = [f"/share/{i}.xml" for i in range(120)]
    assert polled_a + polled_b == 120 and polled_a > 0 and polled_b > 0
    assert all(srv.count(p) == 1 for p in paths)


async def test_two_running_workers_never_poll_one_feed_at_once(
        srv: FeedServer, store: Store, fetcher: Fetcher, redis_url: str,
        key_prefix: str) -> None:
    """Two engines polling slow feeds again and again never have one feed in flight twice."""
    paths = [f"/busy-shared/{i}.xml" for i in range(6)]
    feeds = [_feed(srv.add(p, rss([{"title": p}]), delay=0.05), interval=0.01) for p in paths]
    policy = PollPolicy(min_interval=0.01, max_interval=0.02, backoff_base=0.01)
    other = await _second_store(redis_url, key_prefix)
    stop = asyncio.Event()
    try:
        async with Fetcher(timeout=5) as fetcher_b:
            a = _engine(store, fetcher, feeds, Recorder(), policy=policy)
            b = _engine(other, fetcher_b, feeds, Recorder(), policy=policy)
            await a.sync()
            runs = [asyncio.create_task(e.run(stop)) for e in (a, b)]

            await _until(lambda: sum(srv.count(p) for p in paths) >= 120
                         and min(a.stats["polled"], b.stats["polled"]) >= 10,
                         "120 polls, at least 10 by each engine")
            stop.set()
            await asyncio.wait_for(asyncio.gather(*runs), WAIT)
    finally:
        stop.set()
        await other.redis.aclose()
    assert all(srv.max_in_flight(p) == 1 for p in paths)
    assert a.stats["polled"] >= 10 and b.stats["polled"] >= 10


_DYING_WORKER = """
import asyncio, sys
import redis.asyncio as aioredis
from bot.feeds.engine import PollEngine
from bot.feeds.fetch import Fetcher
from bot.models import FeedSpec
from bot.store import Store

async def main(url, prefix, feed_id, feed_url):
    store = Store(aioredis.Redis.from_url(url, decode_responses=True), prefix=prefix)
    feed = FeedSpec(id=feed_id, url=feed_url)
    async def source():
        return [feed]
    async def handle(result):
        return None
    async with Fetcher(timeout=600, total_timeout=600) as fetcher:
        engine = PollEngine(store, fetcher, source=source, handle=handle, lease_seconds=3)
        await engine.sync()
        await engine.run_once()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_dead_workers_feed_comes_back_when_its_lease_expires(
        srv: FeedServer, store: Store, fetcher: Fetcher, redis_url: str,
        key_prefix: str) -> None:
    """A worker killed mid-poll (SIGKILL) holds the feed only until its 3 s lease expires."""
    path = "/orphan.xml"
    feed = _feed(srv.add(path, rss([{"title": "stuck"}]), delay=30.0))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _DYING_WORKER, redis_url, key_prefix, feed.id, feed.url or "",
        env=env)
    try:
        await _until(lambda: srv.count(path) >= 1, "the first request")
        lease_key = store.keys("poll", "lease", feed.id)
        assert await store.redis.pttl(lease_key) > 0  # held by the worker...
        worker.send_signal(signal.SIGKILL)  # ...which dies without letting go
        await asyncio.wait_for(worker.wait(), WAIT)
    finally:
        if worker.returncode is None:
            worker.kill()
    srv.add(path, rss([{"title": "rescued"}]))
    rec, stop = Recorder(), asyncio.Event()
    engine = _engine(store, fetcher, [feed], rec)
    run = asyncio.create_task(engine.run(stop))
    try:
        await _until(lambda: bool(rec.results), "a poll result")
    finally:
        stop.set()
        await asyncio.wait_for(run, WAIT)
    assert rec.articles(feed.id) == ["rescued"] and srv.count(path) == 2
    assert await store.redis.exists(store.keys("poll", "lease", feed.id)) == 0


def _bomb() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10))
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [{entities}]>\n<rss version="2.0">'
            "<channel><title>bomb</title><item><title>&lol9;</title></item></channel></rss>"
            ).encode()


async def test_feed_server_faults_mark_each_feed_and_spare_the_others(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """Timeouts, 500s, garbage, 50 MB bodies, bombs, wrong encodings each mark only their feed."""
    chinese = rss([{"title": "朝鲜派兵", "description": "韩国召见俄罗斯大使"}], language="zh-cn")
    local_dates = rss([
        {"title": "本地时间", "pubDate": "2025年03月01日 08:30"},
        {"title": "CST", "pubDate": "Sat, 01 Mar 2025 08:30:00 CST"}], language="zh-cn")
    routes = {
        "ok": srv.add("/f/ok.xml", rss([{"title": "healthy"}])),
        "timeout": srv.add("/f/slow.xml", rss([]), delay=10.0),
        "status": srv.add("/f/500.xml", b"boom", status=500),
        "garbage": srv.add("/f/garbage.xml", os.urandom(2048)),
        "huge": srv.add("/f/huge.xml", b"<rss>" + b"x" * (1 << 20), repeat=50,
                        content_length=False),
        "gzip_bomb": srv.add("/f/gzbomb.xml", gzip.compress(b"\0" * (50 << 20)),
                             headers={"Content-Encoding": "gzip"}),
        "entity_bomb": srv.add("/f/lol.xml", _bomb()),
        "encoding": srv.add("/f/gbk.xml", chinese.decode().encode("gbk"),
                            headers={"Content-Type": "application/rss+xml; charset=utf-8"}),
        "dates": srv.add("/f/dates.xml", local_dates),
    }
    feeds = {name: _feed(url) for name, url in routes.items()}
    rec = Recorder()
    engine = _engine(store, fetcher, list(feeds.values()), rec)
    assert await _cycle(engine) == len(feeds)
    states = {name: await store.feed_state(f.id) for name, f in feeds.items()}
    expected_kind = {"timeout": "timeout", "status": "http", "garbage": "parse",
                     "huge": "too_large", "gzip_bomb": "too_large", "entity_bomb": "parse"}
    for name, kind in expected_kind.items():
        assert states[name]["status"] == "error", name
        assert states[name]["last_error"].startswith(f"{kind}: "), (name, states[name])
    assert "entity" in states["entity_bomb"]["last_error"]
    for name in ("ok", "encoding", "dates"):
        assert states[name]["status"] == "ok" and states[name]["errors"] == "0", name
    assert rec.articles(feeds["ok"].id) == ["healthy"]
    assert rec.articles(feeds["encoding"].id) == ["朝鲜派兵"]
    assert "gb18030" in states["encoding"]["warning"]
    [dated] = [r for r in rec.results if r.feed.id == feeds["dates"].id]
    assert [a.published for a in dated.articles] == [
        datetime(2025, 3, 1, 0, 30, tzinfo=UTC)] * 2
    assert None not in [await engine.next_due(f.id) for f in feeds.values()]


async def test_chat_feed_on_loopback_is_refused_and_switched_off(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """A chat-added feed whose host is or resolves to loopback is never fetched, and goes off."""
    literal = _feed(srv.add("/ssrf.xml", rss([{"title": "secret"}])))
    port = srv.base_url.rsplit(":", 1)[1]
    named = _feed(f"http://localhost:{port}/ssrf.xml")
    rec = Recorder()
    engine = _engine(store, fetcher, [], rec, untrusted=[literal, named])
    await _cycle(engine)
    assert srv.count("/ssrf.xml") == 0 and rec.results == []
    assert sorted((f.id, e.kind) for f, e in rec.off) == sorted(
        [(literal.id, "blocked"), (named.id, "blocked")])
    state = await store.feed_state(named.id)
    assert "localhost resolves to the internal address 127.0.0.1" in state["last_error"]


async def test_chat_feed_redirecting_to_loopback_is_refused(store: Store) -> None:
    """A chat feed on an allowed host that redirects to 127.0.0.1 is refused at the redirect.

    127.0.0.2 stands for a public host (listed in the fetcher's allow_networks), so the first
    hop connects; its redirect to 127.0.0.1 must not. The same redirect in a feeds-file feed
    is followed.
    """
    with FeedServer() as inside, FeedServer(host="127.0.0.2") as outside:
        target = inside.add("/internal.xml", rss([{"title": "internal"}]))
        chat = _feed(outside.add("/chat.xml", status=302, headers={"Location": target}))
        filed = _feed(outside.add("/file.xml", status=302, headers={"Location": target}))
        rec = Recorder()
        allow = [ipaddress.ip_network("127.0.0.2/32")]
        async with Fetcher(timeout=2, allow_networks=allow) as guarded:
            engine = _engine(store, guarded, [filed], rec, untrusted=[chat])
            await _cycle(engine)
        assert outside.count("/chat.xml") == 1 and inside.count("/internal.xml") == 1
        assert rec.articles(filed.id) == ["internal"] and rec.articles(chat.id) == []
        assert [(f.id, e.kind) for f, e in rec.off] == [(chat.id, "blocked")]


async def test_app_tells_admins_when_a_chat_feed_is_switched_off(
        tmp_path: Path, redis_url: str, store: Store, srv: FeedServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The wired app's hook logs the deactivation, prints a notice on the console and sends
    each Telegram admin a direct message (in the language the admin chose) through the real
    python-telegram-bot; an admin the bot cannot reach is logged, the others still told;
    `newsbot feeds reactivate` puts the feed back on the schedule."""
    from bot.app import App
    from bot.cli import main as cli_main
    from bot.commands import AddedFeeds
    from bot.config import Settings
    from tests.telegram_server import BotApiServer

    (tmp_path / "empty").mkdir()
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - path: {tmp_path / 'empty'}\n")
    url = srv.add("/app-ssrf.xml", rss([{"title": "x"}]))
    async with BotApiServer() as api:
        settings = Settings.model_validate({
            "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": store.keys.prefix,
            "NEWSBOT_FEEDS": feeds_file, "NEWSBOT_RULES_DIR": REPO / "rules",
            "NEWSBOT_DATA_DIR": tmp_path / "data",
            "NEWSBOT_ADMINS": "telegram:41,telegram:42,telegram:43",
            "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root})
        api.fail_next("sendMessage", 1, code=403, description="Forbidden: bot was blocked by "
                      "the user")
        async with App(settings) as app:
            await app.chats.set_language("telegram:43", "zh")
            spec = _feed(url)
            await AddedFeeds(app.store).add(spec, by="telegram:42", at=datetime.now(UTC))
            assert app.from_chat(spec) and not app.from_chat(app.feeds[0])
            await app.engine.sync()
            assert await app.engine.run_once() == 2
            assert await app.engine.deactivated() == {spec.id}
            await app.feed_deactivated(_feed("https://example.com/gone.xml"),
                                       FeedError("gone", "HTTP 503", kind="http"))
        # 41 had blocked the bot for the first notice (logged; the others were still told)
        assert [m["text"] for m in api.messages(41)] == [m["text"] for m in api.messages(42)][1:]
        english, failures = [m["text"] for m in api.messages(42)]
        assert failures.startswith("Feed ") and (
            "was switched off: 15 failed polls in a row. Last error: feed gone: HTTP 503"
            in failures)
        assert english.startswith(f"Feed {spec.id} ({url}) was switched off: its host is an "
                                  "internal address. Last error: ")
        assert english.endswith(f"run `newsbot feeds reactivate {spec.id}` (or /feeds del and "
                                "/feeds add for a feed added from chat).")
        chinese, _ = [m["text"] for m in api.messages(43)]
        assert chinese.startswith(f"新闻源 {spec.id}（{url}）已停用：其主机是内部地址。")
    out = capsys.readouterr().out
    assert f"[FEED OFF] feed {spec.id}" in out and "telegram:42" in out
    assert srv.count("/app-ssrf.xml") == 0
    env = {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": store.keys.prefix,
           "NEWSBOT_FEEDS": str(feeds_file), "NEWSBOT_DATA_DIR": str(tmp_path / "data")}
    with pytest.MonkeyPatch.context() as env_patch:
        for name, value in env.items():
            env_patch.setenv(name, value)
        assert await asyncio.to_thread(cli_main, ["feeds", "reactivate", spec.id]) == 0
        assert await asyncio.to_thread(cli_main, ["feeds", "reactivate", spec.id]) == 1
    assert spec.id not in await store.redis.smembers(store.keys("poll", "off"))
    assert await store.redis.zscore(store.keys("poll", "due"), spec.id) == 0
    assert (await store.feed_state(spec.id))["errors"] == "0"
    assert "back on the schedule" in capsys.readouterr().out


async def test_unchanged_body_without_validators_is_not_parsed_again(
        srv: FeedServer, store: Store, fetcher: Fetcher) -> None:
    """A server that ignores conditional GET sends the same body: the second poll skips it."""
    feed = _feed(srv.add("/no-etag.xml", rss([{"title": "same"}])))
    rec = Recorder()
    engine = _engine(store, fetcher, [feed], rec)
    await _cycle(engine, feed)
    await _cycle(engine, feed)
    assert srv.count("/no-etag.xml") == 2 and "if-none-match" not in srv.requests(
        "/no-etag.xml")[1]
    assert engine.stats["ok"] == 1 and engine.stats["not_modified"] == 1
    assert rec.articles(feed.id) == ["same"] and (await store.feed_state(feed.id))["body_hash"]
