"""html_to_text on nested and hostile markup: parsed in pieces of bounded size, so its cost
stays linear, with the same text as one parse of the whole (issue 13, item 6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.text
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import parse_feed_async
from bot.models import FeedSpec
from bot.text import PARSE_TAGS, REOPEN_DEPTH, html_pieces, html_to_text
from tests.conftest import REPO
from tests.feedserver import FeedServer, rss

# The most `<` lexbor may see in one piece: twice PARSE_TAGS of the markup's own (and one),
# `<body>` and the reopened elements, the cut's lead and closer (`<!--`, `-->`), the probes'
# three tags.
MOST_PER_PIECE = 2 * PARSE_TAGS + 1 + 1 + REOPEN_DEPTH + 2 + 3
ARTICLES = sorted(p for folder in ("seeds", "tests/data/dev", "tests/data/heldout",
                                   "tests/data/heldout2", "tests/data/heldout3")
                  for p in (REPO / folder).iterdir() if p.suffix in (".txt", ".html"))


def _whole(html: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The text of `html` parsed in one piece, however long."""
    with monkeypatch.context() as patch:
        patch.setattr(bot.text, "PARSE_TAGS", 10**9)
        return html_to_text(html)


def _in_pieces(html: str, size: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """The text of `html` parsed in pieces of about `size` `<`."""
    with monkeypatch.context() as patch:
        patch.setattr(bot.text, "PARSE_TAGS", size)
        return html_to_text(html)


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.name)
def test_articles_read_the_same_cut_at_every_tag(path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeds and the dev and both held-out sets' articles give the same text parsed whole
    or cut before every token (the smallest pieces there are)."""
    html = path.read_text(encoding="utf-8")
    assert _in_pieces(html, 1, monkeypatch) == _whole(html, monkeypatch)


def test_a_long_article_reads_the_same_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PARSE_TAGS the markup is parsed in pieces; captions, scripts and small print that
    straddle a cut are still dropped, and each block is still a line."""
    block = ("<div class=story><p>韩国<b>召见</b>俄罗斯大使 &amp; <i>NATO</i></p>"
             "<figure><img src=x.jpg><figcaption>Photo: <b>AP</b> caption</figcaption></figure>"
             "<script>if (a < b) { document.write('<p>ad</p>') }</script>"
             "<ul><li>one</li><li>two</li></ul><p>Say <small>fine <i>print</i></small> done<br>next"
             "<!-- <p>hidden</p> --></div>")
    html = block * 60
    assert html.count("<") > 3 * PARSE_TAGS and len(list(html_pieces(html))) > 3
    text = html_to_text(html)
    assert text == _whole(html, monkeypatch)
    assert text.split("\n")[:6] == ["韩国召见俄罗斯大使 & NATO", "one", "two", "Say done",
                                     "next", "韩国召见俄罗斯大使 & NATO"]
    assert not re.search(r"caption|ad|fine|hidden|<|>", text)


HOSTILE: list[tuple[str, Callable[[int], str], bool]] = [
    # (what, markup of about n `<`, whether the paragraph after it is text)
    ("nested div", lambda n: "<div>" * n, True),
    ("formatting with attributes", lambda n: "".join(f"<b id={i}>" for i in range(n)), True),
    ("nested lists", lambda n: "<ul><li>" * (n // 2), True),
    ("misnested b and div", lambda n: "<b><div></b>" * (n // 3), True),
    ("formatting reopened", lambda n: "".join(
        f"<div><b id={i}><i id={i}><u id={i}></div>x" for i in range(n // 5)), True),
    ("font left open", lambda n: "<font color=red>x</p>" * (n // 2), True),
    ("unmatched end tags", lambda n: "<div>" * (n // 2) + "</x>" * (n // 2), True),
    ("a comment left open", lambda n: "<!--" + "<div>" * n, False),
    ("a script left open", lambda n: "<script>" + "<div>" * n, False),
    ("tags in a quoted attribute", lambda n: '<a title="' + "<div>" * n + '">', True),
    ("an attribute named =", lambda n: '<a ="' + "<div>" * n + '">', True),
    ("a tag left open", lambda n: "<br" * n, True),  # one tag, named `br<br<br...<p`
    ("select", lambda n: "<div><select>" * (n // 2), True),
    ("tables", lambda n: "<table><td>" * (n // 2), True),
    ("svg", lambda n: "<svg>" + "<div>" * n, True),  # a `<div>` ends the svg
    ("a double-escaped script", lambda n: "<script><!--<script></script>--></script>"
                                          + "<div>" * n, True),
    ("a long tag name", lambda n: "<x" + "y" * 100_000 + ">" + "<div>" * n, True),
]


@pytest.mark.parametrize(("make", "shown"), [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_markup_reaches_the_parser_in_bounded_pieces(
        make: Callable[[int], str], shown: bool) -> None:
    """However markup nests, no piece handed to the parser holds more than MOST_PER_PIECE
    `<` (so building its tree is bounded), and the paragraph after it reads as one parse
    would read it."""
    html = make(20_000) + "<p>朝鲜派兵</p>"
    pieces = [markup for markup, _ in html_pieces(html)]
    assert max(piece.count("<") for piece in pieces) <= MOST_PER_PIECE
    assert len(pieces) <= 2 * html.count("<") // PARSE_TAGS + 2
    assert html_to_text(html).endswith("朝鲜派兵") == shown


_SOUP = ("<div>", "<b id=1>", "<!--", "-->", "<script>", "</script>", "<table>", "<td>",
         '<a title="', '">', "<title>", "</title>", "<svg>", "<![CDATA[", "]]>", "<select>",
         "<template>", "<", ">", "<br", "x", "<p>", "</p>", "<plaintext>", "<textarea>", "<!x",
         "<?", "</ ", "<noscript>", "<a<b>", "<pre>")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SOUP), st.sampled_from((1, 3, 50, 400))),
                max_size=40))
def test_any_tag_soup_reaches_the_parser_in_bounded_pieces(parts: list[tuple[str, int]]) -> None:
    """Runs of tags, comments, raw text and stray `<` in any order never put more than
    MOST_PER_PIECE `<` in one parse."""
    html = "".join(token * times for token, times in parts)
    assert max(markup.count("<") for markup, _ in html_pieces(html)) <= MOST_PER_PIECE
    html_to_text(html)


@pytest.mark.parametrize(("html", "text"), [
    ("<div>" * 30_000 + "朝鲜派兵", "朝鲜派兵"),
    ("<b><div></b>" * 10_000 + "朝鲜派兵", "朝鲜派兵"),
    ("<ul><li>" * 10_000 + "朝鲜派兵", "朝鲜派兵"),
    ("<p>a" + " " * 300_000 + "b", "a b"),  # a run of white space without a line break
    ("<p>a" + "\x0b" * 300_000 + "b", "a" + "\x0b" * 300_000 + "b"),  # kept by clean()
    ("<br" * 100_000, ""),  # `<br` without `>`: one tag, unterminated
    ("<small>" + "<small>x</small>" * 2_000 + "</small>朝鲜", "朝鲜"),
])
def test_hostile_markup_gives_the_text_one_parse_gives(html: str, text: str) -> None:
    """Deep nesting, misnesting, long white space and tags left open read as a browser
    would read them."""
    assert html_to_text(html) == text


async def test_a_feed_item_nested_100000_deep_comes_through(srv: FeedServer) -> None:
    """An RSS item whose description is `&lt;div&gt;` 100,000 times (1.1 MB) is fetched and
    read into an article with its text, and the item after it too."""
    url = srv.add("/deep.xml", rss([
        {"title": "deep", "link": "https://example.com/a",
         "description": "<div>" * 100_000 + "朝鲜派兵"},
        {"title": "plain", "link": "https://example.com/b", "description": "<p>派兵</p>"}]))
    async with Fetcher(timeout=10, max_bytes=10 * 2**20) as fetcher:
        result = await fetcher.fetch(url, feed_id="deep")
    assert len(result.content) > 1_100_000 and b"&lt;div&gt;" in result.content
    articles = await parse_feed_async(result.content, feed=FeedSpec(id="deep", url=url),
                                      url=result.url, content_type=result.content_type)
    assert [(a.title, a.text) for a in articles] == [("deep", "朝鲜派兵"), ("plain", "派兵")]


# --- properties ------------------------------------------------------------------------------

_WORDS = st.text(alphabet=st.sampled_from("ab 中文&<>\"'\n\t"), max_size=12).map(
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
_INLINE = ("span", "b", "i", "em", "small", "a", "code")
_BLOCKS = ("div", "p", "blockquote", "section", "h2", "figcaption")
_VOIDS = ("<br>", "<img src=x>", "<!-- <p>c</p> -->")


@st.composite
def _inline(draw: st.DrawFn, depth: int = 0, *, in_link: bool = False) -> str:
    """Text and inline elements, well nested (no link in a link)."""
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        tag = draw(st.sampled_from(_INLINE)) if depth < 4 and draw(st.booleans()) else None
        if tag is None or (tag == "a" and in_link):
            parts.append(draw(st.one_of(_WORDS, st.sampled_from(_VOIDS))))
        else:
            inner = draw(_inline(depth + 1, in_link=in_link or tag == "a"))
            parts.append(f"<{tag}>{inner}</{tag}>")
    return "".join(parts)


@st.composite
def _blocks(draw: st.DrawFn, depth: int = 0) -> str:
    """Well-formed block markup: blocks, lists, tables, scripts, inline runs."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("block", "inline", "list", "table", "script", "p")))
        if kind == "block" and depth < 5:
            tag = draw(st.sampled_from(("div", "blockquote", "section", "figure")))
            parts.append(f"<{tag}>{draw(_blocks(depth + 1))}</{tag}>")
        elif kind == "list" and depth < 5:
            items = draw(st.lists(_blocks(depth + 1), min_size=1, max_size=3))
            parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
        elif kind == "table" and depth < 5:
            cells = draw(st.lists(_inline(), min_size=1, max_size=3))
            parts.append("<table><tr>" + "".join(f"<td>{c}</td>" for c in cells)
                         + "</tr></table>")
        elif kind == "script":
            parts.append("<script>if (a<b) x('<p>no</p>')</script>")
        else:
            tag = draw(st.sampled_from(_BLOCKS))
            parts.append(f"<{tag}>{draw(_inline())}</{tag}>")
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(_blocks(), st.integers(1, 8))
def test_well_formed_markup_reads_the_same_in_any_pieces(html: str, size: int) -> None:
    """Any well-formed markup gives the same text parsed whole or in pieces of any size."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.text, "PARSE_TAGS", size)
        pieces = html_to_text(html)
        patch.setattr(bot.text, "PARSE_TAGS", 10**9)
        assert pieces == html_to_text(html)


_SPACES = st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\u3000\xa0\u2028ab<>/"),
                  max_size=60)


@settings(max_examples=500, deadline=None)
@given(_SPACES)
def test_white_space_runs_collapse_as_before(text: str) -> None:
    """The linear forms of the white-space passes give what `\\s*\\n\\s*` gave."""
    old = re.compile(r"\s*\n\s*")
    assert bot.text._SOURCE_BREAK_RE.sub(" ", text) == old.sub(" ", text)
    assert bot.text._NEWLINES_RE.sub("\n", text) == old.sub("\n", text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("<br>/ p div x\n"), max_size=80))
def test_block_breaks_as_before(html: str) -> None:
    """Line breaks after block ends land where one pass over the whole markup put them."""
    assert bot.text._block_breaks(html) == bot.text._BLOCK_RE.sub(
        lambda m: m.group(0) + "\n", html)
