"""Polling one feed: read a folder or fetch and parse a URL, recording the feed's health.

A failing feed is marked in the store (error count, last error) and yields no articles; it
never raises, so one broken feed cannot stop the others: any exception while reading one feed
(a bug, a library raising what it should not) is that feed's error, of kind `unexpected`.
Errors are stored and logged with URLs redacted (bot/logs.py). A feed that worked is marked
`ok`, with a `warning` when its document needed repair (bytes not in the declared encoding,
unreadable items) and `items_cut` when it had more items than the cap (one log line). A 200
whose body is byte-for-byte the last one processed (servers that ignore conditional GET) is
treated as not modified and not parsed again; the body's hash is kept with the validators.
When to poll next is the engine's business (bot/feeds/engine.py); the result carries what it
needs: the response's cache hints, the RSS `<ttl>`, the failures in a row, the prior state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.errors import FeedError, ParseError
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.links import FeedLinks, header_links, merged_links
from bot.feeds.parse import parse_document_async
from bot.feeds.seeds import read_seed_folder
from bot.logs import redact
from bot.models import Article, FeedSpec
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollResult:
    """The articles a poll found, or the error that stopped it, and what scheduling needs.

    `failures` is the number of failed polls in a row including this one (0 on success);
    `state` is the feed's stored state as it was before this poll; `links` are the WebSub
    links of a document fetched and parsed, from the response's Link header first, else from
    the document (None when there was none to parse); `cut` is how many of its items the
    cap on items per document left out.
    """

    feed: FeedSpec
    articles: tuple[Article, ...] = ()
    error: FeedError | None = None
    not_modified: bool = False
    validators: dict[str, str] | None = None
    response: FetchResult | None = None
    ttl: float | None = None
    note: str | None = None
    failures: int = 0
    state: Mapping[str, str] = field(default_factory=dict)
    links: FeedLinks | None = None
    cut: int = 0


async def commit_poll(result: PollResult, *, store: Store) -> None:
    """Keep the response's validators once its articles are processed (so none is lost)."""
    if result.validators is not None:
        await store.update_feed_state(result.feed.id, result.validators)


async def poll_feed(feed: FeedSpec, *, store: Store, fetcher: Fetcher,
                    guard: bool = False) -> PollResult:
    """Poll `feed` once; errors are recorded on the feed and returned, never raised.

    `guard` (feeds added from chat) refuses hosts that resolve to internal addresses.
    """
    state = {} if feed.path is not None else await store.feed_state(feed.id)
    result = await read_feed(feed, state, fetcher=fetcher, guard=guard)
    if result.error is not None:
        errors = await store.record_feed_error(feed.id, kind=result.error.kind,
                                               message=redact(str(result.error)))
        return replace(result, failures=errors)
    await store.update_feed_state(feed.id, outcome_fields(result))
    return result


async def read_feed(feed: FeedSpec, state: Mapping[str, str], *, fetcher: Fetcher,
                    guard: bool = False) -> PollResult:
    """Fetch and parse `feed` given its stored `state`; writes nothing, never raises.

    On failure `failures` is the stored count plus one, which holds while the caller is the
    only one polling the feed (the engine's lease); `poll_feed` counts atomically instead.
    """
    try:
        if feed.path is not None:
            return await _read_folder(feed)
        return await _fetch(feed, state, fetcher=fetcher, guard=guard)
    except FeedError as exc:
        return _failed(feed, state, exc)
    except Exception as exc:  # anything else reading one feed is still only that feed's error
        first = not int(state.get("errors") or 0)  # the traceback once, not at every retry
        log.error("feeds: unexpected error reading a feed", exc_info=exc if first else None,
                  extra={"kv": {"feed_id": feed.id, "feed_url": redact(feed.location)}})
        return _failed(feed, state, unexpected(feed, exc))


def unexpected(feed: FeedSpec, exc: BaseException) -> FeedError:
    """The feed's error for an exception nothing expected (redacted: it is stored and shown)."""
    return FeedError(feed.id, redact(f"{type(exc).__name__}: {exc}")[:300], kind="unexpected")


def _failed(feed: FeedSpec, state: Mapping[str, str], exc: FeedError) -> PollResult:
    """The result of a failed poll, logged; failures counted from the stored state."""
    failures = int(state.get("errors") or 0) + 1
    log.warning("feeds: poll failed", extra={"kv": {
        "feed_id": feed.id, "feed_url": redact(feed.location), "kind": exc.kind,
        "errors_in_a_row": failures, "error": redact(str(exc))}})
    return PollResult(feed, error=exc, failures=failures, state=state)


def outcome_fields(result: PollResult) -> dict[str, str | int | float]:
    """The feed-state fields that record how a poll went (health for `/status`)."""
    if result.error is not None:
        return {"status": "error", "errors": result.failures,
                "last_error": redact(f"{result.error.kind}: {result.error}")[:500],
                "last_error_at": time.time()}
    return {"status": "ok", "errors": 0, "last_poll": time.time(),
            "last_items": len(result.articles), "location": redact(result.feed.location),
            **({} if result.not_modified else {"warning": result.note or "",
                                               "items_cut": result.cut})}


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


async def _fetch(feed: FeedSpec, state: Mapping[str, str], *, fetcher: Fetcher,
                 guard: bool) -> PollResult:
    response = await fetcher.fetch(feed.url or "", etag=state.get("etag") or None,
                                   last_modified=state.get("last_modified") or None,
                                   feed_id=feed.id, guard=guard)
    if response.not_modified:
        return PollResult(feed, not_modified=True, response=response, state=state)
    validators = {"etag": response.etag or "", "last_modified": response.last_modified or "",
                  "body_hash": hashlib.blake2b(response.content, digest_size=16).hexdigest()}
    if validators["body_hash"] == state.get("body_hash"):  # a server without conditional GET
        return PollResult(feed, not_modified=True, validators=validators, response=response,
                          state=state)
    parsed = await parse_document_async(response.content, feed=feed, url=response.url,
                                        content_type=response.content_type,
                                        max_items=fetcher.max_items)
    if parsed.cut:
        log.warning("feeds: items over the cap left out", extra={"kv": {
            "feed_id": feed.id, "kept": len(parsed.articles), "cut": parsed.cut,
            "max_items": fetcher.max_items}})
    return PollResult(feed, tuple(parsed.articles), validators=validators, response=response,
                      ttl=parsed.ttl, note=parsed.note, state=state, cut=parsed.cut,
                      links=merged_links(header_links(response.link, response.url),
                                         parsed.links))
