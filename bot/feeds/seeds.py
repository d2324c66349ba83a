"""The seed-file format: `<!--epoch-millis-->`, `[title](url)`, a `------` rule, HTML body.

A file without that header (like seed 003) takes its first line as the title and has no URL
or date. A stamp more than a day ahead is no date either (as in feeds, bot/feeds/parse.py).
Files are read in name order; each becomes one `Article`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import ParseError
from bot.feeds.dates import MAX_FUTURE
from bot.feeds.outlets import outlet_from_url
from bot.models import Article
from bot.text import clean, html_to_text

_STAMP_RE = re.compile(r"^<!--\s*(\d{10,14})\s*-->\s*$")
_LINK_RE = re.compile(r"^\[(?P<title>.*)\]\((?P<url>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)\s*$")
_RULE_RE = re.compile(r"^-{3,}\s*$")
SEED_SUFFIXES = (".txt", ".md", ".html")


def parse_seed(text: str, *, path: str | None = None, feed_id: str = "",
               outlet: str | None = None) -> Article:
    """Read one seed file's text into an Article; raises ParseError if it has no title."""
    lines = text.lstrip("\ufeff").splitlines()
    published: datetime | None = None
    url: str | None = None
    if lines and (stamp := _STAMP_RE.match(lines[0])):
        when = datetime.fromtimestamp(int(stamp.group(1)) / 1000, tz=UTC)
        published = when if when <= datetime.now(UTC) + MAX_FUTURE else None  # else undated
        lines = lines[1:]
    link = _LINK_RE.match(lines[0]) if lines else None
    if link:
        title, url = link.group("title"), link.group("url") or None
        body = lines[2:] if len(lines) > 1 and _RULE_RE.match(lines[1]) else lines[1:]
    else:
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            raise ParseError(path or feed_id, "empty seed file", kind="parse")
        title, body = lines[first], lines[first + 1:]
    title = clean(html_to_text(title))
    if not title:
        raise ParseError(path or feed_id, "seed file has no title", kind="parse")
    return Article(
        outlet=outlet or outlet_from_url(url),
        title=title,
        text=html_to_text("\n".join(body)),
        url=url,
        published=published,
        feed_id=feed_id,
        path=path,
    )


def read_seed_folder(folder: Path, *, feed_id: str = "", outlet: str | None = None,
                     progress: Callable[[int, int], None] | None = None
                     ) -> tuple[list[Article], list[ParseError]]:
    """Every seed file in `folder` (or the one file `folder` names), with per-file errors;
    `progress(files read, files)` is called after each file."""
    files = [folder] if folder.is_file() else sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in SEED_SUFFIXES)
    articles: list[Article] = []
    errors: list[ParseError] = []
    for n, file in enumerate(files, 1):
        try:
            text = file.read_text(encoding="utf-8")
            articles.append(parse_seed(text, path=str(file), feed_id=feed_id, outlet=outlet))
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ParseError(str(file), f"unreadable seed file: {exc}", kind="parse"))
        except ParseError as exc:
            errors.append(exc)
        if progress is not None:
            progress(n, len(files))
    return articles, errors
