"""parse_feed: RSS/Atom bytes to Articles, dates in Chinese and English feeds, non-feeds."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.feeds.dates import MIN_DATE, parse_date
from bot.feeds.parse import parse_document, parse_feed, parse_feed_async
from bot.models import FeedSpec
from tests.feedserver import atom, rss

FEED = FeedSpec(id="test", url="https://www.voachinese.com/api/feed.xml")


def _one_date(pub: str | None, *, feed_language: str | None = None,
              spec_language: str | None = None) -> datetime | None:
    """The published time parse_feed gives a one-item RSS feed with this pubDate."""
    item = {"title": "t", "link": "https://www.voachinese.com/a/1.html"}
    if pub is not None:
        item["pubDate"] = pub
    spec = FeedSpec(id="t", url=FEED.url, language=spec_language)
    [article] = parse_feed(rss([item], language=feed_language), feed=spec)
    return article.published


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC datetime, for the tables below."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


DATE_CASES = [
    # (pubDate, feed <language>, FeedSpec.language, expected UTC time)
    ("Sat, 01 Mar 2025 08:30:00 CST", "zh-cn", None, _utc(2025, 3, 1, 0, 30)),
    ("Sat, 01 Mar 2025 08:30:00 CST", None, "zh-TW", _utc(2025, 3, 1, 0, 30)),
    ("Sat, 01 Mar 2025 08:30:00 CST", "en-us", None, _utc(2025, 3, 1, 14, 30)),
    ("Sat, 01 Mar 2025 08:30:00 CST", None, None, _utc(2025, 3, 1, 14, 30)),
    ("Sat, 01 Mar 2025 08:30:00 GMT", "zh-cn", None, _utc(2025, 3, 1, 8, 30)),
    ("Sat, 01 Mar 2025 08:30:00 +0900", "zh-cn", None, _utc(2025, 2, 28, 23, 30)),
    ("2025年03月01日 08:30", "zh-cn", None, _utc(2025, 3, 1, 0, 30)),
    ("2025年3月1日", "zh-cn", None, _utc(2025, 2, 28, 16, 0)),
    ("2025年03月01日 08:30", "en", None, _utc(2025, 3, 1, 8, 30)),
    ("2025-03-01 08:30:00", "zh-cn", None, _utc(2025, 3, 1, 0, 30)),
    ("2025-03-01 08:30:00", "en", None, _utc(2025, 3, 1, 8, 30)),
    ("2025-03-01 08:30", "zh", None, _utc(2025, 3, 1, 0, 30)),
    ("2025-03-01 08:30:00 CST", "zh-cn", None, _utc(2025, 3, 1, 0, 30)),
    ("2025-03-01T08:30:00+08:00", "en", None, _utc(2025, 3, 1, 0, 30)),
    ("2025-03-01T08:30:00Z", "zh-cn", None, _utc(2025, 3, 1, 8, 30)),
    (None, "zh-cn", None, None),
    ("", "en", None, None),
    ("not a date at all", "en", None, None),
    ("2025年13月45日", "zh-cn", None, None),
    ("Tue, 01 Jan 2999 00:00:00 GMT", "en", None, None),
    ("2999-01-01 00:00", "zh-cn", None, None),
    # impossible dates: before 1970-01-02, past the calendar, zones no place has, misread years
    ("0001-01-01T00:00:00Z", "en", None, None),
    ("0001-01-01 00:00", "zh-cn", None, None),
    ("9999-12-31T23:59:59+14:00", "en", None, None),
    ("9999-12-31T23:59:59-14:00", "zh-cn", None, None),
    ("Sun, 31 Dec 0000", "en", None, None),
    ("Sat, 01 Jan 0001 00:00:00 +1400", "en", None, None),
    ("-0001-01-01T00:00:00Z", "en", None, None),
    ("Mon, 01 Jan 0001 00:00:00 CST", "zh-cn", None, None),
    ("Thu, 01 Jan 1970 00:00:00 GMT", "en", None, None),
    ("Mon, 21 Oct 2024 11:00:00 +9999", "en", None, None),
    ("Mon, 21 Oct 2024 11:00:00 +1500", "en", None, None),
    ("2024-10-21T11:00:00+99:00", "zh-cn", None, None),
    ("2024-10-21T11:00:00+14:00", "en", None, _utc(2024, 10, 20, 21, 0)),
    ("2024-10-21T11:00:00-12:00", "en", None, _utc(2024, 10, 21, 23, 0)),
    ("Mon, 21 Oct 24 11:00:00 +0900", "en", None, _utc(2024, 10, 21, 2, 0)),
    ("Tue, 31 Dec 2024 23:00:00 -0500", "en", None, _utc(2025, 1, 1, 4, 0)),
]


@pytest.mark.parametrize(("pub", "feed_language", "spec_language", "expected"), DATE_CASES)
def test_dates(pub: str | None, feed_language: str | None, spec_language: str | None,
               expected: datetime | None) -> None:
    """Each pubDate form becomes the expected UTC time, or None when missing, bad or future."""
    assert _one_date(pub, feed_language=feed_language, spec_language=spec_language) == expected


def test_date_within_a_day_ahead_is_kept() -> None:
    """A date a few hours in the future (clock skew) is kept; one over a day ahead is dropped."""
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    later = soon + timedelta(days=2)
    assert _one_date(soon.strftime("%Y-%m-%dT%H:%M:%SZ")) == soon
    assert _one_date(later.strftime("%Y-%m-%dT%H:%M:%SZ")) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=40)),
       st.one_of(st.none(), st.tuples(*[st.integers(-10**7, 10**7)] * 9).map(time.struct_time)),
       st.booleans())
def test_parse_date_never_raises_nor_gives_an_impossible_date(
        raw: str | None, parsed: time.struct_time | None, zh: bool) -> None:
    """parse_date on any string and any 9-tuple gives None or an aware UTC time from
    MIN_DATE on."""
    when = parse_date(raw, parsed, zh=zh)
    assert when is None or (when.tzinfo is UTC and when >= MIN_DATE)


def test_parse_date_is_utc_aware() -> None:
    """parse_date returns aware UTC datetimes."""
    when = parse_date("2025年03月01日 08:30", zh=True)
    assert when is not None and when.tzinfo is UTC


def test_atom_updated_used_when_no_published() -> None:
    """An Atom entry with only <updated> takes that as its time."""
    body = atom([{"title": "t", "link": "https://www.dw.com/a", "updated": "2024-10-21T08:00:00Z"}])
    [article] = parse_feed(body, feed=FEED)
    assert article.published == _utc(2024, 10, 21, 8, 0)


def test_references_to_no_character_become_replacement_characters() -> None:
    """`&#xD800;` (a lone surrogate) or a reference past U+10FFFF used to make feedparser give
    up on the whole feed; now such a reference reads as U+FFFD and the feed's items all come
    through, valid references (CJK written as references, emoji) unchanged."""
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
            "<item><title>朝鲜 &#xD800; &#x671D;&#40092; &#xdfff;</title><link>https://a/1</link>"
            "<description>a &#55296; &#57343; &#1114112; &#x110000; &#x1F600; &#57344; b"
            "</description></item><item><title>second</title><link>https://a/2</link></item>"
            "</channel></rss>").encode()
    first, second = parse_feed(body, feed=FEED)
    assert first.title == "朝鲜 \ufffd 朝鲜 \ufffd" and second.title == "second"
    assert first.text == "a \ufffd \ufffd \ufffd \ufffd 😀 \ue000 b"


def test_bare_ampersand_still_yields_entries() -> None:
    """A feed that is not well-formed XML because of a bare & still yields its entries."""
    body = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>News & more</title>"
            b"<item><title>Tom & Jerry</title><link>https://www.bbc.com/a</link></item>"
            b"<item><title>Second</title><description>x & y</description></item>"
            b"</channel></rss>")
    articles = parse_feed(body, feed=FEED)
    assert [a.title for a in articles] == ["Tom & Jerry", "Second"]
    assert articles[1].text == "x & y"


def test_html_in_title_and_summary_becomes_text() -> None:
    """Markup in titles and summaries is reduced to plain text without scripts or images."""
    body = rss([{"title": "<b>Bold</b> &amp; <i>brave</i>",
                 "description": "<p>One<br/>two</p><script>alert(1)</script>"
                                "<img src='x.png'/><p>three &lt; four</p>"}])
    [article] = parse_feed(body, feed=FEED)
    assert article.title == "Bold & brave"
    assert article.text == "One\ntwo\nthree < four"


def test_content_preferred_over_summary() -> None:
    """The full content (content:encoded) is the text when present, not the description."""
    body = rss([{"title": "t", "description": "short", "content": "<p>the full story</p>"}])
    [article] = parse_feed(body, feed=FEED)
    assert article.text == "the full story"


def test_relative_links_resolved_against_feed_url() -> None:
    """A relative item link is resolved against the URL the feed was fetched from."""
    body = rss([{"title": "a", "link": "/a/story-1.html"}, {"title": "b", "link": "b.html"}])
    articles = parse_feed(body, feed=FeedSpec(id="x"), url="https://www.dw.com/zh/rss/feed")
    assert [a.url for a in articles] == ["https://www.dw.com/a/story-1.html",
                                         "https://www.dw.com/zh/rss/b.html"]
    assert {a.outlet for a in articles} == {"DW"}


def test_relative_links_fall_back_to_feed_spec_url() -> None:
    """Without a fetch URL, relative links resolve against FeedSpec.url."""
    [article] = parse_feed(rss([{"title": "a", "link": "/a/1.html"}]), feed=FEED)
    assert article.url == "https://www.voachinese.com/a/1.html" and article.outlet == "VOA"


def test_entry_without_title_or_text_is_skipped() -> None:
    """An entry with neither title nor text is dropped; one with only text is kept."""
    body = rss([{"link": "https://www.bbc.com/1"}, {"title": "  ", "description": "<p> </p>"},
                {"description": "only text", "link": "https://www.bbc.com/3"}])
    articles = parse_feed(body, feed=FEED)
    assert [(a.title, a.text) for a in articles] == [("", "only text")]


def test_feed_spec_outlet_and_language_win() -> None:
    """FeedSpec's outlet and language override the URL's outlet and the feed's <language>."""
    spec = FeedSpec(id="rfi", url=FEED.url, outlet="RFI", language="zh-hant")
    [article] = parse_feed(rss([{"title": "t", "link": "https://www.voachinese.com/a"}],
                               language="en"), feed=spec)
    assert (article.outlet, article.language, article.feed_id) == ("RFI", "zh-hant", "rfi")


def test_unknown_host_is_its_registered_domain() -> None:
    """An entry on a host no outlet owns gets the host's registered domain as its outlet."""
    [article] = parse_feed(rss([{"title": "t", "link": "https://blog.example.org/p"}]),
                           feed=FeedSpec(id="x"))
    assert article.outlet == "example.org" and article.language == "en"


def test_entry_without_any_link_is_unknown_outlet() -> None:
    """An entry with no link, in a feed read without a URL, gets outlet `unknown`."""
    [article] = parse_feed(rss([{"title": "t"}]), feed=FeedSpec(id="x"))
    assert article.outlet == "unknown"


def test_valid_empty_feed_is_no_articles() -> None:
    """A well-formed feed with no items parses to an empty list."""
    assert parse_feed(rss([]), feed=FEED) == []


def test_valid_empty_feed_fetched_without_a_content_type_is_no_articles() -> None:
    """An empty, untitled channel from a response without a Content-Type is no articles, not
    a parse error; an HTML page from such a response is still no feed."""
    assert parse_feed(rss([], title=""), feed=FEED, url=FEED.url, content_type=None) == []
    with pytest.raises(ParseError):
        parse_feed(b"<html><body>Hi</body></html>", feed=FEED, url=FEED.url)


def test_items_over_the_cap_keep_the_newest_in_document_order() -> None:
    """With max_items=3, the three newest dated items stay, in their document order, before
    any undated one; `cut` counts the rest."""
    items = [{"title": "undated"}, *({"title": f"day {d}", "pubDate": f"2024-10-{d:02d} 08:00"}
                                     for d in (3, 9, 1, 7, 5))]
    parsed = parse_document(rss(items), feed=FEED, max_items=3)
    assert [a.title for a in parsed.articles] == ["day 9", "day 7", "day 5"]
    assert parsed.cut == 3
    assert parse_document(rss(items), feed=FEED, max_items=6).cut == 0


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
    b"<html><body><a href='/feed'>feed</a></body></html>",
    b"",
    b"\x00\xff\xfe garbage",
    b"{\"items\": []}",
    b"/etc/passwd",
])
def test_not_a_feed_is_parse_error(body: bytes) -> None:
    """HTML pages, JSON, garbage, empty bodies and file-name-like bytes raise ParseError."""
    with pytest.raises(ParseError) as info:
        parse_feed(body, feed=FEED, content_type="text/html")
    assert info.value.kind == "parse" and info.value.feed == "test"


def test_feed_served_as_text_html_still_parses() -> None:
    """A real RSS feed with a wrong text/html Content-Type still yields its entries."""
    [article] = parse_feed(rss([{"title": "t"}]), feed=FEED, content_type="text/html")
    assert article.title == "t"


async def test_async_parse_matches_sync() -> None:
    """parse_feed_async returns what parse_feed returns."""
    body = rss([{"title": "a", "pubDate": "2025年03月01日 08:30"}], language="zh-cn")
    assert await parse_feed_async(body, feed=FEED) == parse_feed(body, feed=FEED)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    """parse_feed on arbitrary bytes returns articles or raises ParseError, nothing else."""
    with contextlib.suppress(ParseError):
        parse_feed(body, feed=FEED)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "title": st.text(max_size=40), "description": st.text(max_size=80),
    "link": st.text(max_size=30), "pubDate": st.text(max_size=30)}), max_size=4),
    st.sampled_from(["zh-cn", "en", None]))
def test_arbitrary_item_fields_raise_only_parse_error(items: list[dict[str, str]],
                                                      language: str | None) -> None:
    """An RSS document with arbitrary text in its items parses or raises ParseError only."""
    body = rss(items, language=language)
    try:
        articles = parse_feed(body, feed=FEED)
    except ParseError:
        return
    assert all(a.published is None or a.published.tzinfo is UTC for a in articles)
