"""Polling one feed: read a folder or fetch and parse a URL, recording the feed's health.

A failing feed is marked in the store (error count, last error) and yields no articles; it
never raises, so one broken feed cannot stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from bot.errors import FeedError, ParseError
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import parse_feed_async
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, FeedSpec
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollResult:
    """The articles a poll found, or the error that stopped it."""

    feed: FeedSpec
    articles: tuple[Article, ...] = ()
    error: FeedError | None = None
    not_modified: bool = False
    validators: dict[str, str] | None = None


async def commit_poll(result: PollResult, *, store: Store) -> None:
    """Keep the response's validators once its articles are processed (so none is lost)."""
    if result.validators is not None:
        await store.update_feed_state(result.feed.id, result.validators)


async def poll_feed(feed: FeedSpec, *, store: Store, fetcher: Fetcher) -> PollResult:
    """Poll `feed` once; errors are recorded on the feed and returned, never raised."""
    try:
        if feed.path is not None:
            result = await _read_folder(feed)
        else:
            result = await _fetch(feed, store=store, fetcher=fetcher)
    except FeedError as exc:
        errors = await store.record_feed_error(feed.id, kind=exc.kind, message=str(exc))
        log.warning("feeds: poll failed", extra={"kv": {
            "feed_id": feed.id, "feed_url": feed.location, "kind": exc.kind,
            "errors_in_a_row": errors, "error": str(exc)}})
        return PollResult(feed, error=exc)
    await store.update_feed_state(feed.id, {
        "status": "ok", "errors": 0, "last_poll": time.time(),
        "last_items": len(result.articles), "location": feed.location})
    return result


async def _read_folder(feed: FeedSpec) -> PollResult:
    folder = Path(feed.path or "")
    try:
        articles, errors = await asyncio.to_thread(read_seed_folder, folder, feed_id=feed.id,
                                                   outlet=feed.outlet)
    except OSError as exc:
        raise ParseError(feed.location, f"cannot read folder: {exc}", kind="missing") from exc
    for error in errors:
        log.warning("feeds: skipped a seed file", extra={"kv": {
            "feed_id": feed.id, "error": str(error)}})
    return PollResult(feed, tuple(articles))


async def _fetch(feed: FeedSpec, *, store: Store, fetcher: Fetcher) -> PollResult:
    state = await store.feed_state(feed.id)
    response = await fetcher.fetch(feed.url or "", etag=state.get("etag") or None,
                                   last_modified=state.get("last_modified") or None,
                                   feed_id=feed.id)
    if response.not_modified:
        return PollResult(feed, not_modified=True)
    articles = await parse_feed_async(response.content, feed=feed, url=response.url,
                                      content_type=response.content_type)
    validators = {"etag": response.etag or "", "last_modified": response.last_modified or ""}
    return PollResult(feed, tuple(articles), validators=validators)
