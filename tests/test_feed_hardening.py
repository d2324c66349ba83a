"""Hostile feeds over loopback (issue 13, the feed half): credentials never shown, impossible
dates, malformed host names, bad bytes, no Content-Type, the per-document item cap, and a
property test that keeps them found. Through the real entry points: the command line, the
wired app, the polling engine and the chat command interpreter."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandRequest
from bot.config import Settings
from bot.dedup.index import StoryIndex
from bot.errors import FeedError
from bot.feeds.dates import MIN_DATE
from bot.feeds.engine import PollEngine, PollPolicy
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import PollResult, poll_feed
from bot.feeds.sources import feed_id
from bot.metrics import Metrics
from bot.models import FeedSpec, Topic
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.routing import RuleBook
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.feedserver import FeedServer, _Handler, rss
from tests.test_cli import _alerts, _env, _newsbot

SECRETS = ("s3cretPW", "feedpass123", "tok123", "sig456", "reader:", "user:")
BAD_HOSTS = ["http://xn--ls8h.la/", "http://rss..example.com/feed",
             f"http://{'a' * 64}.example.com/feed", "http://-news-.example.com/feed",
             "http://xn--a.com/feed", "http://💩.la/feed"]


class _BareHandler(_Handler):
    """The feed server's handler, except that a route's empty Content-Type is not sent."""

    def send_header(self, keyword: str, value: str) -> None:
        """Send the header, unless it is the Content-Type left empty on purpose."""
        if keyword.lower() != "content-type" or value:
            super().send_header(keyword, value)


class BareFeedServer(FeedServer):
    """A FeedServer whose routes added with `headers={"Content-Type": ""}` have none."""

    def __enter__(self) -> BareFeedServer:
        super().__enter__()
        assert self._server is not None
        self._server.RequestHandlerClass = _BareHandler
        return self


@pytest.fixture(scope="module")
def bare() -> Iterator[BareFeedServer]:
    """One loopback feed server for the module that can leave out the Content-Type."""
    with BareFeedServer() as server:
        yield server


@pytest.fixture
def rules_dir() -> Path:
    """The shipped rule files (topics, entities)."""
    return REPO / "rules"


def _with_userinfo(url: str, userinfo: str, query: str) -> str:
    """`http://127.0.0.1:P/x` -> `http://<userinfo>@127.0.0.1:P/x?<query>`."""
    return url.replace("://", f"://{userinfo}@", 1) + f"?{query}"


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (secret, text)


def _settings(tmp_path: Path, redis_url: str, store: Store, rules_dir: Path,
              feeds: Sequence[str], **extra: str) -> Settings:
    """Settings for the wired app over `feeds` (lines of the feeds file)."""
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - {line}\n" for line in feeds))
    return Settings.model_validate({
        "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": store.keys.prefix,
        "NEWSBOT_FEEDS": feeds_file, "NEWSBOT_RULES_DIR": rules_dir,
        "NEWSBOT_DATA_DIR": tmp_path / "data", **extra})


def _cli_env(tmp_path: Path, redis_url: str, store: Store, rules_dir: Path,
             feeds: Sequence[str], **extra: str) -> dict[str, str]:
    """The environment of `python -m bot` over `feeds` (lines of the feeds file)."""
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - {line}\n" for line in feeds))
    return _env(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=store.keys.prefix,
                NEWSBOT_FEEDS=str(feeds_file), NEWSBOT_RULES_DIR=str(rules_dir),
                NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FETCH_TIMEOUT="5", **extra)


async def _cli(*args: str, env: dict[str, str]) -> Any:
    """`python -m bot ...` in a thread, so the test's event loop (and store) stay alive."""
    return await asyncio.to_thread(_newsbot, *args, env=env)


def _ask(text: str, user: str) -> CommandRequest:
    return CommandRequest(chat=user, user=user, text=text, can_manage=True)


# --- 1. secrets --------------------------------------------------------------------------------


async def test_status_logs_and_metrics_never_show_feed_credentials(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """After the service polled a feed with a password and a token and a failing one with a
    password, /status shows a member feed names and health only, an admin redacted URLs,
    errors and encoding warnings; the stored errors, log records and metrics carry no secret."""
    with FeedServer() as server:
        good = _with_userinfo(server.add("/good.xml", "<?xml version='1.0' encoding='utf-8'?>"
                                         "<rss version='2.0'><channel><title>t</title><item>"
                                         "<title>朝鲜派兵 \udcff X</title></item></channel>"
                                         "</rss>".encode("utf-8", "surrogateescape")),
                              "reader:s3cretPW", "page=2&token=tok123")
        bad = _with_userinfo(server.url("/missing.xml"), "user:feedpass123", "sig=sig456")
        settings = _settings(tmp_path, redis_url, store, rules_dir,
                             [f"url: {good}", f"url: {bad}"], NEWSBOT_ADMINS="telegram:1")
        caplog.set_level(logging.INFO)
        async with App(settings) as app:
            await app.engine.sync()
            assert await app.engine.run_once() == 2
            member = await app.commands.handle(_ask("/status", "telegram:5"))
            admin = await app.commands.handle(_ask("/status", "telegram:1"))
            listed = await app.commands.handle(_ask("/feeds", "telegram:1"))
            exposition = (await app.monitor.exposition()).decode()
            states = [await app.store.feed_state(feed_id(url)) for url in (good, bad)]
    for text in (member.text, admin.text, listed.text, exposition, json.dumps(states)):
        _no_secret(text)
    for record in caplog.records:  # ours; the formatters mask the libraries' (test_logs.py)
        if record.name.startswith("bot"):
            _no_secret(f"{record.getMessage()} {getattr(record, 'kv', '')}")
    assert "://" not in member.text and "127.0.0.1 — 1 error in a row: http" in member.text
    assert "warning" not in member.text
    assert "http://***@127.0.0.1:" in admin.text
    assert "/good.xml?page=2&token=***" in admin.text
    assert "http: feed " in admin.text and "HTTP 404 Not Found from http://***@" in admin.text
    assert "/missing.xml?sig=***" in admin.text
    assert "warning: 1 byte(s) not valid UTF-8 replaced by U+FFFD" in admin.text
    assert states[1]["last_error"].startswith("http: feed ")


async def test_feeds_list_redacts_and_export_keeps_the_full_urls(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """`run --once` logs no secret; `feeds list` (text and JSON) shows URLs and errors
    redacted; `feeds export`, the operator's backup, keeps the full URLs and says so."""
    with FeedServer() as server:
        good = _with_userinfo(server.add("/good.xml", rss([{"title": "t"}])),
                              "reader:s3cretPW", "token=tok123")
        bad = _with_userinfo(server.url("/missing.xml"), "user:feedpass123", "sig=sig456")
        env = _cli_env(tmp_path, redis_url, store, rules_dir, [f"url: {good}", f"url: {bad}"])
        run = await _cli("run", "--once", "-v", env=env)  # (-v: each feed's warning)
    assert run.returncode == 0, run.stderr
    listing = await _cli("feeds", "list", env=env)
    as_json = await _cli("feeds", "list", "--json", env=env)
    export = await _cli("feeds", "export", env=env)
    helped = await _cli("feeds", "export", "--help", env=env)
    for text in (run.stdout, run.stderr, listing.stdout, as_json.stdout):
        _no_secret(text)
    assert "feeds: poll failed" in run.stderr and "http://***@127.0.0.1" in run.stderr
    assert "/good.xml?token=***" in listing.stdout and "HTTP 404 Not Found from" in listing.stdout
    rows = {row["location"].split("?")[0].rsplit("/", 1)[1]: row
            for row in json.loads(as_json.stdout)}
    assert rows["good.xml"]["health"] == "ok" and rows["missing.xml"]["health"] == "error"
    assert "sig=***" in rows["missing.xml"]["last_error"]
    assert good.replace("&", "&amp;") in export.stdout and bad in export.stdout
    assert "written in full" in helped.stdout and "password or token" in helped.stdout


# --- 3. impossible dates -----------------------------------------------------------------------

IMPOSSIBLE = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "9999-12-31T23:59:59-14:00",
              "Sun, 31 Dec 0000", "Mon, 21 Oct 2024 11:00:00 +9999", "-0001-01-01T00:00:00Z",
              "Sat, 01 Jan 0001 00:00:00 +1400"]
IMPOSSIBLE_ZH = ["0001-01-01 00:00", "Mon, 01 Jan 0001 00:00:00 CST", "9999-12-31 23:59"]


async def test_impossible_dates_leave_items_undated_and_run_once_alerts(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """Feeds of impossible dates beside the seeds: `run --once` exits 0 with the seeds' two
    alerts, every item goes through undated (dated by its text or when seen), and both
    feeds are healthy."""
    def items(dates: list[str], tag: str) -> list[dict[str, object]]:
        return [{"title": f"{tag} report {n} on fisheries", "pubDate": when,
                 "link": f"https://example.org/{tag}/{n}", "description": "Fish prices."}
                for n, when in enumerate(dates)]

    with FeedServer() as server:
        en = server.add("/en.xml", rss(items(IMPOSSIBLE, "en")))
        zh = server.add("/zh.xml", rss(items(IMPOSSIBLE_ZH, "zh"), language="zh-cn"))
        env = _cli_env(tmp_path, redis_url, store, rules_dir,
                       [f"path: {SEEDS}", f"url: {en}", f"url: {zh}\n    language: zh"])
        run = await _cli("run", "--once", env=env)
    assert run.returncode == 0, run.stderr
    assert len(_alerts(run.stdout)) == 2, run.stdout
    assert "Traceback" not in run.stderr
    listed = await _cli("stories", "--json", "--since", "1d", env=env)
    articles = {a["title"]: a for s in json.loads(listed.stdout) for a in s["articles"]}
    for tag, dates in (("en", IMPOSSIBLE), ("zh", IMPOSSIBLE_ZH)):
        for n in range(len(dates)):
            article = articles[f"{tag} report {n} on fisheries"]
            assert article["time_source"] in ("seen", "text"), article
    for url in (en, zh):
        state = await store.feed_state(feed_id(url))
        assert state["status"] == "ok" and state["last_items"] == str(
            len(IMPOSSIBLE if url == en else IMPOSSIBLE_ZH))


class _Exploding:
    """A handler that fails on one feed's articles (as a pipeline bug would), and records."""

    def __init__(self, failing: str) -> None:
        self.failing = failing
        self.handled: list[str] = []
        self.off: list[tuple[FeedSpec, FeedError]] = []

    async def handle(self, result: PollResult) -> None:
        if result.feed.id == self.failing:
            raise OverflowError("date value out of range")
        self.handled.append(result.feed.id)

    async def deactivated(self, feed: FeedSpec, error: FeedError) -> None:
        self.off.append((feed, error))


async def test_an_exception_handling_one_feed_is_that_feeds_failure(
        srv: FeedServer, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A feed whose articles make the handler raise is marked failing at each poll, backed
    off, switched off after the maximum failures with the admins' hook called, its traceback
    logged once; the other feed is polled and handled every time."""
    failing = FeedSpec(id="boom", url=srv.add("/boom.xml", rss([{"title": "x"}])))
    fine = FeedSpec(id="fine", url=srv.add("/fine.xml", rss([{"title": "y"}])))
    recorder = _Exploding(failing.id)

    async def source() -> list[FeedSpec]:
        return [failing, fine]

    caplog.set_level(logging.INFO)
    async with Fetcher(timeout=3) as fetcher:
        engine = PollEngine(store, fetcher, source=source, handle=recorder.handle,
                            on_deactivated=recorder.deactivated,
                            policy=PollPolicy(max_failures=3, backoff_base=60))
        await engine.sync()
        for polls in (1, 2, 3):
            await engine.due_now(failing.id, fine.id)
            assert await engine.run_once() == 2
            state = await store.feed_state(failing.id)
            assert state["status"] == "error" and state["errors"] == str(polls)
            assert state["last_error"].startswith(
                "deactivated after 3 failures" if polls == 3 else "unexpected: ")
            if polls < 3:
                due = await engine.next_due(failing.id)
                assert due is not None and due - await engine.server_time() > 25
    assert await engine.deactivated() == {failing.id}
    assert [(f.id, e.kind) for f, e in recorder.off] == [(failing.id, "unexpected")]
    assert "OverflowError: date value out of range" in str(recorder.off[0][1])
    assert recorder.handled == [fine.id] * 3
    tracebacks = [r for r in caplog.records if r.exc_info and "handling a feed" in r.message]
    assert len(tracebacks) == 1


# --- 4. malformed host names -------------------------------------------------------------------


@pytest.mark.parametrize(("url", "reason"), [
    ("http://xn--ls8h.la/", "not a valid host name (Codepoint U+1F4A9"),
    ("http://rss..example.com/feed", "empty label"),
    (f"http://{'a' * 64}.example.com/feed", "longer than 63 characters"),
])
def test_the_feeds_file_refuses_a_malformed_host_with_file_and_line(
        tmp_path: Path, url: str, reason: str) -> None:
    """A feeds file naming a malformed host fails every command with one line naming the
    file, the line of the URL and the reason, exit 2, no traceback."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: https://rss.dw.com/rdf/rss-chi-all\n    outlet: DW\n"
                     f"  - outlet: X\n    url: {url}\n")
    result = _newsbot("feeds", "list", env=_env(NEWSBOT_FEEDS=str(feeds),
                                               NEWSBOT_DATA_DIR=str(tmp_path / "data")))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"{feeds}:5: feed #2: url " in line and reason in line


async def test_chat_and_opml_refuse_malformed_hosts_with_a_reason(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """`/feeds add` refuses each malformed host name, saying why; an OPML import refuses
    them too (exit 1) and adds the good feed."""
    env = _cli_env(tmp_path, redis_url, store, rules_dir, [f"path: {SEEDS}"])
    added = await _cli("chat", "/feeds add http://xn--ls8h.la/ Poo", env=env)
    assert added.returncode == 1
    assert added.stdout.startswith("Refused: xn--ls8h.la cannot be a feed's host: it is not "
                                   "a valid host name (Codepoint U+1F4A9")
    outlines = "".join(f'<outline type="rss" text="x" xmlUrl="{url}"/>' for url in
                       [*BAD_HOSTS, "https://www.dw.com/zh/rss"])
    opml = tmp_path / "feeds.opml"
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    imported = await _cli("feeds", "import", str(opml), env=env)
    assert imported.returncode == 1, imported.stderr
    assert f"1 added, 0 skipped (already present), {len(BAD_HOSTS)} invalid" in imported.stdout
    refused = imported.stderr.splitlines()
    assert len(refused) == len(BAD_HOSTS)
    assert refused[1] == (f"newsbot: {opml}: refused http://rss..example.com/feed (x): host "
                          "rss..example.com cannot be looked up: it has an empty label (two "
                          "dots in a row, or a leading dot)")
    assert all(": host " in line and " cannot be looked up: " in line for line in refused)
    # In a Chinese chat the whole refusal is Chinese.
    await _cli("chat", "/lang zh", env=env)
    zh = await _cli("chat", "/feeds add http://-news-.example.com/feed", env=env)
    assert zh.stdout.strip() == ("已拒绝：-news-.example.com 不能作为新闻源的主机："
                                 "标签 '-news-' 以连字符开头或结尾。")


async def test_opml_import_redacts_the_urls_it_refuses(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """A refused OPML outline is quoted without its userinfo or secret parameters."""
    env = _cli_env(tmp_path, redis_url, store, rules_dir, [f"path: {SEEDS}"])
    opml = tmp_path / "secret.opml"
    opml.write_text('<opml version="2.0"><body><outline text="x" xmlUrl="http://reader:'
                    's3cretPW@127.0.0.1/feed?token=abc123"/></body></opml>')
    imported = await _cli("feeds", "import", str(opml), env=env)
    assert imported.returncode == 1
    assert "s3cretPW" not in imported.stderr and "abc123" not in imported.stderr
    assert imported.stderr == (f"newsbot: {opml}: refused http://***@127.0.0.1/feed?token=*** "
                               "(x): host 127.0.0.1 is internal (loopback, private or local)\n")


@pytest.mark.parametrize("guarded", [False, True])
async def test_any_error_fetching_one_feed_is_that_feeds_error(
        srv: FeedServer, store: Store, guarded: bool) -> None:
    """Feeds whose hosts IDNA or DNS refuse (as stored before the check existed) fail with
    kind `url` or `network`, guarded or not; the good feed beside them is polled."""
    bad = [FeedSpec(id=feed_id(url), url=url) for url in BAD_HOSTS]
    good = FeedSpec(id="good", url=srv.add("/good-beside.xml", rss([{"title": "kept"}])))
    seen: list[str] = []

    async def handle(result: PollResult) -> None:
        seen.extend(a.title for a in result.articles)

    async def source() -> list[FeedSpec]:
        return [*bad, good]

    async with Fetcher(timeout=3, connect_timeout=3) as fetcher:
        engine = PollEngine(store, fetcher, source=source, handle=handle,
                            untrusted=lambda feed: guarded and feed.id != "good")
        await engine.sync()
        assert await engine.run_once() == len(bad) + 1
    assert seen == ["kept"] and engine.stats["crashed"] == 0
    for feed in bad:
        state = await store.feed_state(feed.id)
        assert state["status"] == "error", (feed.url, state)
        assert state["last_error"].split(":")[0] in ("url", "network"), state


# --- 5, 5b. encodings and the Content-Type -----------------------------------------------------


async def test_a_bad_byte_in_a_utf8_feed_reads_as_a_replacement_and_alerts(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """A UTF-8 Chinese title with one bad byte reads `朝鲜派兵 \\ufffd X` and alerts;
    `feeds list` and the admin's /status show the encoding warning."""
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t"
            "</title><language>zh-cn</language><item><title>朝鲜派兵 \udcff X</title><link>"
            "https://www.dw.com/zh/a-1</link><description>朝鲜向俄罗斯派兵一万人。</description>"
            "</item></channel></rss>").encode("utf-8", "surrogateescape")
    with FeedServer() as server:
        url = server.add("/bad-byte.xml", body)
        env = _cli_env(tmp_path, redis_url, store, rules_dir, [f"url: {url}"])
        run = await _cli("run", "--once", env=env)
    assert run.returncode == 0, run.stderr
    [alert] = _alerts(run.stdout)
    assert alert.startswith("朝鲜派兵 \ufffd X")
    listing = await _cli("feeds", "list", env=env)
    assert "    warning: 1 byte(s) not valid UTF-8 replaced by U+FFFD" in listing.stdout
    status = await _cli("chat", "/status", env=env)
    assert "· warning: 1 byte(s) not valid UTF-8 replaced by U+FFFD" in status.stdout


@pytest.mark.parametrize(("encoding", "title"), [
    ("euc-jp", "北朝鮮が派兵 日本政府"), ("euc-kr", "북한 파병 한국"),
    ("shift_jis", "北朝鮮が派兵 日本政府"), ("gb18030", "朝鲜派兵"), ("big5", "朝鮮派兵")])
async def test_a_zh_feed_in_a_declared_cjk_encoding_is_read_in_it(
        srv: FeedServer, store: Store, encoding: str, title: str) -> None:
    """A document declaring EUC-JP, EUC-KR, Shift_JIS, GB18030 or Big5, served as `text/xml`
    (US-ASCII by RFC 3023) to a zh feed, is read in its own encoding, without a warning."""
    body = (f"<?xml version='1.0' encoding='{encoding}'?><rss version='2.0'><channel>"
            f"<title>t</title><item><title>{title}</title></item></channel></rss>"
            ).encode(encoding)
    feed = FeedSpec(id=f"cjk-{encoding}", language="zh",
                    url=srv.add(f"/{encoding}.xml", body, headers={"Content-Type": "text/xml"}))
    async with Fetcher(timeout=3) as fetcher:
        result = await poll_feed(feed, store=store, fetcher=fetcher)
    assert [a.title for a in result.articles] == [title] and result.note is None
    assert (await store.feed_state(feed.id))["warning"] == ""


@pytest.mark.parametrize("body", [
    rss([]), rss([], title=""),
    b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><id>urn:x</id></feed>"])
async def test_a_valid_empty_feed_without_a_content_type_is_healthy(
        bare: BareFeedServer, store: Store, body: bytes) -> None:
    """An empty RSS channel or Atom feed served with no Content-Type at all is a healthy
    poll with no items, not a parse failure."""
    url = bare.add(f"/empty-{len(body)}.xml", body, headers={"Content-Type": ""})
    feed = FeedSpec(id=f"empty-{len(body)}", url=url)
    async with Fetcher(timeout=3) as fetcher:
        result = await poll_feed(feed, store=store, fetcher=fetcher)
    assert result.response is not None and result.response.content_type is None
    assert result.error is None and result.articles == ()
    assert (await store.feed_state(feed.id))["status"] == "ok"


# --- 8. the item cap ---------------------------------------------------------------------------


async def test_a_feed_over_the_item_cap_keeps_the_newest_and_counts_the_rest(
        srv: FeedServer, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """Twelve dated items and two undated with a cap of five: the five newest go on, the
    nine cut are counted in the feed's state and the metric, in one log line."""
    now = datetime.now(UTC).replace(microsecond=0)
    items: list[dict[str, object]] = [
        {"title": f"item {n}", "pubDate": now - timedelta(hours=(n * 7) % 12 + 1)}
        for n in range(12)]
    items += [{"title": "undated a"}, {"title": "undated b"}]
    feed = FeedSpec(id="capped", url=srv.add("/capped.xml", rss(items)))
    metrics = Metrics()
    before = metrics.value("newsbot_feed_items_cut_total")
    caplog.set_level(logging.INFO)
    async with Fetcher(timeout=3, max_items=5) as fetcher:
        result = await poll_feed(feed, store=store, fetcher=fetcher)
    newest = sorted(items[:12], key=lambda i: i["pubDate"], reverse=True)[:5]  # type: ignore
    assert sorted(a.title for a in result.articles) == sorted(str(i["title"]) for i in newest)
    assert [a.title for a in result.articles] == [  # in the document's order
        str(i["title"]) for i in items if i in newest]
    assert result.cut == 9 and (await store.feed_state(feed.id))["items_cut"] == "9"
    metrics.polled(result)
    assert metrics.value("newsbot_feed_items_cut_total") == before + 9
    lines = [r for r in caplog.records if "items over the cap" in r.message]
    assert len(lines) == 1 and lines[0].kv["cut"] == 9  # type: ignore[attr-defined]


async def test_a_large_poll_logs_a_few_lines_not_one_per_article(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """`run --once` over 60 items with NEWSBOT_MAX_ITEMS_PER_FEED=20 places 20, logs one
    line about the 40 cut and aggregate pipeline lines (none per article) at INFO, and
    `feeds list` says how many were cut."""
    now = datetime.now(UTC).replace(microsecond=0)
    items = [{"title": f"Fishing quota talks, round {n}", "link": f"https://example.org/q/{n}",
              "description": f"Delegates met for round {n} of talks on fishing quotas.",
              "pubDate": now - timedelta(minutes=n)} for n in range(60)]
    with FeedServer() as server:
        url = server.add("/big.xml", rss(items))
        env = _cli_env(tmp_path, redis_url, store, rules_dir, [f"url: {url}"],
                       NEWSBOT_MAX_ITEMS_PER_FEED="20")
        run = await _cli("run", "--once", "-v", env=env)  # (-v: INFO lines)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    cut = [line for line in lines if "feeds: items over the cap left out" in line]
    assert len(cut) == 1 and "cut=40" in cut[0] and "kept=20" in cut[0]
    assert not any("pipeline: article placed" in line for line in lines)
    placed = [line for line in lines if "pipeline: articles placed" in line]
    assert 1 <= len(placed) <= 2 and "articles=20" in placed[0], lines
    listing = await _cli("feeds", "list", env=env)
    assert "    40 items over the cap left out at the last poll" in listing.stdout


# --- keep it found: hostile documents ----------------------------------------------------------

CAP = 8
_SERIAL = count()
_CJK = ["朝鲜派兵", "韩国召见俄罗斯大使", "北约回应", "乌克兰", "台灣新聞"]
_HOSTILE_DATES = [*IMPOSSIBLE, *IMPOSSIBLE_ZH, "", "2024-13-45", "Thu, 01 Jan 1970 00:00:00 GMT",
                  "9" * 40, "Mon, 21 Oct 2024 25:61:00 GMT", "2024-10-21T11:00:00+99:00"]
_LINKS = ["https://www.dw.com/zh/a-{n}", "http://xn--ls8h.la/{n}", "http://rss..example.com/{n}",
          "http://💩.la/{n}", "http://[::1/{n}", f"https://{'a' * 64}.com/{{n}}", "/rel/{n}", "",
          "javascript:alert({n})"]
_BODIES = ["", "Plain text.", "&amp; &lt;b&gt;粗&lt;/b&gt; &#20013;&#25991;", "&#xD800; &#x110000;",
           "<![CDATA[<p>段落 <i>斜</i></p>]]>", "&nbsp;不间断", "&lt;div&gt;" * 30 + "深",
           "长文" * 2000]
_BAD_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\x80"]
_CONTENT_TYPES = ["", "application/rss+xml", "application/xml; charset={enc}", "text/xml",
                  "text/html"]


@dataclass(frozen=True)
class _Item:
    """One generated item: its marker, its Chinese words, a raw date and the time it means
    (None: none, or impossible), a raw body, a link, and a bad byte to put in its title."""

    marker: str
    words: str
    date: str | None
    when: datetime | None
    body: str
    link: str
    bad: bytes | None

    def title(self) -> str:
        """The title the item must be read with."""
        return f"{self.marker} {self.words}" + (" \ufffd X" if self.bad else "")


@st.composite
def _items(draw: st.DrawFn, *, atom: bool, utf8: bool) -> list[_Item]:
    serial = next(_SERIAL)
    items = []
    for n in range(draw(st.integers(1, CAP + 4))):
        kind = draw(st.sampled_from(["good", "hostile", "text", "none"]))
        when = draw(st.datetimes(datetime(1995, 1, 1), datetime(2025, 1, 1),
                                 timezones=st.just(UTC))).replace(microsecond=0)
        date = {"good": when.isoformat() if atom else format_datetime(when),
                "hostile": draw(st.sampled_from(_HOSTILE_DATES)),
                "text": draw(st.text(max_size=24)), "none": None}[kind]
        items.append(_Item(
            marker=f"m{serial}x{n}", words=draw(st.sampled_from(_CJK)), date=date,
            when=when if kind == "good" else None, body=draw(st.sampled_from(_BODIES)),
            link=draw(st.sampled_from(_LINKS)).format(n=n),
            bad=draw(st.sampled_from([None, None, *_BAD_BYTES])) if utf8 else None))
    return items


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _document(items: list[_Item], *, atom: bool, encoding: str, language: str) -> bytes:
    """An RSS 2.0 or Atom document in `encoding`, bad bytes written raw into the titles."""
    def enc(text: str) -> bytes:
        return text.encode(encoding, "xmlcharrefreplace")

    def date(item: _Item) -> bytes:
        tag = "published" if atom else "pubDate"
        return b"" if item.date is None else enc(f"<{tag}>{_xml_text(item.date)}</{tag}>")

    def entry(item: _Item) -> bytes:
        title = enc(f"<title>{item.marker} {item.words}") + (
            b" " + item.bad + b" X" if item.bad else b"") + b"</title>"
        link = _xml_text(item.link)
        if atom:
            return (b"<entry>" + title + enc(f"<link href=\"{link}\"/><id>urn:{item.marker}"
                                              f"</id><summary type=\"html\">{item.body}"
                                              "</summary>") + date(item) + b"</entry>")
        return (b"<item>" + title + enc(f"<link>{link}</link><description>{item.body}"
                                        "</description>") + date(item) + b"</item>")

    head = enc(f"<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n")
    entries = b"".join(entry(item) for item in items)
    if atom:
        return head + enc(f"<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{language}\">"
                          "<title>Hostile</title><id>urn:hostile</id>") + entries + b"</feed>"
    return head + enc(f"<rss version=\"2.0\"><channel><title>Hostile</title><language>"
                      f"{language}</language>") + entries + b"</channel></rss>"


@pytest.fixture(scope="module")
async def fetcher_for_module() -> AsyncIterator[Fetcher]:
    """One fetcher (one shard, a cap of CAP items) for the property test's examples."""
    async with Fetcher(timeout=5, shards=1, max_items=CAP) as fetcher:
        yield fetcher


@dataclass
class _Sink:
    """The real pipeline on the real store, for a sample of the documents."""

    pipeline: Pipeline


@pytest.fixture
def sink(store: Store) -> _Sink:
    """A Pipeline wired like the app's, following `朝鲜 + 派兵`."""
    chats = ChatDirectory(store)
    index = StoryIndex(store, window_seconds=72 * 3600, seen_seconds=86_400)
    rules = RuleBook([Topic(name="dprk-troops", expression="朝鲜 + 派兵")], chats)
    return _Sink(Pipeline(store, index=index, rules=rules, outbox=Outbox(store),
                          archive=Archive(store, ttl=4 * 86_400)))


@dataclass(frozen=True)
class _Case:
    """One hostile document: RSS or Atom, its encoding, language, Content-Type (empty: none)
    and items, and whether its articles also go through the pipeline."""

    atom: bool
    encoding: str
    language: str
    content_type: str
    items: list[_Item]
    through_pipeline: bool


@st.composite
def _cases(draw: st.DrawFn) -> _Case:
    atom, encoding = draw(st.booleans()), draw(st.sampled_from(["utf-8", "gb18030", "big5"]))
    return _Case(atom=atom, encoding=encoding,
                 language=draw(st.sampled_from(["zh-cn", "zh-TW", "en"])),
                 content_type=draw(st.sampled_from(_CONTENT_TYPES)).format(enc=encoding),
                 items=draw(_items(atom=atom, utf8=encoding == "utf-8")),
                 through_pipeline=draw(st.booleans()))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_cases())
async def test_hostile_documents_keep_every_valid_item_and_say_what_happened(
        bare: BareFeedServer, store: Store, fetcher_for_module: Fetcher, sink: _Sink,
        case: _Case) -> None:
    """An RSS or Atom document with hostile dates, encodings and bad bytes, hosts, entities,
    markup and sizes, with or without a Content-Type, fetched over loopback and parsed by the
    real poll: every item comes through (the newest CAP when there are more) with its title,
    its date or none, and a plausible time; the feed's health is ok and its state says what
    was repaired and cut; a sample goes through the real pipeline, one outcome per item."""
    items, content_type = case.items, case.content_type
    body = _document(items, atom=case.atom, encoding=case.encoding, language=case.language)
    path = f"/hostile-{items[0].marker}.xml"
    feed = FeedSpec(id=items[0].marker, url=bare.add(path, body, headers={
        "Content-Type": content_type}))
    result = await poll_feed(feed, store=store, fetcher=fetcher_for_module)
    assert result.error is None, result.error
    by_marker = {a.title.split(" ", 1)[0]: a for a in result.articles}
    assert len(by_marker) == len(result.articles) == min(len(items), CAP)
    now = datetime.now(UTC)
    for item in items:
        article = by_marker.get(item.marker)
        if article is None:
            continue
        assert article.title == item.title(), (item, article.title)
        if item.when is not None:
            assert article.published == item.when
        assert article.published is None or MIN_DATE <= article.published <= now + timedelta(
            days=1)
    assert set(by_marker) == {i.marker for i in items} or len(items) > CAP
    state = await store.feed_state(feed.id)
    bad = sum(1 for i in items if i.bad)
    assert state["status"] == "ok" and state["items_cut"] == str(max(0, len(items) - CAP))
    assert state["warning"] == (f"{bad} byte(s) not valid UTF-8 replaced by U+FFFD"
                                if bad else ""), (state, content_type)
    if case.through_pipeline:
        outcomes = await sink.pipeline.process_many(result.articles)
        assert len(outcomes) == len(result.articles)
        assert all(o.article.published is not None for o in outcomes)


async def test_a_switched_off_feed_reads_off_in_the_cli_and_in_status(
        tmp_path: Path, redis_url: str, store: Store, rules_dir: Path) -> None:
    """A feed switched off after its failures is `off` in `newsbot feeds list` and `⏸ ...
    switched off` in `/status` (one decision, bot.feeds.engine.feed_health), with the way to
    turn it back on; after `feeds reactivate` both say it is failing again, not off."""
    with FeedServer() as server:
        bad = server.add("/broken.xml", b"gone", status=500)
        feeds = [f"url: {bad}", f"path: {SEEDS}"]
        settings = _settings(tmp_path, redis_url, store, rules_dir, feeds,
                             NEWSBOT_POLL_MAX_FAILURES="1")
        async with App(settings) as app:  # the service's poll engine: it switches feeds off
            await app.engine.sync()
            assert await app.engine.run_once() == 2
        env = _cli_env(tmp_path, redis_url, store, rules_dir, feeds)
    listed = json.loads((await _cli("feeds", "list", "--json", env=env)).stdout)
    health = {row["location"]: row["health"] for row in listed}
    assert health[bad] == "off", listed
    status = (await _cli("chat", "/status", env=env)).stdout.splitlines()
    [line] = [line for line in status if "/broken.xml" in line]
    assert line.startswith(f"  ⏸ {feed_id(bad)} {bad} — switched off (deactivated after 1 "
                           "failure in a row; last: http: ")
    assert line.endswith(f"); `newsbot feeds reactivate {feed_id(bad)}` turns it back on")
    assert (await _cli("feeds", "reactivate", feed_id(bad), env=env)).returncode == 0
    relisted = json.loads((await _cli("feeds", "list", "--json", env=env)).stdout)
    assert {row["location"]: row["health"] for row in relisted}[bad] == "error"
