"""The feeds file: which feeds to poll, validated at start with file:line positions.

    feeds:
      - url: https://example.org/rss.xml   # an http(s) feed
        outlet: VOA                         # optional: name shown to users
        interval: 300                       # optional: seconds between polls (> 0)
        language: zh                        # optional
      - path: seeds/                        # a local folder of seed-format files

A URL's host must be a name the fetcher can look up (`host_problem`, also what `/feeds add`
and OPML import check): no empty label (`rss..example.com`), no label over 63 characters,
no name over 253, only letters, digits, `-` and `_`, and valid IDNA (`xn--ls8h.la` spells an
emoji, which IDNA refuses). Errors quote the URL redacted (bot/logs.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from bot.errors import ConfigError
from bot.logs import redact
from bot.models import FeedSpec

DEFAULT_INTERVAL = 300.0
MAX_HOST = 253
MAX_LABEL = 63
_KEYS = {"url", "path", "outlet", "interval", "language"}
_LABEL_RE = re.compile(r"[a-z0-9_-]+")
Lines = dict[str, int]  # an entry's line ("") and the lines of its keys' values


# Why a host name cannot be looked up, by kind: English here, both languages in bot/i18n.py
# (`feeds.bad_host.<kind>`).
HOST_FAULTS = {
    "empty_label": "it has an empty label (two dots in a row, or a leading dot)",
    "too_long": "it is longer than {limit} characters",
    "bad_char": "it contains {char}, which no host name may",
    "long_label": "it has a label longer than {limit} characters",
    "hyphen": "its label {label} starts or ends with a hyphen",
    "idna": "it is not a valid host name ({error})",
}


def host_fault(host: str) -> tuple[str, dict[str, str]] | None:
    """Why the fetcher could not look up `host` (a URL's host name): the kind (a key of
    HOST_FAULTS) and its fields; or None if it can."""
    name = host.strip("[]").removesuffix(".").lower()
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        return None
    except ValueError:
        pass
    if not name or "" in name.split("."):
        return "empty_label", {}
    if name.isascii() and (fault := _ascii_host_fault(name)) is not None:
        return fault
    try:  # as httpx encodes it to send, and decodes `xn--` labels
        url = httpx.URL(f"http://{name}/")
        url.host  # noqa: B018 - decoding an `xn--` label is what raises
        ascii_name = url.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        return "idna", {"error": str(exc)}
    return _ascii_host_fault(ascii_name)


def host_problem(host: str) -> str | None:
    """Why the fetcher could not look up `host`, in English, or None if it can."""
    fault = host_fault(host)
    return None if fault is None else HOST_FAULTS[fault[0]].format(**fault[1])


def _ascii_host_fault(name: str) -> tuple[str, dict[str, str]] | None:
    """Why an ASCII host name is not one DNS can look up, or None."""
    if len(name) > MAX_HOST:
        return "too_long", {"limit": str(MAX_HOST)}
    for label in name.split("."):
        if not _LABEL_RE.fullmatch(label):
            bad = next(c for c in label if not _LABEL_RE.fullmatch(c))
            return "bad_char", {"char": repr(bad)}
        if len(label) > MAX_LABEL:
            return "long_label", {"limit": str(MAX_LABEL)}
        if label.startswith("-") or label.endswith("-"):
            return "hyphen", {"label": repr(label)}
    return None


def url_error(url: object) -> str | None:
    """Why `url` cannot be a feed of the feeds file (an http(s) URL whose host the fetcher
    can look up), or None."""
    if not isinstance(url, str):
        return "it is not a string"
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        return f"it is malformed ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "it is not an http(s) URL with a host"
    problem = host_problem(host)
    return None if problem is None else f"its host {host!r} is not valid: {problem}"


def feed_id(location: str) -> str:
    """A short stable id for a feed URL or folder."""
    return hashlib.blake2b(location.encode(), digest_size=6).hexdigest()


def load_feeds(file: Path) -> list[FeedSpec]:
    """Every feed listed in `file`; relative folder paths are taken from the file's folder."""
    try:
        text = file.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the feeds file: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    entries = (data or {}).get("feeds") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: expected a list under 'feeds'")
    lines = _lines(text)
    feeds = [_feed(entry, file, n, lines[n - 1] if n <= len(lines) else {})
             for n, entry in enumerate(entries, 1)]
    seen: set[str] = set()
    for n, feed in enumerate(feeds, 1):
        if feed.id in seen:
            where = _where(file, n, lines[n - 1] if n <= len(lines) else {})
            raise ConfigError(f"{where}: feed {redact(feed.location)} is listed twice")
        seen.add(feed.id)
    return feeds


def _lines(text: str) -> list[Lines]:
    """For each entry under `feeds`, its line and its keys' lines (1-based); [] if unknown."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    items: list[yaml.Node] = next(
        (value.value for key, value in root.value
         if key.value == "feeds" and isinstance(value, yaml.SequenceNode)), [])
    return [{"": item.start_mark.line + 1,
             **({str(k.value): v.start_mark.line + 1 for k, v in item.value}
                if isinstance(item, yaml.MappingNode) else {})} for item in items]


def _where(file: Path, number: int, lines: Lines, key: str = "") -> str:
    """`feeds.yaml:12: feed #3`: the entry (or its `key`) by line, when known."""
    line = lines.get(key) or lines.get("")
    return f"{file}:{line}: feed #{number}" if line else f"{file}: feed #{number}"


def _feed(entry: Any, file: Path, number: int, lines: Lines) -> FeedSpec:
    where = _where(file, number, lines)
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with 'url' or 'path'")
    if unknown := set(entry) - _KEYS:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    url, path = entry.get("url"), entry.get("path")
    if (url is None) == (path is None):
        raise ConfigError(f"{where}: give exactly one of 'url' or 'path'")
    interval = entry.get("interval", DEFAULT_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise ConfigError(f"{_where(file, number, lines, 'interval')}: interval must be a "
                          "positive number of seconds")
    outlet, language = entry.get("outlet"), entry.get("language")
    if url is not None:
        if (problem := url_error(url)) is not None:
            raise ConfigError(f"{_where(file, number, lines, 'url')}: url "
                              f"{redact(str(url))!r} refused: {problem}")
        location = url
    else:
        if not isinstance(path, str):
            raise ConfigError(f"{where}: path must be a folder path")
        resolved = (file.parent / path).resolve()
        if not resolved.exists():
            raise ConfigError(f"{_where(file, number, lines, 'path')}: folder {path} does not "
                              "exist")
        location = path = str(resolved)
    return FeedSpec(id=feed_id(location), url=url, path=path,
                    outlet=str(outlet) if outlet else None, interval=float(interval),
                    language=str(language) if language else None)
