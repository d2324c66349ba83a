"""The feeds file: which feeds to poll, validated at start with file:line positions.

    feeds:
      - url: https://example.org/rss.xml   # an http(s) feed
        outlet: VOA                         # optional: name shown to users
        interval: 300                       # optional: seconds between polls (> 0)
        language: zh                        # optional
      - path: seeds/                        # a local folder of seed-format files
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.errors import ConfigError
from bot.models import FeedSpec

DEFAULT_INTERVAL = 300.0
_KEYS = {"url", "path", "outlet", "interval", "language"}


def feed_id(location: str) -> str:
    """A short stable id for a feed URL or folder."""
    return hashlib.blake2b(location.encode(), digest_size=6).hexdigest()


def load_feeds(file: Path) -> list[FeedSpec]:
    """Every feed listed in `file`; relative folder paths are taken from the file's folder."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the feeds file: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    entries = (data or {}).get("feeds") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: expected a list under 'feeds'")
    feeds = [_feed(entry, file, n) for n, entry in enumerate(entries, 1)]
    ids = [f.id for f in feeds]
    if len(set(ids)) != len(ids):
        dup = next(f for f in feeds if ids.count(f.id) > 1)
        raise ConfigError(f"{file}: feed {dup.location} is listed twice")
    return feeds


def _feed(entry: Any, file: Path, number: int) -> FeedSpec:
    where = f"{file}: feed #{number}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with 'url' or 'path'")
    if unknown := set(entry) - _KEYS:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    url, path = entry.get("url"), entry.get("path")
    if (url is None) == (path is None):
        raise ConfigError(f"{where}: give exactly one of 'url' or 'path'")
    interval = entry.get("interval", DEFAULT_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise ConfigError(f"{where}: interval must be a positive number of seconds")
    outlet, language = entry.get("outlet"), entry.get("language")
    if url is not None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") \
                or not urlsplit(url).hostname:
            raise ConfigError(f"{where}: url must be an http(s) URL, got {url!r}")
        location = url
    else:
        if not isinstance(path, str):
            raise ConfigError(f"{where}: path must be a folder path")
        resolved = (file.parent / path).resolve()
        if not resolved.exists():
            raise ConfigError(f"{where}: folder {path} does not exist")
        location = path = str(resolved)
    return FeedSpec(id=feed_id(location), url=url, path=path,
                    outlet=str(outlet) if outlet else None, interval=float(interval),
                    language=str(language) if language else None)
