"""The WebSub callback every worker serves: hubs verify intent (GET) and push content (POST)
to `CALLBACK_PATH`; the subscriptions themselves are kept by bot/feeds/websub.py.

    hub -> GET <callback>?hub.mode=subscribe&hub.topic=..&hub.challenge=..&hub.lease_seconds=..
        -> the challenge echoed (200) only for a pending or active subscription to that
           topic (404 otherwise); the lease noted (at most the one asked for); renewal due
           at 80-90 % of it. A verification with no request of ours pending (a hub
           re-confirming, or anyone who knows the topic) may shorten the lease, not extend it.
           hub.mode=unsubscribe is confirmed only for a subscription being ended;
           hub.mode=denied is recorded and the hub asked again after a day.
    hub -> POST <callback> (the feed document, X-Hub-Signature: sha1|sha256|sha384|sha512=..)
        -> signature checked (HMAC with the subscription's secret, constant-time) -> 202;
           a missing or bad signature is acknowledged too (the spec allows it, and it tells a
           forger nothing) but its content is discarded and counted. Accepted bodies are
           parsed like a poll's (bot/feeds/parse.py) and handed to the same handler as polled
           items (the pipeline), in a task: at most `max_pushes` at once, 503 beyond; bodies
           over NEWSBOT_MAX_FEED_BYTES get 413, pushes for no subscription 410 Gone. Seen
           keys make the next poll's copy of a pushed item a duplicate, so nothing is
           alerted twice.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot.errors import ParseError
from bot.feeds.engine import FeedSource
from bot.feeds.parse import parse_document_async
from bot.feeds.policy import PollPolicy
from bot.feeds.poll import PollResult
from bot.metrics import Metrics
from bot.models import FeedSpec
from bot.store import STORE_FAILURES, Store
from bot.store.websub import Subscriptions

log = logging.getLogger("bot.feeds.websub")

CALLBACK_PATH = "/websub/{feed_id}"
SIGNATURE_METHODS = frozenset({"sha1", "sha256", "sha384", "sha512"})
RENEW_AT = (0.8, 0.9)      # renew when this fraction of the granted lease has passed

Handler = Callable[[PollResult], Awaitable[object]]


def signature_ok(header: str | None, secret: str, body: bytes) -> bool:
    """True when `header` (`X-Hub-Signature: sha256=<hex>`) is the HMAC of `body` with
    `secret` under one of SIGNATURE_METHODS; compared in constant time."""
    if not header or not secret:
        return False
    method, _, digest = header.strip().partition("=")
    method = method.strip().lower()
    if method not in SIGNATURE_METHODS:
        return False
    expected = hmac.new(secret.encode(), body, method).hexdigest().encode()
    return hmac.compare_digest(expected, digest.strip().lower().encode("ascii", "replace"))


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to be over `limit` bytes."""
    if (request.content_length or 0) > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


class HubCallback:
    """The routes hubs call; WebSub builds it (see its parameters)."""

    store: Store
    metrics: Metrics
    subscriptions: Subscriptions
    policy: PollPolicy
    stats: Counter[str]
    min_renew: float
    max_pushes: int
    max_bytes: int
    max_items: int
    _rng: random.Random
    _handle: Handler
    _source: FeedSource
    _feeds: dict[str, FeedSpec]
    _pushes: set[asyncio.Task[None]]

    def routes(self) -> list[web.RouteDef]:
        """The callback: GET for hubs' verifications of intent, POST for their pushes."""
        return [web.get(CALLBACK_PATH, self._verification, allow_head=False),
                web.post(CALLBACK_PATH, self._push)]

    async def _feed(self, feed_id: str) -> FeedSpec | None:
        """The listed feed `feed_id` (the list read again when it is not known)."""
        if feed_id not in self._feeds:
            self._feeds = {f.id: f for f in await self._source()}
        return self._feeds.get(feed_id)

    async def _verification(self, request: web.Request) -> web.Response:
        """A hub verifying intent (subscribe, unsubscribe) or telling of a denial."""
        feed_id, query = request.match_info["feed_id"], request.query
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        challenge = query.get("hub.challenge", "")
        if mode not in ("subscribe", "unsubscribe", "denied"):
            return web.Response(status=400, text="hub.mode must be subscribe, unsubscribe or "
                                                 "denied")
        try:
            if mode == "denied":
                ok = await self._deny(feed_id, topic, query.get("hub.reason", ""))
            elif not challenge or not topic:
                ok = False
            elif mode == "subscribe":
                ok = await self._verify(feed_id, topic, query.get("hub.lease_seconds", ""))
            else:
                ok = await self.subscriptions.unsubscribed(feed_id, topic)
        except STORE_FAILURES as exc:
            log.warning("websub: cannot check a verification", extra={"kv": {
                "feed_id": feed_id, "error": str(exc)}})
            return web.Response(status=503, text="try again later")
        log.info("websub: verification " + ("confirmed" if ok else "refused"), extra={"kv": {
            "feed_id": feed_id, "mode": mode, "topic": topic}})
        if not ok:
            return web.Response(status=404, text="no such subscription")
        return web.Response(text=challenge if mode != "denied" else "ok",
                            content_type="text/plain")

    async def _verify(self, feed_id: str, topic: str, lease: str) -> bool:
        """Confirm a pending or active subscription to `topic`: note its lease, plan renewal."""
        fraction = self._rng.uniform(*RENEW_AT)
        ok = await self.subscriptions.verified(
            feed_id, topic, lease=lease if lease.isdigit() else "", fraction=fraction,
            min_renew=self.min_renew, now=time.time())
        if ok:
            self.stats["verified"] += 1
        return ok

    async def _deny(self, feed_id: str, topic: str, reason: str) -> bool:
        """Record the hub's refusal; ask again after the longest backoff (polling goes on)."""
        error = f"denied by the hub: {reason or 'no reason given'}"[:500]
        ok = await self.subscriptions.denied(feed_id, topic, error=error,
                                             due_at=time.time() + self.policy.backoff_max)
        if ok:
            self.stats["denied"] += 1
            log.warning("websub: subscription denied", extra={"kv": {
                "feed_id": feed_id, "topic": topic, "reason": reason}})
        return ok

    async def _push(self, request: web.Request) -> web.Response:
        """A hub distributing content: check it, answer at once, process it in a task."""
        feed_id = request.match_info["feed_id"]
        try:
            record = await self.subscriptions.get(feed_id)
        except STORE_FAILURES as exc:
            log.warning("websub: cannot check a push", extra={"kv": {
                "feed_id": feed_id, "error": str(exc)}})
            return web.Response(status=503, text="try again later")
        if record.get("state") not in ("subscribing", "active"):
            return self._refuse(feed_id, "unknown", 410, "no such subscription")
        if len(self._pushes) >= self.max_pushes:
            return self._refuse(feed_id, "busy", 503, "busy", headers={"Retry-After": "30"})
        body = await read_body(request, self.max_bytes)
        if body is None:
            return self._refuse(feed_id, "too_large", 413, f"over {self.max_bytes} bytes")
        if not signature_ok(request.headers.get("X-Hub-Signature"), record.get("secret", ""),
                            body):
            return self._refuse(feed_id, "signature", 202, "")  # acknowledged, discarded
        task = asyncio.create_task(self._process(feed_id, record.get("topic", ""), body,
                                                 request.headers.get("Content-Type")),
                                   name=f"websub:push:{feed_id}")
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)
        self.metrics.pushed()
        return web.Response(status=202)

    def _refuse(self, feed_id: str, reason: str, status: int, text: str, *,
                headers: Mapping[str, str] | None = None) -> web.Response:
        self.metrics.pushed(reason)
        self.stats[f"push_{reason}"] += 1
        log.warning("websub: push discarded", extra={"kv": {
            "feed_id": feed_id, "reason": reason, "status": status}})
        return web.Response(status=status, text=text, headers=headers)

    async def _process(self, feed_id: str, topic: str, body: bytes,
                       content_type: str | None) -> None:
        """Parse a pushed document like a polled one and hand its articles on; never raises."""
        try:
            feed = await self._feed(feed_id)
            if feed is None:
                log.warning("websub: push for a feed no longer listed", extra={"kv": {
                    "feed_id": feed_id}})
                return
            parsed = await parse_document_async(body, feed=feed, url=topic or feed.url,
                                                content_type=content_type,
                                                max_items=self.max_items)
            await self._handle(PollResult(feed, tuple(parsed.articles)))
            await self.store.update_feed_state(feed_id, {"websub_last_push": time.time()})
            self.stats["processed"] += 1
            if parsed.cut:
                self.metrics.items_cut.inc(parsed.cut)
            log.info("websub: push processed", extra={"kv": {
                "feed_id": feed_id, "articles": len(parsed.articles), "cut": parsed.cut}})
        except ParseError as exc:
            log.warning("websub: pushed document unreadable", extra={"kv": {
                "feed_id": feed_id, "error": str(exc)}})
        except Exception:  # one bad push must not stop the others
            log.exception("websub: processing a push failed", extra={"kv": {
                "feed_id": feed_id}})
