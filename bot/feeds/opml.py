"""OPML, the subscription lists feed readers import and export (`newsbot feeds import|export`).

Import reads every `<outline>` that has an `xmlUrl`, in up to MAX_DEPTH levels of folders
(an outline in more refuses the file, with a ConfigError naming its line): outlines without
one are folders, and their `text` is kept as the feed's folder path. The document is read as
a stream of tags, never built into a tree, so memory grows with the feeds, not the nesting.
The outlet name is the outline's `title`, else its `text` (at most 64 characters; a text
that is only the feed's URL, its host or the outlet its host stands for, like `VOA` for
voachinese.com or `example.com` for feeds.example.com, names nothing new).
Imported feeds are stored like `/feeds add` ones (bot/store/feeds.py `AddedFeeds`): the
service polls them within 30 s, through the same guard as chat-added feeds, so URLs that are
not http(s) or whose host is internal are refused at import (bot/feeds/guard.py
`url_problem`). A feed already present (same id, from the feeds file or added before) is
skipped.

Parsing goes through defusedxml: a document type with entity declarations (the "billion
laughs" bomb) or external references (XXE) is refused with a ConfigError, never expanded.

Export writes OPML 2.0 with one `<outline type="rss">` per URL feed (the feeds file's, then
the added ones); local folders have no URL and are left out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import XMLParser

from bot.errors import ConfigError
from bot.feeds.guard import url_problem
from bot.feeds.outlets import UNKNOWN, outlet_from_url
from bot.feeds.sources import HOST_FAULTS, feed_id
from bot.models import FeedSpec
from bot.store import AddedFeeds

MAX_OPML_BYTES = 20 * 1024 * 1024
MAX_NAME = 64  # as `/feeds add <url> [outlet]` allows
MAX_DEPTH = 64  # levels of folders (outlines in outlines); feed readers nest a few


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
    """The feed outlines of an OPML document, in document order; ConfigError if unreadable,
    not OPML, or with an outline in more than MAX_DEPTH levels of folders."""
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_OPML_BYTES // 2**20} MB")
    reader = _OutlineReader(source)
    parser = XMLParser(target=reader)
    reader.expat = parser.parser
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        raise ConfigError(f"{source}: refused: the document declares entities or external "
                          f"references ({type(exc).__name__})") from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise ConfigError(f"{source}:{line}:{column + 1}: not well-formed XML: {exc}") from exc
    if not reader.body_seen:
        raise ConfigError(f"{source}: no <body> element")
    return reader.feeds


class _OutlineReader:
    """The parser's target: collects feed outlines from start and end tags, keeping only the
    open elements' kinds and folder paths (no tree)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.expat: Any = None  # the parser's expat reader, for line numbers
        self.feeds: list[OpmlFeed] = []
        self.open: list[str] = []  # the kind of each open element (see `start`)
        self.paths: list[tuple[str, ...]] = [()]  # the folder path in each open folder
        self.depth = 0  # open outlines (the folders a new outline is in)
        self.body_seen = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        """Open an element: the root (which must be <opml>), its first <body>, an outline in
        the body or in outlines (a feed, a named folder or an unnamed one), or one skipped
        with all it holds."""
        parent, name = (self.open[-1] if self.open else None), _local(tag)
        if parent is None and name != "opml":
            raise ConfigError(f"{self.source}: not OPML (the root element is <{name}>)")
        if parent is None:
            kind = "root"
        elif parent == "root":
            kind = "body" if name == "body" and not self.body_seen else "skip"
            self.body_seen = self.body_seen or kind == "body"
        elif parent in ("body", "feed", "folder", "group") and name == "outline":
            kind = self._outline({k.lower(): v for k, v in attrib.items()})
        else:
            kind = "skip"
        self.open.append(kind)

    def _outline(self, attrs: dict[str, str]) -> str:
        """Take in one outline; its kind."""
        if self.depth >= MAX_DEPTH + 1:  # (inside MAX_DEPTH + 1 outlines already)
            line, column = self.expat.CurrentLineNumber, self.expat.CurrentColumnNumber + 1
            raise ConfigError(f"{self.source}:{line}:{column}: an outline in more than "
                              f"{MAX_DEPTH} levels of folders (the most newsbot reads)")
        self.depth += 1
        if "xmlurl" in attrs:
            url = attrs["xmlurl"].strip()
            self.feeds.append(OpmlFeed(url, _name(attrs, url), self.paths[-1]))
            return "feed"
        label = " ".join((attrs.get("text") or attrs.get("title") or "").split())
        if not label:
            return "group"
        self.paths.append((*self.paths[-1], label))
        return "folder"

    def end(self, tag: str) -> None:
        """Close the innermost open element."""
        kind = self.open.pop()
        self.depth -= kind in ("feed", "folder", "group")
        if kind == "folder":
            self.paths.pop()

    def close(self) -> None:
        """The end of the document (nothing to finish)."""


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
    if key.startswith("feeds.bad_host."):
        reason = HOST_FAULTS[key.removeprefix("feeds.bad_host.")].format(**fields)
        return f"host {fields.get('host', '')} cannot be looked up: {reason}"
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
