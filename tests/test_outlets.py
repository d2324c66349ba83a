"""Outlet names: the feed's, the item's `<source>`, the known table, else the registered domain."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chats import ChatDirectory
from bot.dedup.index import StoryIndex
from bot.feeds.fetch import Fetcher
from bot.feeds.outlets import MAX_OUTLET, outlet_from_url, outlet_name
from bot.feeds.parse import parse_feed, parse_feed_async
from bot.feeds.seeds import parse_seed, read_seed_folder
from bot.models import Article, FeedSpec, Topic
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.routing import RuleBook
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.feedserver import FeedServer

URL_CASES = [
    # (link, outlet)
    ("https://www.voachinese.com/a/1.html", "VOA"),  # the known table
    ("https://WWW.DW.com.:8443/zh/a-1", "DW"),
    ("https://www.bbc.co.uk/zhongwen", "BBC"),
    ("https://news.tvbs.com.tw/world/123", "tvbs.com.tw"),  # registered domains
    ("https://edition.cnn.co.jp/x", "cnn.co.jp"),
    ("http://news.sina.com.cn/w/2024-10-21/doc.shtml", "sina.com.cn"),
    ("https://www.example.co.uk/news", "example.co.uk"),
    ("https://blog.example.org/p", "example.org"),
    ("https://www.city.kobe.jp/a", "city.kobe.jp"),  # a PSL exception rule
    ("https://someone.blogspot.com/2024/10/post.html", "someone.blogspot.com"),  # private suffix
    ("http://127.0.0.1:8080/feed", "127.0.0.1"),  # hosts without a registered domain
    ("http://[::1]:8080/feed", "::1"),
    ("http://10.0.0.5/rss", "10.0.0.5"),
    ("http://localhost:3000/a", "localhost"),
    ("http://www.localhost/a", "localhost"),
    ("http://intranet.corp.lan/a", "intranet.corp.lan"),
    ("https://co.uk/a", "co.uk"),
    ("https://xn--fsqu00a.xn--fiqs8s/a", "例子.中国"),  # IDNA: punycode shown as Unicode
    ("https://news.例子.中国/a", "例子.中国"),
    ("https://www.xn--bcher-kva.de/x", "bücher.de"),
    ("https://www.Bücher.de/x", "bücher.de"),
    ("https://xn--abc-.com/", "xn--abc-.com"),  # decodes to plain ASCII: not an IDN
    ("https://xn--a.com/", "xn--a.com"),  # decodes to a control character
    ("https://xn--0.com/", "xn--0.com"),  # not punycode at all
    ("http://a b.com/x", "a b.com"),  # malformed hosts: the host text, or unknown
    ("http://a..b.com/x", "a..b.com"),
    ("http://EXAMPLE\u3002com/x", "example.com"),  # an ideographic full stop separates labels
    ("http://[::1/x", "unknown"),
    ("http://\u2100.com/x", "unknown"),
    ("https:///x", "unknown"),
    ("mailto:desk@example.org", "unknown"),
    ("/a/relative/link", "unknown"),
    ("", "unknown"),  # no link at all
    (None, "unknown"),
]


@pytest.mark.parametrize(("url", "outlet"), URL_CASES)
def test_outlet_from_url(url: str | None, outlet: str) -> None:
    """A link's outlet is its known name, else registered domain, else host, else `unknown`."""
    assert outlet_from_url(url) == outlet


def test_overlong_host_is_capped_text() -> None:
    """A host too long to be a DNS name is shown as text, cut to the outlet name limit."""
    outlet = outlet_from_url("http://" + "a" * 400 + ".com/x")
    assert len(outlet) == MAX_OUTLET and outlet.endswith("…") and outlet.startswith("aaa")


NAME_CASES = [
    # (<source> text as feedparser gives it, outlet name)
    ("Reuters", "Reuters"),
    ("  Nikkei\n   Asia\t", "Nikkei Asia"),
    ("<b>Bold</b> Times", "Bold Times"),
    ("<script>alert(1)</script>Agence <i>France</i>-Presse", "Agence France-Presse"),
    ("ＮＨＫ\u3000ワールド", "NHK ワールド"),
    ("A\x00B\x1fC", "A B C"),
    ("x" * 100, "x" * (MAX_OUTLET - 1) + "…"),
    ("   ", ""),
]


@pytest.mark.parametrize(("raw", "name"), NAME_CASES)
def test_outlet_name_is_plain_one_line_and_capped(raw: str, name: str) -> None:
    """A `<source>` name loses HTML, control characters and extra whitespace, and is capped."""
    assert outlet_name(raw) == name


@given(st.one_of(st.text(), st.text().map(lambda host: f"https://{host}/x")))
def test_outlet_from_url_never_raises(url: str) -> None:
    """Any text as a link gives a non-empty, one-line outlet within the length limit."""
    outlet = outlet_from_url(url)
    assert outlet and len(outlet) <= MAX_OUTLET
    assert outlet == " ".join(outlet.split())  # no tab or newline (stored tab-separated)


@given(st.text())
def test_outlet_name_never_raises(raw: str) -> None:
    """Any `<source>` text gives a one-line name within the length limit."""
    name = outlet_name(raw)
    assert len(name) <= MAX_OUTLET and name == " ".join(name.split())


def test_suffix_list_is_read_offline() -> None:
    """Loading and using the Public Suffix List opens no socket and starts no process."""
    script = (
        "import sys\n"
        "def hook(event, args):\n"
        "    if event.startswith(('socket.', 'urllib.', 'subprocess.', 'os.exec')):\n"
        "        raise RuntimeError(f'network or process use: {event}')\n"
        "sys.addaudithook(hook)\n"
        "from bot.feeds.outlets import outlet_from_url\n"
        "print(outlet_from_url('https://news.tvbs.com.tw/world/1'))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tvbs.com.tw"


def test_seed_from_an_unknown_site_names_its_domain() -> None:
    """A seed file linking to a site outside the table takes the site's registered domain."""
    article = parse_seed("[T](https://news.tvbs.com.tw/world/1)\n------\n<p>body</p>")
    assert article.outlet == "tvbs.com.tw"


def _rss_item(title: str, link: str | None, source: str | None = None, *,
              source_url: str | None = None) -> str:
    """One RSS `<item>`, optionally with a `<source>` (text as given: may hold escapes)."""
    attrs = f" url={quoteattr(source_url)}" if source_url else ""
    return ("<item>" + f"<title>{escape(title)}</title><description>{escape(title)}</description>"
            + (f"<link>{escape(link)}</link>" if link else "")
            + (f"<source{attrs}>{source or ''}</source>" if source is not None else "")
            + "</item>")


def _atom_entry(n: int, title: str, link: str, source: str | None = None) -> str:
    """One Atom `<entry>`, optionally with a `<source>` element (inner XML as given)."""
    return (f"<entry><id>urn:test:{n}</id><title>{escape(title)}</title>"
            f"<link href={quoteattr(link)}/><updated>2024-10-21T00:00:00Z</updated>"
            f"<summary>{escape(title)}</summary>"
            + (f"<source>{source}</source>" if source is not None else "") + "</entry>")


AGGREGATOR_RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    "<title>Aggregator</title><link>https://agg.example.net/</link><description>d</description>"
    + _rss_item("wire", "https://news.google.com/articles/1", "  Reuters\n  World ",
                source_url="https://www.reuters.com/rss")
    + _rss_item("escaped", "https://news.google.com/articles/2", "&lt;b&gt;Kyodo&lt;/b&gt; News")
    + _rss_item("url only", "https://www.rfi.fr/cn/1", "", source_url="https://www.dw.com/rss")
    + _rss_item("tvbs", "https://news.tvbs.com.tw/world/123")
    + _rss_item("voa", "https://www.voachinese.com/a/1.html")
    + _rss_item("no link", None)
    + "</channel></rss>").encode()

AGGREGATOR_ATOM = (
    '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Aggregator</title><id>urn:test:agg</id><updated>2024-10-21T00:00:00Z</updated>"
    + _atom_entry(1, "plain", "https://asia.nikkei.com/a",
                  "<id>urn:nikkei</id><title>  Nikkei\n   Asia </title>"
                  '<link rel="self" href="https://asia.nikkei.com/rss"/>')
    + _atom_entry(2, "html", "https://edition.cnn.co.jp/a",
                  '<title type="html">&lt;b&gt;Mainichi&lt;/b&gt;  Shimbun</title>')
    + _atom_entry(3, "long", "https://edition.cnn.co.jp/b", f"<title>{'N' * 80}</title>")
    + _atom_entry(4, "link only", "https://www.bbc.co.uk/x",
                  '<link rel="alternate" href="https://www.dw.com/"/>')
    + _atom_entry(5, "cnn", "https://edition.cnn.co.jp/c")
    + "</feed>").encode()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A Fetcher for the loopback feed server."""
    async with Fetcher(timeout=2.0, max_bytes=100_000) as f:
        yield f


async def _outlets(srv: FeedServer, fetcher: Fetcher, path: str, body: bytes, *,
                   content_type: str, outlet: str | None = None) -> dict[str, str]:
    """Serve `body`, fetch it over HTTP and parse it: {title: outlet}."""
    url = srv.add(path, body, headers={"Content-Type": content_type})
    result = await fetcher.fetch(url)
    articles = await parse_feed_async(result.content, feed=FeedSpec(id="agg", url=url,
                                                                     outlet=outlet),
                                      url=result.url, content_type=result.content_type)
    return {a.title: a.outlet for a in articles}


async def test_rss_source_names_and_unknown_sites_over_http(srv: FeedServer,
                                                            fetcher: Fetcher) -> None:
    """RSS items take their cleaned `<source>` name, else their link's outlet or domain."""
    outlets = await _outlets(srv, fetcher, "/agg.rss", AGGREGATOR_RSS,
                             content_type="application/rss+xml; charset=utf-8")
    assert outlets == {
        "wire": "Reuters World",  # whitespace collapsed
        "escaped": "Kyodo News",
        "url only": "RFI",  # a source without a name: the link decides
        "tvbs": "tvbs.com.tw",
        "voa": "VOA",
        "no link": "127.0.0.1",  # no link: the site of the feed itself
    }


async def test_atom_source_titles_and_unknown_sites_over_http(srv: FeedServer,
                                                              fetcher: Fetcher) -> None:
    """Atom entries take their `<source>` title as plain capped text, else the link's."""
    outlets = await _outlets(srv, fetcher, "/agg.atom", AGGREGATOR_ATOM,
                             content_type="application/atom+xml")
    assert outlets == {
        "plain": "Nikkei Asia",
        "html": "Mainichi Shimbun",
        "long": "N" * (MAX_OUTLET - 1) + "…",
        "link only": "BBC",
        "cnn": "cnn.co.jp",
    }


async def test_feed_outlet_wins_over_source_over_http(srv: FeedServer,
                                                      fetcher: Fetcher) -> None:
    """A feed with its own `outlet` names every item so, whatever `<source>` says."""
    outlets = await _outlets(srv, fetcher, "/agg-named.rss", AGGREGATOR_RSS,
                             content_type="application/rss+xml", outlet="Wire Desk")
    assert set(outlets.values()) == {"Wire Desk"}


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _republished(*links: str) -> list[Article]:
    """Seed 001's report as RSS items at each link (same title and text), parsed."""
    [report] = [a for a in read_seed_folder(SEEDS)[0] if Path(a.path or "").name[:3] == "001"]
    items = "".join(
        f"<item><title>{escape(report.title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(report.text)}</description>"
        "<pubDate>Wed, 31 Dec 2025 08:00:00 GMT</pubDate></item>"
        for link in links)
    body = ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Republishers</title><language>zh-cn</language>{items}</channel></rss>")
    return parse_feed(body.encode(), feed=FeedSpec(id="rep"))


async def _pipeline(store: Store) -> Pipeline:
    """A Pipeline on the real store with one topic and no subscribers."""
    outbox = Outbox(store)
    await outbox.ensure_group()
    index = StoryIndex(store, window_seconds=72 * 3600, seen_seconds=30 * 86_400)
    rules = RuleBook([Topic(name="dprk", expression="朝鲜 + 派兵")], ChatDirectory(store))
    return Pipeline(store, index=index, rules=rules, outbox=outbox, clock=lambda: NOW)


async def test_two_unknown_sites_republishing_are_one_story_with_both(store: Store) -> None:
    """One report from two unknown sites is one story listing both; a site's repeat is a copy."""
    pipeline = await _pipeline(store)
    first, other, again = _republished("https://news.tvbs.com.tw/world/123",
                                       "https://www.ettoday.net/news/20241021/456.htm",
                                       "https://news.tvbs.com.tw/politics/789")
    assert (first.outlet, other.outlet, again.outlet) == (
        "tvbs.com.tw", "ettoday.net", "tvbs.com.tw")
    placed = (await pipeline.process(first)).assignment
    joined = (await pipeline.process(other)).assignment
    assert placed is not None and joined is not None
    assert joined.story.id == placed.story.id
    assert joined.story.outlets == ("tvbs.com.tw", "ettoday.net")
    assert (await pipeline.process(again)).assignment is None  # same site, other URL: a copy
    story = await store.get_story(placed.story.id)
    assert story is not None and story.outlets == ("tvbs.com.tw", "ettoday.net")
    assert len(story.articles) == 2
