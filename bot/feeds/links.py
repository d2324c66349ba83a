"""A feed's WebSub links: the feed-level `rel="hub"` and `rel="self"` links (Atom `<link>`, RSS
`<atom:link>`; links inside entries are not the feed's) come back as `FeedLinks`, absolute and
http(s) only, for bot/feeds/websub.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit


def resolve(link: str | None, base: str | None) -> str | None:
    """`link` made absolute against `base`; None when missing or not a valid URL."""
    link = (link or "").strip()
    try:
        link = urljoin(base, link) if link and base else link
        urlsplit(link).hostname  # noqa: B018 - raises ValueError on a malformed netloc
    except ValueError:
        return None
    return link or None


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
        href = resolve(link.get("href"), base) if isinstance(link, dict) else None
        if href is None or urlsplit(href).scheme.lower() not in ("http", "https"):
            continue
        rel = str(link.get("rel") or "").lower()
        if rel == "hub" and href not in hubs:
            hubs.append(href)
        elif rel == "self" and self_url is None:
            self_url = href
    return FeedLinks(tuple(hubs), self_url)
