"""RSS/Atom bytes -> Articles with feedparser; plain text, UTC times, Chinese date forms.

Dates are read by bot/feeds/dates.py (Chinese forms, `CST` in zh feeds, impossible dates).

Hostile or broken documents: a DOCTYPE declaring external entities or entities made of other
entities (XXE, "billion laughs") is refused before feedparser sees it (feedparser also strips
such declarations, and expat limits amplification; this is the first of three fences). Bytes
that do not fit the declared encoding: a document that is mostly in it (at least as many good
non-ASCII characters as bad bytes) is read in it with U+FFFD for the bad bytes; otherwise in
the encoding that fits (GB18030 or Big5 for Chinese feeds) rather than as Windows-1252
mojibake; either way with a note for the feed's state. A document read in an encoding it
declares (EUC-JP served as `text/xml`, which RFC 3023 calls US-ASCII) is left as read. A
document served without a Content-Type is read as XML (its declaration, else UTF-8), and
feedparser's notices about media types and encodings never make a valid feed "malformed".
One item that cannot be read is skipped and counted, not the document.

Size: at most `max_items` items of a document are kept, the newest (dated items newest first,
then undated ones in document order); `ParsedFeed.cut` says how many were left out.

Outlets: the feed's `outlet`, else the name an item gives in its `<source>` (RSS text, Atom
`<title>`; plain text on one line, capped), else the site of its link, or of the feed for an
item without one (bot/feeds/outlets.py).

WebSub discovery: the feed-level hub and self links (bot/feeds/links.py).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import feedparser

from bot.errors import ParseError
from bot.feeds.dates import MIN_DATE, published_time
from bot.feeds.encoding import DEFAULT_MEDIA, recode
from bot.feeds.links import FeedLinks, feed_links, resolve
from bot.feeds.outlets import outlet_from_url, outlet_name
from bot.models import Article, FeedSpec
from bot.text import html_to_text

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_ITEMS = 500  # items kept per document unless the caller says (NEWSBOT_MAX_ITEMS_PER_FEED)
MAX_TTL_MINUTES = 7 * 24 * 60
PROLOG_BYTES = 1 << 20

_ENTITY_RE = re.compile(
    rb"<!ENTITY\s+(?:%\s*)?[^\s>]+\s+(?P<value>SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.IGNORECASE)
_SUBSET_END_RE = re.compile(rb"\]\s*>")
_ENTITY_REF_RE = re.compile(rb"[&%][A-Za-z_:][\w.:-]*;")


def _entry_text(entry: Any) -> str:
    """Plain text of the entry's content, else its summary."""
    for content in entry.get("content") or ():
        if text := html_to_text(content.get("value") or ""):
            return text
    return html_to_text(entry.get("summary") or "")


def _source_name(entry: Any) -> str | None:
    """The outlet the entry names as its own source (RSS `<source>` text, Atom `<source>`'s
    `<title>`), cleaned for display; None when it names none."""
    source = entry.get("source")
    name = source.get("title") if isinstance(source, dict) else None
    return (outlet_name(name) or None) if isinstance(name, str) else None


def _outlet(entry: Any, *, feed: FeedSpec, link: str | None, base: str | None) -> str:
    """The feed's outlet, else the item's `<source>`, else the site of its link (or feed)."""
    return (feed.outlet or _source_name(entry)
            or outlet_from_url(link or resolve(base, None)))


def _to_article(entry: Any, *, published: datetime | None, feed: FeedSpec, base: str | None,
                language: str | None) -> Article | None:
    """One feedparser entry as an Article, or None when it has neither title nor text."""
    title = html_to_text(entry.get("title") or "")
    text = _entry_text(entry)
    if not title and not text:
        return None
    link = resolve(entry.get("link"), base)
    return Article(
        outlet=_outlet(entry, feed=feed, link=link, base=base),
        title=title, text=text, url=link, guid=entry.get("id") or None,
        published=published, language=language, feed_id=feed.id,
    )


@dataclass(frozen=True, slots=True)
class _Items:
    """A document's items as Articles: the newest `max_items` readable ones, with how many
    were cut by the cap and how many could not be read (the first reason)."""

    articles: list[Article]
    cut: int = 0
    skipped: int = 0
    reason: str = ""


def _items(entries: list[Any], *, feed: FeedSpec, base: str | None, language: str | None,
           max_items: int) -> _Items:
    """The newest `max_items` entries as Articles; an entry that cannot be read is skipped."""
    now, zh = datetime.now(UTC), (language or "").lower().startswith("zh")
    kept, cut = _newest([(entry, published_time(entry, zh=zh, now=now)) for entry in entries],
                       max_items)
    articles: list[Article] = []
    skipped, reason = 0, ""
    for entry, published in kept:
        try:
            article = _to_article(entry, published=published, feed=feed, base=base,
                                  language=language)
        except Exception as exc:  # one hostile item must not cost the others
            skipped, reason = skipped + 1, reason or f"{type(exc).__name__}: {exc}"
            continue
        if article is not None:
            articles.append(article)
    return _Items(articles, cut, skipped, reason)


def _newest(items: list[tuple[_T, datetime | None]], limit: int
            ) -> tuple[list[tuple[_T, datetime | None]], int]:
    """The `limit` newest of (item, time) pairs in their order, and how many were left out:
    dated items newest first, then undated ones in document order (feeds list newest first)."""
    if len(items) <= limit:
        return items, 0
    rank = sorted(range(len(items)), key=lambda i: (
        items[i][1] is None, -(items[i][1] or MIN_DATE).timestamp(), i))
    return [items[i] for i in sorted(rank[:max(0, limit)])], len(items) - max(0, limit)


def _malformed(parsed: Any) -> bool:
    """True when feedparser found the XML broken; its notices about the media type or the
    encoding (a valid feed served without a Content-Type) do not count."""
    return bool(parsed.get("bozo")) and not isinstance(
        parsed.get("bozo_exception"),
        feedparser.NonXMLContentType | feedparser.CharacterEncodingOverride)


def _feedparse(content: bytes, *, feed: FeedSpec, url: str | None,
               content_type: str | None) -> Any:
    """feedparser's result; ParseError when the bytes are not a feed at all. A response
    without a Content-Type is read as XML (its declared encoding, else UTF-8), not as the
    ISO-8859-1 feedparser assumes for it."""
    headers = {k: v for k, v in (("content-location", url),
                                 ("content-type", content_type or DEFAULT_MEDIA)) if v}
    try:  # BytesIO: feedparser would treat a bare bytes/str as a file name or URL to open
        parsed = feedparser.parse(io.BytesIO(content), sanitize_html=False,
                                  resolve_relative_uris=False, response_headers=headers)
    except Exception as exc:  # feedparser's parsers can raise almost anything on bad input
        raise ParseError(feed.id, f"unreadable feed: {type(exc).__name__}: {exc}",
                         kind="parse") from exc
    if not parsed.entries and not parsed.feed.get("title") and (
            _malformed(parsed) or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS/Atom/RDF root element"
        raise ParseError(feed.id, f"not a feed ({reason})", kind="parse")
    return parsed


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: its articles, the RSS `<ttl>` in seconds, any note for the feed's
    state (encoding repaired, items unreadable), its WebSub links, and how many items the
    cap left out."""

    articles: list[Article]
    ttl: float | None = None
    note: str | None = None
    links: FeedLinks = field(default_factory=FeedLinks)
    cut: int = 0


# Numeric character references that may name no character: four hex digits D800-DFFF, six or
# more hex digits, five decimal digits 55xxx-57xxx, seven or more decimal digits. Only these
# candidates reach the check, so documents written in references (common in CJK feeds) pay
# one regex scan.
_BAD_CHARREF_RE = re.compile(
    rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2}|[0-9a-fA-F]{6,})|0*(5[5-7]\d{3}|\d{7,}));")


def _replace_bad_charref(match: re.Match[bytes]) -> bytes:
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b"&#xFFFD;"
    return match.group(0)


def parse_document(content: bytes, *, feed: FeedSpec, url: str | None = None,
                   content_type: str | None = None, max_items: int = MAX_ITEMS) -> ParsedFeed:
    """Articles, `<ttl>` and note of an RSS/Atom document; ParseError if not a feed.

    Refused outright (ParseError): entity declarations that are external or refer to other
    entities (XXE, "billion laughs"). Character references to no character (a UTF-16
    surrogate such as `&#xD800;`, or beyond U+10FFFF), which would make feedparser give up on
    the whole document, become U+FFFD. Bytes that do not fit the declared encoding are read
    as bot/feeds/encoding.py says, and the note says so. At most `max_items` items are kept,
    the newest; an item that cannot be read is skipped, and the note counts it.
    """
    _refuse_entities(content, feed)
    content = _BAD_CHARREF_RE.sub(_replace_bad_charref, content)
    parsed = _feedparse(content, feed=feed, url=url, content_type=content_type)
    language = feed.language or parsed.feed.get("language") or None
    recoded = recode(content, used=parsed.get("encoding"), language=language,
                     content_type=content_type)
    if recoded is not None and recoded.content is not None:
        parsed = _feedparse(recoded.content, feed=feed, url=url,
                            content_type=recoded.content_type)
    note = recoded.note if recoded is not None else None
    base = url or feed.url
    items = _items(parsed.entries, feed=feed, base=base, language=language,
                   max_items=max_items)
    if not items.articles and _malformed(parsed):  # broken XML that yielded nothing usable
        raise ParseError(feed.id, f"malformed feed ({parsed.get('bozo_exception')})",
                         kind="parse")
    if items.skipped:
        log.warning("feeds: unreadable items skipped", extra={"kv": {
            "feed_id": feed.id, "skipped": items.skipped, "error": items.reason}})
        note = "; ".join(filter(None, (note, f"{items.skipped} unreadable item(s) skipped "
                                             f"({items.reason})"[:300])))
    return ParsedFeed(items.articles, ttl=_ttl(parsed.feed.get("ttl")), note=note,
                      links=feed_links(parsed.feed.get("links"), base), cut=items.cut)


def parse_feed(content: bytes, *, feed: FeedSpec, url: str | None = None,
               content_type: str | None = None) -> list[Article]:
    """The articles of an RSS/Atom document; raises ParseError if it is not a feed."""
    return parse_document(content, feed=feed, url=url, content_type=content_type).articles


async def parse_feed_async(content: bytes, *, feed: FeedSpec, url: str | None = None,
                           content_type: str | None = None) -> list[Article]:
    """parse_feed in a worker thread, since feedparser blocks the event loop."""
    return await asyncio.to_thread(parse_feed, content, feed=feed, url=url,
                                   content_type=content_type)


async def parse_document_async(content: bytes, *, feed: FeedSpec, url: str | None = None,
                               content_type: str | None = None,
                               max_items: int = MAX_ITEMS) -> ParsedFeed:
    """parse_document in a worker thread."""
    return await asyncio.to_thread(parse_document, content, feed=feed, url=url,
                                   content_type=content_type, max_items=max_items)


def _ttl(value: object) -> float | None:
    """RSS `<ttl>` (minutes) in seconds, or None when absent, not a number or not positive."""
    text = str(value or "").strip()
    if not text.isdigit() or int(text) <= 0:
        return None
    return min(int(text), MAX_TTL_MINUTES) * 60.0


def _refuse_entities(content: bytes, feed: FeedSpec) -> None:
    """ParseError if the DOCTYPE declares external entities or entities built of entities."""
    head = content[:PROLOG_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="replace").encode()
    start = head.find(b"<!DOCTYPE")
    if start < 0:
        start = head.find(b"<!doctype")
    if start < 0:
        return
    end = _SUBSET_END_RE.search(head, start)
    for match in _ENTITY_RE.finditer(head, start, end.end() if end else len(head)):
        value = match.group("value")
        if value.upper() in (b"SYSTEM", b"PUBLIC"):
            raise ParseError(feed.id, "refused: the feed declares an external XML entity",
                             kind="parse")
        if _ENTITY_REF_RE.search(value):
            raise ParseError(feed.id, "refused: the feed declares XML entities built of other "
                             "entities (an entity-expansion bomb)", kind="parse")
