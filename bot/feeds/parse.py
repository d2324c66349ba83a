"""RSS/Atom bytes -> Articles with feedparser; plain text, UTC times, Chinese date forms.

Dates: feedparser reads `CST` as US Central (-06:00) and misreads `2025年03月01日 08:30`, so the
raw `published`/`updated` strings are read here first. In a feed whose language starts with
`zh`, `CST` is China Standard Time and a date without a zone is UTC+8; elsewhere zoneless
dates are UTC and feedparser's reading of everything else stands. No global date handler is
registered, so other users of feedparser in the process are unaffected.
"""

from __future__ import annotations

import asyncio
import calendar
import io
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.errors import ParseError
from bot.feeds.outlets import outlet_from_url
from bot.models import Article, FeedSpec
from bot.text import html_to_text

CHINA_TZ = timezone(timedelta(hours=8), "CST")
US_CENTRAL_TZ = timezone(timedelta(hours=-6), "CST")
MAX_FUTURE = timedelta(days=1)

# 2025-03-01 08:30:00, 2025/3/1 8:30, 2025年03月01日 08时30分, each with an optional zone.
_LOCAL_DATE_RE = re.compile(
    r"^\s*(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<h>\d{1,2})\s*[:时時]\s*(?P<mi>\d{1,2})"
    r"(?:\s*[:分]\s*(?P<s>\d{1,2})(?:\.\d+)?\s*秒?)?\s*分?)?"
    r"\s*(?P<tz>CST|UTC|GMT|Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_CST_RE = re.compile(r"\bCST\b", re.IGNORECASE)


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
        outlet=feed.outlet or outlet_from_url(link or _resolve(base, None)),
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


def parse_feed(content: bytes, *, feed: FeedSpec, url: str | None = None,
               content_type: str | None = None) -> list[Article]:
    """The articles of an RSS/Atom document; raises ParseError if it is not a feed."""
    parsed = _feedparse(content, feed=feed, url=url, content_type=content_type)
    language = feed.language or parsed.feed.get("language") or None
    base = url or feed.url
    now = datetime.now(UTC)
    articles = [a for a in (_to_article(entry, feed=feed, base=base, language=language, now=now)
                            for entry in parsed.entries) if a is not None]
    if not articles and parsed.get("bozo"):  # broken XML that yielded nothing usable
        raise ParseError(feed.id, f"malformed feed ({parsed.get('bozo_exception')})",
                         kind="parse")
    return articles


async def parse_feed_async(content: bytes, *, feed: FeedSpec, url: str | None = None,
                           content_type: str | None = None) -> list[Article]:
    """parse_feed in a worker thread, since feedparser blocks the event loop."""
    return await asyncio.to_thread(parse_feed, content, feed=feed, url=url,
                                   content_type=content_type)
