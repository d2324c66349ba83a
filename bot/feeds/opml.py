"""OPML, the subscription lists feed readers import and export (`newsbot feeds import|export`).

Import reads every `<outline>` that has an `xmlUrl`, at any depth: outlines without one are
folders, and their `text` is kept as the feed's folder path. The outlet name is the outline's
`title`, else its `text` (at most 64 characters; a text that is only the feed's URL, its host
or the outlet its host stands for, like `VOA` for voachinese.com or `example.com` for
feeds.example.com, names nothing new).
Imported feeds are stored like `/feeds add` ones (bot/commands.py `AddedFeeds`): the service
polls them within 30 s, through the same guard as chat-added feeds, so URLs that are not
http(s) or whose host is internal are refused at import. A feed already present (same id,
from the feeds file or added before) is skipped.

Parsing goes through defusedxml: a document type with entity declarations (the "billion
laughs" bomb) or external references (XXE) is refused with a ConfigError, never expanded.

Export writes OPML 2.0 with one `<outline type="rss">` per URL feed (the feeds file's, then
the added ones); local folders have no URL and are left out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.commands import AddedFeeds, url_problem
from bot.errors import ConfigError
from bot.feeds.outlets import UNKNOWN, outlet_from_url
from bot.feeds.sources import feed_id
from bot.models import FeedSpec

MAX_OPML_BYTES = 20 * 1024 * 1024
MAX_NAME = 64  # as `/feeds add <url> [outlet]` allows


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed outline: its URL as written, the outlet name, the folders it sits in."""

    url: str
    name: str | None = None
    folder: tuple[str, ...] = ()


@dataclass(slots=True)
class ImportReport:
    """What an import did: feeds added, skipped as already present, refused with a reason."""

    added: list[FeedSpec] = field(default_factory=list)
    skipped: list[OpmlFeed] = field(default_factory=list)
    invalid: list[tuple[OpmlFeed, str]] = field(default_factory=list)


def parse_opml(data: bytes, *, source: str = "OPML") -> list[OpmlFeed]:
    """The feed outlines of an OPML document, in document order; ConfigError if unreadable."""
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_OPML_BYTES // 2**20} MB")
    try:
        root = fromstring(data)
    except DefusedXmlException as exc:
        raise ConfigError(f"{source}: refused: the document declares entities or external "
                          f"references ({type(exc).__name__})") from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise ConfigError(f"{source}:{line}:{column + 1}: not well-formed XML: {exc}") from exc
    if _local(root.tag) != "opml":
        raise ConfigError(f"{source}: not OPML (the root element is <{_local(root.tag)}>)")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise ConfigError(f"{source}: no <body> element")
    return list(_outlines(body))


def _outlines(body: ET.Element) -> Iterable[OpmlFeed]:
    """Feed outlines in document order, walked with a stack (deep nesting cannot overflow)."""
    stack: list[tuple[Iterator[ET.Element], tuple[str, ...]]] = [(iter(body), ())]
    while stack:
        children, folder = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if _local(child.tag) != "outline":
            continue
        attrs = {k.lower(): v for k, v in child.attrib.items()}
        if "xmlurl" in attrs:
            url = attrs["xmlurl"].strip()
            yield OpmlFeed(url, _name(attrs, url), folder)
            stack.append((iter(child), folder))
        else:
            label = " ".join((attrs.get("text") or attrs.get("title") or "").split())
            stack.append((iter(child), (*folder, label) if label else folder))


def _name(attrs: dict[str, str], url: str) -> str | None:
    """The outlet name: `title`, else `text`, unless that is only the URL, its host or the
    outlet the host already stands for (bot/feeds/outlets.py), which need no name."""
    placeholders = {url, urlsplit(url).hostname or "", outlet_from_url(url)}
    for key in ("title", "text"):
        value = " ".join(attrs.get(key, "").split())
        if value and value not in placeholders:
            return value[:MAX_NAME]
    return None


def _local(tag: str | object) -> str:
    """A tag without its namespace, lower-cased (`{ns}Outline` -> `outline`)."""
    return str(tag).rpartition("}")[2].lower()


async def import_feeds(feeds: Sequence[OpmlFeed], *, added: AddedFeeds,
                       known: Iterable[str], by: str, at: datetime,
                       step: Callable[[], None] = lambda: None) -> ImportReport:
    """Store each valid feed not present yet (ids in `known` or already added); `step` is
    called once per feed (a progress bar)."""
    report = ImportReport()
    present = set(known) | {f.id for f in await added.all()}
    for feed in feeds:
        problem = _problem(feed.url)
        spec = FeedSpec(id=feed_id(feed.url), url=feed.url, outlet=feed.name)
        if problem is not None:
            report.invalid.append((feed, problem))
        elif spec.id in present or not await added.add(spec, by=by, at=at):
            report.skipped.append(feed)
        else:
            report.added.append(spec)
        present.add(spec.id)
        step()
    return report


def _problem(url: str) -> str | None:
    """Why `url` cannot be imported, or None."""
    if not url:
        return "empty xmlUrl"
    problem = url_problem(url)
    if problem is None:
        return None
    key, fields = problem
    if key == "feeds.internal":
        return f"host {fields.get('host', '')} is internal (loopback, private or local)"
    return "not an http(s) URL"


def render_opml(feeds: Iterable[FeedSpec], *, title: str = "newsbot feeds",
                now: datetime | None = None) -> bytes:
    """OPML 2.0 listing every URL feed of `feeds` (folders have no URL and are left out)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC),
                                                               usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        if feed.url is None:
            continue
        site = outlet_from_url(feed.url)
        attrs = {"type": "rss", "text": feed.outlet or (site if site != UNKNOWN else feed.url)}
        if feed.outlet:
            attrs["title"] = feed.outlet
        attrs["xmlUrl"] = feed.url
        if feed.language:
            attrs["language"] = feed.language
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()
