"""OPML import and export: nested outlines, names, refusals, hostile XML, the CLI round trip."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.errors import ConfigError
from bot.feeds.opml import MAX_DEPTH, OpmlFeed, import_feeds, parse_opml, render_opml
from bot.feeds.outlets import outlet_from_url
from bot.feeds.sources import feed_id
from bot.models import FeedSpec
from bot.store import AddedFeeds, Store
from tests.conftest import REPO
from tests.test_logs import on_a_terminal

NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="News">
      <outline text="Asia" title="Asia feeds">
        <outline type="rss" text="VOA 中文" title="VOA Chinese" xmlUrl="https://www.voachinese.com/api/zq"/>
        <outline type="rss" text="DW 中文 | 德国之声" xmlURL="https://rss.dw.com/rdf/rss-chi-all"/>
      </outline>
      <outline type="rss" text="https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"
               xmlUrl="https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"/>
    </outline>
    <outline type="rss" text="RFI 华语" xmlUrl="  https://www.rfi.fr/cn/rss  "/>
    <outline type="link" text="A web page, not a feed" url="https://example.org/"/>
    <outline text="Broken">
      <outline type="rss" text="Gopher" xmlUrl="gopher://example.org/feed"/>
      <outline type="rss" text="Intranet" xmlUrl="http://10.0.0.5/rss"/>
      <outline type="rss" text="Empty" xmlUrl=""/>
    </outline>
  </body>
</opml>
""".encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body>
  <outline type="rss" text="&lol9;" xmlUrl="https://www.dw.com/rss"/>
</body></opml>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://www.dw.com/rss"/></body></opml>
"""


def test_nested_outlines_give_every_feed_with_its_name_and_folders() -> None:
    """Feeds come at any depth in document order; folders nest; title wins over text."""
    feeds = parse_opml(NESTED)
    assert [(f.url, f.name, f.folder) for f in feeds] == [
        ("https://www.voachinese.com/api/zq", "VOA Chinese", ("News", "Asia")),
        ("https://rss.dw.com/rdf/rss-chi-all", "DW 中文 | 德国之声", ("News", "Asia")),
        ("https://feeds.bbci.co.uk/zhongwen/simp/rss.xml", None, ("News",)),  # text = URL
        ("https://www.rfi.fr/cn/rss", "RFI 华语", ()),
        ("gopher://example.org/feed", "Gopher", ("Broken",)),
        ("http://10.0.0.5/rss", "Intranet", ("Broken",)),
        ("", "Empty", ("Broken",))]


@pytest.mark.parametrize(("document", "message"), [
    (BILLION_LAUGHS, "declares entities"),
    (XXE, "declares entities or external references"),
    (b"<opml><body><outline xmlUrl='https://a.org/'></body></opml>", ":1:"),
    (b"<rss version='2.0'><channel/></rss>", "not OPML (the root element is <rss>)"),
    (b"<opml version='2.0'><head/></opml>", "no <body>"),
    (b"", "not well-formed"),
])
def test_hostile_or_broken_documents_are_refused_clearly(document: bytes, message: str) -> None:
    """Entity bombs and external entities are refused, never expanded; broken XML names the
    position; other XML is not mistaken for OPML."""
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        parse_opml(document, source="subs.opml")
    assert str(caught.value).startswith("subs.opml")


def test_export_is_opml_2_with_every_url_feed_and_reads_back() -> None:
    """Export lists URL feeds (folders have no URL), escapes names, and parses back the same."""
    feeds = [FeedSpec(id="a", url="https://www.voachinese.com/api/zq"),
             FeedSpec(id="b", url="https://example.org/rss?a=1&b=2", outlet='Ex "<&>"',
                      language="zh"),
             FeedSpec(id="c", url="https://unknown.example.net/feed"),
             FeedSpec(id="d", path="/srv/seeds")]
    document = render_opml(feeds, now=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    root = ET.fromstring(document)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/dateCreated") == "Fri, 02 Jan 2026 03:04:00 GMT"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [f.url for f in feeds[:3]]
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)
    assert outlines[1].get("language") == "zh"
    assert [(f.url, f.name) for f in parse_opml(document)] == [
        ("https://www.voachinese.com/api/zq", None),  # the outlet its host stands for
        ("https://example.org/rss?a=1&b=2", 'Ex "<&>"'),
        ("https://unknown.example.net/feed", None)]  # its host is a placeholder, not a name


async def test_import_adds_valid_feeds_once_and_names_the_refused(store: Store) -> None:
    """Valid feeds are stored as added feeds; present ones are skipped; bad ones refused."""
    added = AddedFeeds(store)
    known = [feed_id("https://www.rfi.fr/cn/rss")]  # in the feeds file already
    at = datetime(2026, 1, 1, tzinfo=UTC)
    steps: list[int] = []
    report = await import_feeds(parse_opml(NESTED), added=added, known=known, by="opml:t",
                                at=at, step=lambda: steps.append(1))
    assert [f.url for f in report.added] == ["https://www.voachinese.com/api/zq",
                                             "https://rss.dw.com/rdf/rss-chi-all",
                                             "https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"]
    assert [f.url for f in report.skipped] == ["https://www.rfi.fr/cn/rss"]
    reasons = {f.url: why for f, why in report.invalid}
    assert reasons == {"gopher://example.org/feed": "not an http(s) URL",
                       "http://10.0.0.5/rss": "host 10.0.0.5 is internal (loopback, private "
                                              "or local)",
                       "": "empty xmlUrl"}
    assert len(steps) == 7
    stored = {f.url: f for f in await added.all()}
    assert stored["https://www.voachinese.com/api/zq"].outlet == "VOA Chinese"
    assert stored["https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"].outlet is None
    again = await import_feeds(parse_opml(NESTED), added=added, known=known, by="opml:t", at=at)
    assert not again.added and len(again.skipped) == 4


async def test_imported_feeds_are_scheduled_by_the_service(tmp_path: Path, redis_url: str,
                                                           key_prefix: str, store: Store) -> None:
    """The app's feed list holds imported feeds, fetched through the guard for chat feeds,
    and the polling engine schedules them."""
    from bot.app import App

    (tmp_path / "feeds.yaml").write_text("feeds:\n  - url: https://www.rfi.fr/cn/rss\n")
    settings = Settings(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=key_prefix,  # type: ignore[call-arg]
                        NEWSBOT_FEEDS=tmp_path / "feeds.yaml", NEWSBOT_DATA_DIR=tmp_path / "d")
    await import_feeds(parse_opml(NESTED), added=AddedFeeds(store), known=[], by="opml:t",
                       at=datetime.now(UTC))
    async with App(settings) as app:
        feeds = {f.url: f for f in await app.all_feeds()}
        voa = feeds["https://www.voachinese.com/api/zq"]
        assert len(feeds) == 4 and app.from_chat(voa)
        assert not app.from_chat(feeds["https://www.rfi.fr/cn/rss"])
        await app.engine.sync()
        assert await app.engine.next_due(voa.id) is not None


# --- property tests --------------------------------------------------------------------------

_NAMES = st.text(alphabet=st.sampled_from("ab cZ中文<>&\"'|-"), min_size=1, max_size=80)


@st.composite
def _trees(draw: st.DrawFn) -> tuple[bytes, list[OpmlFeed]]:
    """A random OPML tree of folders and feeds, with the feeds it should parse to."""
    root = ET.Element("opml", version="2.0")
    body = ET.SubElement(root, "body")
    expected: list[OpmlFeed] = []
    counter = iter(range(10_000))

    def fill(parent: ET.Element, folder: tuple[str, ...], depth: int) -> None:
        for _ in range(draw(st.integers(0, 4 if depth < 4 else 0))):
            name = draw(_NAMES)
            clean = " ".join(name.split())
            if draw(st.booleans()):
                url = f"https://h{next(counter)}.example.org/rss"
                ET.SubElement(parent, "outline", type="rss", text=name, xmlUrl=url)
                expected.append(OpmlFeed(url, clean[:64] or None, folder))
            else:
                sub = ET.SubElement(parent, "outline", text=name)
                fill(sub, (*folder, clean) if clean else folder, depth + 1)

    fill(body, (), 0)
    return ET.tostring(root, encoding="utf-8"), expected


@settings(max_examples=150, deadline=None)
@given(_trees())
def test_any_outline_tree_parses_to_its_feeds(tree: tuple[bytes, list[OpmlFeed]]) -> None:
    """Whatever the nesting and names (XML specials, CJK, spaces), every feed is found once,
    in document order, with its name and folder path."""
    document, expected = tree
    assert parse_opml(document) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_bytes_parse_or_fail_with_a_config_error(data: bytes) -> None:
    """Any input either parses or raises ConfigError, never another exception."""
    try:
        feeds = parse_opml(data, source="x.opml")
    except ConfigError as exc:
        assert str(exc).startswith("x.opml")
    else:
        assert all(isinstance(f, OpmlFeed) for f in feeds)


def _nested(depth: int) -> bytes:
    """A feed in `depth` levels of folders, one outline a line (the feed on line depth + 2)."""
    return ("<opml version='2.0'><body>\n" + "<outline text='f'>\n" * depth
            + "<outline type='rss' xmlUrl='https://deep.example.org/rss' text='Deep'/>\n"
            + "</outline>\n" * depth + "</body></opml>\n").encode()


def test_folders_are_read_up_to_the_depth_limit() -> None:
    """A feed in MAX_DEPTH levels of folders is read with its whole folder path."""
    [feed] = parse_opml(_nested(MAX_DEPTH))
    assert feed.name == "Deep" and feed.folder == ("f",) * MAX_DEPTH


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_deeper_folders_are_refused_naming_the_limit_and_the_line(depth: int) -> None:
    """An outline in more than MAX_DEPTH levels of folders refuses the file: the error names
    the limit and the line of the first outline too deep (read as a stream, the rest of the
    file is never looked at)."""
    with pytest.raises(ConfigError) as caught:
        parse_opml(_nested(depth), source="deep.opml")
    assert str(caught.value) == (f"deep.opml:{MAX_DEPTH + 2 + 1}:1: an outline in more than "
                                 f"{MAX_DEPTH} levels of folders (the most newsbot reads)")


def test_outlines_outside_the_body_or_in_other_elements_are_not_feeds() -> None:
    """Only outlines in the first <body>, in it or in outlines, count; the depth limit counts
    outlines only."""
    document = ("<opml><head><outline xmlUrl='https://head.example.org/'/></head><body>"
                + "<div>" * 100 + "<outline xmlUrl='https://in-div.example.org/'/>"
                + "</div>" * 100 + "<outline text='A'><x><outline xmlUrl='https://x.org/'/>"
                "</x><outline xmlUrl='https://a.example.org/' text='In A'/></outline></body>"
                "<body><outline xmlUrl='https://second-body.example.org/'/></body></opml>")
    assert parse_opml(document.encode()) == [
        OpmlFeed("https://a.example.org/", "In A", ("A",))]


# --- the command line ----------------------------------------------------------------------


def _newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_cli_import_list_export_round_trip(tmp_path: Path, redis_url: str, key_prefix: str,
                                           store: Store) -> None:
    """`feeds import` reports added/skipped/invalid (exit 1 for the refused), `feeds list`
    shows them, `feeds export` writes OPML of every feed that a fresh bot imports back."""
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - url: https://www.rfi.fr/cn/rss\n    outlet: RFI\n"
        f"  - path: {REPO / 'seeds'}\n")
    (tmp_path / "subs.opml").write_bytes(NESTED)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
    env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
            "NEWSBOT_FEEDS": str(tmp_path / "feeds.yaml"), "NEWSBOT_DATA_DIR": str(tmp_path)}
    imported = _newsbot("feeds", "import", str(tmp_path / "subs.opml"), env=env)
    assert imported.returncode == 1, imported.stderr
    assert "3 added, 1 skipped (already present), 3 invalid" in imported.stdout
    assert "refused gopher://example.org/feed (Gopher): not an http(s) URL" in imported.stderr
    assert "\r" not in imported.stderr  # no progress bar when stderr is not a terminal

    listed = json.loads(_newsbot("feeds", "list", "--json", env=env).stdout)
    assert [(f["origin"], f["health"]) for f in listed] == [("file", "new")] * 2 + [
        ("added", "new")] * 3
    text = _newsbot("feeds", "list", env=env).stdout
    assert "5 feeds" in text and "https://www.voachinese.com/api/zq · VOA Chinese" in text

    exported = _newsbot("feeds", "export", env=env)
    assert exported.returncode == 0 and "1 local folder feed(s) left out" in exported.stderr
    (tmp_path / "out.opml").write_text(exported.stdout, encoding="utf-8")
    urls = [f.url for f in parse_opml((tmp_path / "out.opml").read_bytes())]
    assert sorted(urls) == sorted(f["location"] for f in listed if f["location"].startswith(
        "https://"))

    fresh = env | {"NEWSBOT_KEY_PREFIX": f"{key_prefix}fresh:",
                   "NEWSBOT_FEEDS": str(tmp_path / "none.yaml")}
    (tmp_path / "none.yaml").write_text("feeds: []\n")
    code, stdout, stderr = on_a_terminal("feeds", "import", str(tmp_path / "out.opml"),
                                         env=fresh)
    assert code == 0 and "4 added, 0 skipped" in stdout, stderr
    assert "importing out.opml [" in stderr and "] 4/4" in stderr  # the bar, on a terminal
    relisted = json.loads(_newsbot("feeds", "list", "--json", env=fresh).stdout)

    def shown(feeds: list[dict[str, str]]) -> list[tuple[str, str]]:
        """(URL, the outlet its articles show): a name its host stands for needs no storing."""
        return sorted((f["location"], f["outlet"] or outlet_from_url(f["location"]))
                      for f in feeds if f["location"].startswith("https://"))

    assert shown(relisted) == shown(listed)
    assert ("https://www.voachinese.com/api/zq", "VOA Chinese") in shown(relisted)


def test_cli_refuses_folders_nested_too_deep_in_one_line(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """`newsbot feeds import` of folders nested 100,000 deep (a 3 MB file) exits 2 with one
    line naming the file, the line and the limit, no traceback, and adds nothing."""
    (tmp_path / "deep.opml").write_bytes(_nested(100_000))
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
    env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
            "NEWSBOT_FEEDS": str(tmp_path / "feeds.yaml"), "NEWSBOT_DATA_DIR": str(tmp_path)}
    result = _newsbot("feeds", "import", str(tmp_path / "deep.opml"), env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"newsbot: {tmp_path / 'deep.opml'}:{MAX_DEPTH + 3}:1: an outline "
                             f"in more than {MAX_DEPTH} levels of folders (the most newsbot "
                             "reads)\n")
    listed = _newsbot("feeds", "list", "--json", env=env)
    assert json.loads(listed.stdout) == []


def test_cli_refuses_an_entity_bomb_without_adding_anything(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """A billion-laughs OPML exits 2 with a clear message, quickly, and adds nothing."""
    (tmp_path / "bomb.opml").write_bytes(BILLION_LAUGHS)
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
    env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
            "NEWSBOT_FEEDS": str(tmp_path / "feeds.yaml"), "NEWSBOT_DATA_DIR": str(tmp_path)}
    result = _newsbot("feeds", "import", str(tmp_path / "bomb.opml"), env=env)
    assert result.returncode == 2
    assert "refused: the document declares entities" in result.stderr
    missing = _newsbot("feeds", "import", str(tmp_path / "nope.opml"), env=env)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    exported = _newsbot("feeds", "export", "-o", str(tmp_path / "out.opml"), env=env)
    assert exported.returncode == 0 and exported.stdout == "" and exported.stderr == ""
    assert parse_opml((tmp_path / "out.opml").read_bytes()) == []  # nothing was added
