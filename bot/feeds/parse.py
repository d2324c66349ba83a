"""RSS/Atom bytes -> Articles with feedparser; plain text, UTC times, Chinese date forms.

Dates: feedparser reads `CST` as US Central (-06:00) and misreads `2025年03月01日 08:30`, so the
raw `published`/`updated` strings are read here first. In a feed whose language starts with
`zh`, `CST` is China Standard Time and a date without a zone is UTC+8; elsewhere zoneless
dates are UTC and feedparser's reading of everything else stands. No global date handler is
registered, so other users of feedparser in the process are unaffected.

Hostile or broken documents: a DOCTYPE declaring external entities or entities made of other
entities (XXE, "billion laughs") is refused before feedparser sees it (feedparser also strips
such declarations, and expat limits amplification; this is the first of three fences). Bytes
that do not fit the declared encoding are read in the encoding that fits (GB18030 or Big5 for
Chinese feeds) rather than as Windows-1252 mojibake, with a note for the feed's state.

Outlets: the feed's `outlet`, else the name an item gives in its `<source>` (RSS text, Atom
`<title>`; plain text on one line, capped), else the site of its link, or of the feed for an
item without one (bot/feeds/outlets.py).

WebSub discovery: the feed-level `rel="hub"` and `rel="self"` links (Atom `<link>`, RSS
`<atom:link>`; links inside entries are not the feed's) come back as `FeedLinks`, absolute and
http(s) only, for bot/feeds/websub.py.
"""

from __future__ import annotations

import asyncio
import calendar
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.errors import ParseError
from bot.feeds.outlets import outlet_from_url, outlet_name
from bot.models import Article, FeedSpec
from bot.text import html_to_text

CHINA_TZ = timezone(timedelta(hours=8), "CST")
US_CENTRAL_TZ = timezone(timedelta(hours=-6), "CST")
MAX_FUTURE = timedelta(days=1)
MAX_TTL_MINUTES = 7 * 24 * 60
PROLOG_BYTES = 1 << 20

# 2025-03-01 08:30:00, 2025/3/1 8:30, 2025年03月01日 08时30分, each with an optional zone.
_LOCAL_DATE_RE = re.compile(
    r"^\s*(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<h>\d{1,2})\s*[:时時]\s*(?P<mi>\d{1,2})"
    r"(?:\s*[:分]\s*(?P<s>\d{1,2})(?:\.\d+)?\s*秒?)?\s*分?)?"
    r"\s*(?P<tz>CST|UTC|GMT|Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_CST_RE = re.compile(r"\bCST\b", re.IGNORECASE)
_ENTITY_RE = re.compile(
    rb"<!ENTITY\s+(?:%\s*)?[^\s>]+\s+(?P<value>SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.IGNORECASE)
_SUBSET_END_RE = re.compile(rb"\]\s*>")
_ENTITY_REF_RE = re.compile(rb"[&%][A-Za-z_:][\w.:-]*;")
_XML_ENCODING_RE = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def _zone(token: str | None, *, zh: bool) -> timezone:
    """The zone a date's zone token (or its absence) means in a zh or other feed."""
    token = (token or "").upper()
    if token == "CST":
        return CHINA_TZ if zh else US_CENTRAL_TZ
    if token in ("UTC", "GMT", "Z") or (not token and not zh):
        return UTC
    if not token:
        return CHINA_TZ
    sign = -1 if token[0] == "-" else 1
    digits = token[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _local_date(match: re.Match[str], *, zh: bool) -> datetime | None:
    """A datetime from a `_LOCAL_DATE_RE` match, or None when a field is out of range."""
    y, mo, d, h, mi, s = (int(match.group(g) or 0) for g in ("y", "mo", "d", "h", "mi", "s"))
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=_zone(match.group("tz"), zh=zh))
    except ValueError:
        return None


def _struct_to_datetime(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's UTC 9-tuple as an aware datetime, or None."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_date(raw: str | None, parsed: time.struct_time | None = None, *,
               zh: bool = False) -> datetime | None:
    """A feed date string as UTC, given feedparser's reading of it; None if unreadable."""
    if raw and (match := _LOCAL_DATE_RE.match(raw)):
        found = _local_date(match, zh=zh)
    elif raw and zh and _CST_RE.search(raw):
        try:
            found = parsedate_to_datetime(_CST_RE.sub("+0800", raw))
        except (TypeError, ValueError, IndexError):
            found = None
    else:
        found = _struct_to_datetime(parsed)
    if found is None or found.tzinfo is None:
        return None
    return found.astimezone(UTC)


def _published(entry: Any, *, zh: bool, now: datetime) -> datetime | None:
    """The entry's publication (else update) time in UTC; None if absent, bad or future."""
    for key in ("published", "updated"):  # dict.get: skip feedparser's updated->published alias
        when = parse_date(dict.get(entry, key), dict.get(entry, f"{key}_parsed"), zh=zh)
        if when is not None:
            return when if when <= now + MAX_FUTURE else None
    return None


def _entry_text(entry: Any) -> str:
    """Plain text of the entry's content, else its summary."""
    for content in entry.get("content") or ():
        if text := html_to_text(content.get("value") or ""):
            return text
    return html_to_text(entry.get("summary") or "")


def _resolve(link: str | None, base: str | None) -> str | None:
    """`link` made absolute against `base`; None when missing or not a valid URL."""
    link = (link or "").strip()
    try:
        link = urljoin(base, link) if link and base else link
        urlsplit(link).hostname  # noqa: B018 - raises ValueError on a malformed netloc
    except ValueError:
        return None
    return link or None


def _source_name(entry: Any) -> str | None:
    """The outlet the entry names as its own source (RSS `<source>` text, Atom `<source>`'s
    `<title>`), cleaned for display; None when it names none."""
    source = entry.get("source")
    name = source.get("title") if isinstance(source, dict) else None
    return (outlet_name(name) or None) if isinstance(name, str) else None


def _outlet(entry: Any, *, feed: FeedSpec, link: str | None, base: str | None) -> str:
    """The feed's outlet, else the item's `<source>`, else the site of its link (or feed)."""
    return (feed.outlet or _source_name(entry)
            or outlet_from_url(link or _resolve(base, None)))


def _to_article(entry: Any, *, feed: FeedSpec, base: str | None, language: str | None,
                now: datetime) -> Article | None:
    """One feedparser entry as an Article, or None when it has neither title nor text."""
    title = html_to_text(entry.get("title") or "")
    text = _entry_text(entry)
    if not title and not text:
        return None
    link = _resolve(entry.get("link"), base)
    zh = (language or "").lower().startswith("zh")
    return Article(
        outlet=_outlet(entry, feed=feed, link=link, base=base),
        title=title, text=text, url=link, guid=entry.get("id") or None,
        published=_published(entry, zh=zh, now=now),
        language=language, feed_id=feed.id,
    )


def _feedparse(content: bytes, *, feed: FeedSpec, url: str | None,
               content_type: str | None) -> Any:
    """feedparser's result; ParseError when the bytes are not a feed at all."""
    headers = {k: v for k, v in (("content-location", url), ("content-type", content_type)) if v}
    try:  # BytesIO: feedparser would treat a bare bytes/str as a file name or URL to open
        parsed = feedparser.parse(io.BytesIO(content), sanitize_html=False,
                                  resolve_relative_uris=False, response_headers=headers)
    except Exception as exc:  # feedparser's parsers can raise almost anything on bad input
        raise ParseError(feed.id, f"unreadable feed: {type(exc).__name__}: {exc}",
                         kind="parse") from exc
    if not parsed.entries and not parsed.feed.get("title") and (
            parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS/Atom/RDF root element"
        raise ParseError(feed.id, f"not a feed ({reason})", kind="parse")
    return parsed


@dataclass(frozen=True, slots=True)
class FeedLinks:
    """A feed's WebSub links: its hubs (`rel="hub"`, in order) and its own URL (`rel="self"`)."""

    hubs: tuple[str, ...] = ()
    self_url: str | None = None


_LINK_VALUE_RE = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,]*))?)*)')
_LINK_PARAM_RE = re.compile(r';\s*([^;,=\s]+)\s*(?:=\s*(?:"([^"]*)"|([^;,]*)))?')


def header_links(value: str | None, base: str | None) -> FeedLinks:
    """The hub and self links of an HTTP `Link` header (RFC 8288: `<url>; rel="hub"`, several
    values separated by commas, a rel may list several types), absolute, http(s) only."""
    links: list[dict[str, str]] = []
    for match in _LINK_VALUE_RE.finditer(value or ""):
        for param in _LINK_PARAM_RE.finditer(match.group(2)):
            if param.group(1).lower() == "rel":
                rels = (param.group(2) if param.group(2) is not None else param.group(3) or "")
                links += [{"href": match.group(1), "rel": rel} for rel in rels.split()]
                break  # only the first rel parameter counts (RFC 8288, 3.3)
    return feed_links(links, base)


def merged_links(header: FeedLinks, document: FeedLinks) -> FeedLinks:
    """WebSub discovery: the Link header's hubs and self URL if it names them, else the
    document's (the specification has subscribers look at the header first)."""
    return FeedLinks(header.hubs or document.hubs, header.self_url or document.self_url)


def feed_links(links: object, base: str | None) -> FeedLinks:
    """The hub and self links among feedparser's feed-level `links`, absolute, http(s) only."""
    hubs: list[str] = []
    self_url = None
    for link in links if isinstance(links, list) else ():
        href = _resolve(link.get("href"), base) if isinstance(link, dict) else None
        if href is None or urlsplit(href).scheme.lower() not in ("http", "https"):
            continue
        rel = str(link.get("rel") or "").lower()
        if rel == "hub" and href not in hubs:
            hubs.append(href)
        elif rel == "self" and self_url is None:
            self_url = href
    return FeedLinks(tuple(hubs), self_url)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: its articles, the RSS `<ttl>` in seconds, any encoding note, and
    its WebSub links."""

    articles: list[Article]
    ttl: float | None = None
    note: str | None = None
    links: FeedLinks = FeedLinks()


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
                   content_type: str | None = None) -> ParsedFeed:
    """Articles, `<ttl>` and encoding note of an RSS/Atom document; ParseError if not a feed.

    Refused outright (ParseError): entity declarations that are external or refer to other
    entities (XXE, "billion laughs"). Character references to no character (a UTF-16
    surrogate such as `&#xD800;`, or beyond U+10FFFF), which would make feedparser give up on
    the whole document, become U+FFFD. A document whose bytes do not fit its declared encoding
    is read in the encoding that does fit, chosen by the feed's language (GB18030 or Big5 for
    Chinese), instead of feedparser's Windows-1252 fallback, and the note says so.
    """
    _refuse_entities(content, feed)
    content = _BAD_CHARREF_RE.sub(_replace_bad_charref, content)
    parsed = _feedparse(content, feed=feed, url=url, content_type=content_type)
    language = feed.language or parsed.feed.get("language") or None
    note = None
    repaired = _repair_encoding(content, parsed, language=language, content_type=content_type)
    if repaired is not None:
        fixed, note, fixed_type = repaired
        parsed = _feedparse(fixed, feed=feed, url=url, content_type=fixed_type)
    base = url or feed.url
    now = datetime.now(UTC)
    articles = [a for a in (_to_article(entry, feed=feed, base=base, language=language, now=now)
                            for entry in parsed.entries) if a is not None]
    if not articles and parsed.get("bozo"):  # broken XML that yielded nothing usable
        raise ParseError(feed.id, f"malformed feed ({parsed.get('bozo_exception')})",
                         kind="parse")
    return ParsedFeed(articles, ttl=_ttl(parsed.feed.get("ttl")), note=note,
                      links=feed_links(parsed.feed.get("links"), base))


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
                               content_type: str | None = None) -> ParsedFeed:
    """parse_document in a worker thread."""
    return await asyncio.to_thread(parse_document, content, feed=feed, url=url,
                                   content_type=content_type)


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


def _encodings_to_try(language: str | None) -> tuple[str, ...]:
    """Encodings to try, in order, for a feed whose bytes do not fit its declared encoding."""
    lang = (language or "").lower()
    if lang.startswith(("zh-tw", "zh-hk", "zh-mo", "zh-hant")):
        return ("utf-8", "big5", "gb18030")
    if lang.startswith("zh"):
        return ("utf-8", "gb18030", "big5")
    return ("utf-8",)


def _repair_encoding(content: bytes, parsed: Any, *, language: str | None,
                     content_type: str | None) -> tuple[bytes, str, str] | None:
    """(UTF-8 bytes, note, content type) when feedparser fell back from the declared encoding."""
    exc = parsed.get("bozo_exception")
    if not isinstance(exc, feedparser.CharacterEncodingOverride):
        return None
    for encoding in _encodings_to_try(language):
        try:
            text = content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        fixed = _XML_ENCODING_RE.sub(rb"\1\2utf-8\2", text.encode("utf-8"), count=1)
        media = (content_type or "application/xml").split(";", 1)[0].strip()
        return fixed, f"{exc}; read as {encoding}", f"{media}; charset=utf-8"
    return None
