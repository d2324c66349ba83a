"""WebSub, subscriber side (W3C Recommendation): hubs push new items, polling stays the fallback.

On when NEWSBOT_PUBLIC_URL is set: hubs must reach the bot's HTTP server (bot/http.py) at
`<NEWSBOT_PUBLIC_URL>/websub/<feed id>`, the callback of that feed's subscription.

    poll (any worker) -> discovered: the document's rel="hub" / rel="self" links
        -> feed state websub_hub, websub_topic (what we want), the feed due in websub:due
    maintainer (one worker, the holder of the `websub` lease: bot.store.Leader)
        -> reconcile a due feed: POST hub.mode=subscribe to the hub (a new random
           hub.secret per subscription, kept on renewals), or unsubscribe from a hub the feed
           no longer names or a feed that was deleted; errors retried with the polling
           backoff (a request the hub accepts but does not verify within `verify_timeout`,
           10 min, is a failure too); a feed added from chat reaches its hub through the
           SSRF guard only (a hub on an internal address: asked again after a day)
    hub -> GET / POST <callback>: verifications and pushes (bot/feeds/websub_callback.py)

Polling goes on: after a good poll of a feed whose subscription is verified and unexpired, the
engine waits about NEWSBOT_POLL_MAX_INTERVAL (90-100 % of it, never past the lease's end)
instead of the feed's own interval (`poll_floor`, the engine's `min_delay` hook).

A feed deleted (from chat) is unsubscribed within `sync_seconds` (30 s); a maintainer that
starts with another NEWSBOT_PUBLIC_URL moves every subscription to its new callback. With
NEWSBOT_PUBLIC_URL unset nothing is subscribed and existing subscriptions lapse with their
leases (the hubs' pushes then get 404s from a bot without the route).

The records (every worker answers callbacks, so all state is shared) are bot/store/websub.py.
Changes that race with the hub's verification (which may come before the hub even answers
the subscription request) are Lua scripts conditioned on the record's state and attempt token.
One hub per feed: the first one the document names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

import httpx

from bot.feeds.engine import FeedSource
from bot.feeds.fetch import USER_AGENT
from bot.feeds.guard import Network
from bot.feeds.parse import MAX_ITEMS
from bot.feeds.policy import PollPolicy, failure_delay
from bot.feeds.poll import PollResult
from bot.feeds.websub_callback import CALLBACK_PATH, Handler, HubCallback, signature_ok
from bot.feeds.websub_hub import REQUESTS_AT_ONCE, HubAnswer, hub_client, post_form
from bot.metrics import Metrics
from bot.models import FeedSpec
from bot.store import Leader, Store, sleep_unless
from bot.store.websub import Subscriptions

__all__ = ["CALLBACK_PATH", "HubAnswer", "WebSub", "signature_ok"]

log = logging.getLogger(__name__)

HUB, TOPIC = "websub_hub", "websub_topic"
STATUS, UNTIL, ERROR = "websub_status", "websub_until", "websub_error"
IDLE_SECONDS = 2.0         # longest nap of the maintainer (others' discoveries show up)
ACTION_SECONDS = 120.0     # a claimed action comes due again this late if its worker dies
BATCH = 100                # due actions taken per round
GONE_TTL = 86_400          # how long an ended subscription waits for the hub's verification
UNSUBSCRIBE_TRIES = 5
STOP_GRACE = 5.0


def _number(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0


class WebSub(HubCallback):
    """Subscriptions to the hubs feeds advertise, their callback routes and their upkeep.

    `source` lists every feed, `untrusted` says which were added from chat (their hubs are
    contacted through the SSRF guard), `handle` takes a push's articles exactly as the
    polling engine's handler takes a poll's. `lease_seconds` is asked of hubs
    (NEWSBOT_WEBSUB_LEASE); `policy` gives the retry backoff and the longest poll interval;
    `verify_timeout` is how long a hub may take to verify before the request counts as
    failed; `min_renew` the shortest wait before a renewal, whatever lease a hub grants.
    Use as `async with` (it owns the HTTP clients that talk to hubs); `run` keeps the
    subscriptions (in one worker at a time), `routes` answer hubs (in every worker).
    """

    def __init__(self, store: Store, *, source: FeedSource, handle: Handler, public_url: str,
                 untrusted: Callable[[FeedSpec], bool] = lambda feed: False,
                 policy: PollPolicy | None = None, lease_seconds: int = 864_000,
                 max_bytes: int = 10 * 1024 * 1024, max_items: int = MAX_ITEMS,
                 timeout: float = 20.0,
                 connect_timeout: float = 10.0, allow_networks: Sequence[Network] = (),
                 verify_timeout: float = 600.0, min_renew: float = 60.0,
                 sync_seconds: float = 30.0, max_pushes: int = 16, leader_ttl: float = 15.0,
                 rng: random.Random | None = None, user_agent: str = USER_AGENT,
                 metrics: Metrics | None = None) -> None:
        self.store = store
        self.metrics = metrics if metrics is not None else Metrics()
        self.user_agent = user_agent  # of subscription requests, like the feed fetches
        self.public_url = public_url.rstrip("/")
        self.policy = policy or PollPolicy()
        self.lease_seconds = lease_seconds
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.verify_timeout = verify_timeout
        self.min_renew = min_renew
        self.sync_seconds = sync_seconds
        self.max_pushes = max_pushes
        self.leader_ttl = leader_ttl
        self.allow_networks = tuple(allow_networks)
        self.stats: Counter[str] = Counter()
        self._source, self._handle, self._untrusted = source, handle, untrusted
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._total_timeout = timeout + connect_timeout
        self._rng = rng or random.Random()
        self.subscriptions = Subscriptions(store)
        self._feeds: dict[str, FeedSpec] = {}
        self._pushes: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._open: httpx.AsyncClient | None = None
        self._guarded: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"WebSub(public_url={self.public_url!r})"

    # --- wiring ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        ssl_context = httpx.create_ssl_context()
        self._open = self._client(ssl_context, guarded=False)
        self._guarded = self._client(ssl_context, guarded=True)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """Let pushes in flight finish (a few seconds), then close the clients."""
        if self._pushes:
            _, pending = await asyncio.wait(set(self._pushes), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for client in (self._open, self._guarded):
            if client is not None:
                await client.aclose()
        self._open = self._guarded = None

    def _client(self, ssl_context: ssl.SSLContext, *, guarded: bool) -> httpx.AsyncClient:
        return hub_client(ssl_context, guarded=guarded, allow=self.allow_networks,
                          timeout=self._timeout, user_agent=self.user_agent)

    def callback(self, feed_id: str) -> str:
        """The callback URL hubs are given for `feed_id`."""
        return self.public_url + CALLBACK_PATH.format(feed_id=feed_id)

    # --- discovery and the polling fallback --------------------------------------------------

    async def discovered(self, result: PollResult) -> None:
        """Note the hub and topic a polled document names; a change makes the feed due for
        (re)subscribing or unsubscribing. Never raises (the poll goes on)."""
        feed, links = result.feed, result.links
        if result.error is not None or links is None or feed.url is None:
            return
        hub = links.hubs[0] if links.hubs else ""
        topic = (links.self_url or feed.url) if hub else ""
        member = f"sub:{feed.id}"
        try:
            if (hub, topic) != (result.state.get(HUB, ""), result.state.get(TOPIC, "")):
                await self.store.update_feed_state(feed.id, {HUB: hub, TOPIC: topic})
                await self.subscriptions.make_due([member], at=0)
                log.info("websub: hub discovered" if hub else "websub: the feed names no hub",
                         extra={"kv": {"feed_id": feed.id, "hub": hub, "topic": topic}})
            elif not hub or not await self.subscriptions.make_due_unless_due(member):
                return
        except Exception as exc:  # Redis away: the next poll notes it again
            log.warning("websub: cannot record a discovered hub", extra={"kv": {
                "feed_id": feed.id, "error": str(exc) or type(exc).__name__}})
            return
        self._wake.set()

    def poll_floor(self, result: PollResult) -> float | None:
        """After a good poll: about the policy's longest interval while the feed's hub pushes
        to a verified subscription, never past the lease's end; None otherwise."""
        until, now = _number(result.state.get(UNTIL)), time.time()
        if until <= now:
            return None
        stretched = self.policy.max_interval * self._rng.uniform(1 - self.policy.jitter, 1)
        return min(stretched, until - now)

    async def active_count(self) -> int:
        """Subscriptions verified and not expired (all workers)."""
        return await self.subscriptions.active_count(since=time.time())

    # --- upkeep, in one worker at a time -----------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Keep subscriptions (subscribe, renew, unsubscribe) while this worker holds the
        `websub` lease, until `stop` is set; the other workers only answer hubs."""
        halt = asyncio.Event()
        task: asyncio.Task[None] | None = None

        async def elected() -> None:
            nonlocal task
            halt.clear()
            task = asyncio.create_task(self._maintain(halt), name="websub:maintain")

        async def deposed() -> None:
            halt.set()
            self._wake.set()
            if task is not None:
                done_, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
                if not done_:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        await Leader(self.store, "websub", ttl=self.leader_ttl).run(
            stop, elected=elected, deposed=deposed)

    async def _maintain(self, halt: asyncio.Event) -> None:
        next_sync, first = 0.0, True
        while not halt.is_set():
            self._wake.clear()
            wait = IDLE_SECONDS
            try:
                if time.monotonic() >= next_sync:
                    await self.sync(check_callbacks=first)
                    next_sync, first = time.monotonic() + self.sync_seconds, False
                wait = await self.run_due()
            except Exception:  # Redis away, a bug: log it, the next round tries again
                log.exception("websub: upkeep round failed")
            wait = min(wait, IDLE_SECONDS, max(0.0, next_sync - time.monotonic()))
            if wait > 0 and not halt.is_set():
                await sleep_unless(self._wake, wait)

    async def sync(self, *, check_callbacks: bool = False) -> int:
        """Make due the subscriptions of feeds no longer listed (deleted from chat), so that
        they are ended, and with `check_callbacks` (a new maintainer: NEWSBOT_PUBLIC_URL may
        have changed) those whose callback is not the current one; returns how many."""
        self._feeds = {f.id: f for f in await self._source()}
        members = [m for m in await self.subscriptions.due_members() if m.startswith("sub:")]
        stale = [m for m in members if m[4:] not in self._feeds]
        if check_callbacks and members:
            callbacks = await self.subscriptions.callbacks([m[4:] for m in members])
            stale += [m for m, url in zip(members, callbacks, strict=True)
                      if url and url != self.callback(m[4:]) and m not in stale]
        if stale:
            await self.subscriptions.make_due(stale, at=0)
        return len(stale)

    async def run_due(self) -> float:
        """Act on every subscription due now; seconds until the next one is due."""
        now = time.time()
        members = await self.subscriptions.take_due(now, limit=BATCH,
                                                    hold_until=now + ACTION_SECONDS)
        if members:
            gate = asyncio.Semaphore(REQUESTS_AT_ONCE)
            await asyncio.gather(*(self._act(m, gate) for m in members))
            if len(members) == BATCH:
                return 0.0
        first = await self.subscriptions.first_due()
        return IDLE_SECONDS if first is None else max(0.0, first - time.time())

    async def _act(self, member: str, gate: asyncio.Semaphore) -> None:
        """One due action; a failure is logged and leaves the others alone."""
        kind, _, feed_id = member.partition(":")
        async with gate:
            try:
                if kind == "sub":
                    await self._reconcile(feed_id)
                else:
                    await self._unsubscribe(feed_id)
            except Exception:
                log.exception("websub: acting on a subscription failed", extra={"kv": {
                    "feed_id": feed_id, "action": kind}})

    async def _reconcile(self, feed_id: str) -> None:
        """Bring the feed's subscription in line with what its document names: end one to a
        hub or topic it no longer names, then subscribe (or renew, or retry)."""
        feed = await self._feed(feed_id)
        record = await self.subscriptions.get(feed_id)
        state = await self.store.feed_state(feed_id) if feed is not None else {}
        want = (state.get(HUB, ""), state.get(TOPIC, ""), self.callback(feed_id))
        if record and (not want[0] or want != (record.get("hub"), record.get("topic"),
                                               record.get("callback"))):
            await self._retire(feed_id, record)
            record = {}
        if feed is None or not want[0]:
            await self.subscriptions.not_due(f"sub:{feed_id}")
            return
        if record.get("attempt"):  # the hub took the request but never came to verify it
            await self._failed(feed_id, record, f"the hub did not verify the subscription "
                               f"within {self.verify_timeout:.0f} s")
            return
        await self._subscribe(feed, record or {"hub": want[0], "topic": want[1],
                                               "callback": want[2], "failures": "0",
                                               "secret": secrets.token_hex(32)})

    async def _subscribe(self, feed: FeedSpec, record: dict[str, str]) -> None:
        """Ask the hub for the subscription (again: a renewal keeps the secret)."""
        attempt = secrets.token_hex(8)
        record = {**record, "attempt": attempt, "lease": str(self.lease_seconds),
                  "state": "active" if record.get("state") == "active" else "subscribing",
                  "guard": "1" if self._untrusted(feed) else ""}
        await self.subscriptions.save(feed.id, record)
        if record["state"] == "subscribing":
            await self.store.update_feed_state(feed.id, {STATUS: "subscribing"})
        self.stats["requests"] += 1
        answer = await self._post(record["hub"], {
            "hub.mode": "subscribe", "hub.topic": record["topic"],
            "hub.callback": record["callback"], "hub.secret": record["secret"],
            "hub.lease_seconds": record["lease"]}, guarded=bool(record["guard"]))
        if not answer.ok:
            await self._failed(feed.id, record, answer.error, blocked=answer.blocked,
                               retry_after=answer.retry_after)
            return
        await self._settle(feed.id, attempt, due_at=time.time() + self.verify_timeout)
        log.info("websub: subscription requested", extra={"kv": {
            "feed_id": feed.id, "hub": record["hub"], "topic": record["topic"],
            "renewal": record["state"] == "active"}})

    async def _failed(self, feed_id: str, record: Mapping[str, str], error: str, *,
                      blocked: bool = False, retry_after: float | None = None) -> None:
        """Count a failed attempt and retry after the polling backoff (a day if blocked)."""
        failures = int(record.get("failures") or 0) + 1
        delay = self.policy.backoff_max if blocked else failure_delay(
            failures, retry_after=retry_after, policy=self.policy, rng=self._rng)
        await self._settle(feed_id, record.get("attempt", ""), due_at=time.time() + delay,
                           fields={"failures": str(failures), "last_error": error[:500],
                                   "attempt": ""})
        mirror = {ERROR: error[:500]}
        if record.get("state") != "active":
            mirror[STATUS] = "error"
        await self.store.update_feed_state(feed_id, mirror)
        self.stats["failed"] += 1
        log.warning("websub: subscribing failed", extra={"kv": {
            "feed_id": feed_id, "hub": record.get("hub", ""), "failures": failures,
            "retry_in": round(delay), "error": error}})

    async def _settle(self, feed_id: str, attempt: str, *, due_at: float,
                      fields: Mapping[str, str] | None = None) -> bool:
        """Apply a request's outcome unless the hub's verification came first."""
        return await self.subscriptions.settle(feed_id, attempt, due_at=due_at, fields=fields)

    async def _retire(self, feed_id: str, record: Mapping[str, str]) -> None:
        """End a subscription: forget it here, and unsubscribe unless the hub denied it."""
        await self.subscriptions.retire(feed_id, record, ttl=GONE_TTL,
                                        feed_fields=(STATUS, UNTIL, ERROR))
        log.info("websub: subscription ended", extra={"kv": {
            "feed_id": feed_id, "hub": record.get("hub", ""), "topic": record.get("topic", "")}})

    async def _unsubscribe(self, feed_id: str) -> None:
        """Ask the hub to end a retired subscription; give up after a few failures."""
        member = f"unsub:{feed_id}"
        gone = await self.subscriptions.ended(feed_id)
        if gone.get("state") != "unsubscribing":
            await self.subscriptions.not_due(member)
            return
        self.stats["requests"] += 1
        answer = await self._post(gone["hub"], {
            "hub.mode": "unsubscribe", "hub.topic": gone["topic"],
            "hub.callback": gone["callback"]}, guarded=bool(gone.get("guard")))
        failures = int(gone.get("failures") or 0) + 1
        if answer.ok or failures >= UNSUBSCRIBE_TRIES:
            await self.subscriptions.not_due(member)
            if not answer.ok:
                await self.subscriptions.forget_ended(feed_id)
            log.info("websub: unsubscription requested" if answer.ok else
                     "websub: giving up unsubscribing", extra={"kv": {
                         "feed_id": feed_id, "hub": gone["hub"], "error": answer.error}})
            return
        delay = failure_delay(failures, retry_after=answer.retry_after, policy=self.policy,
                              rng=self._rng)
        await self.subscriptions.unsubscribe_later(feed_id, failures=failures,
                                                   due_at=time.time() + delay)

    async def _post(self, hub: str, form: dict[str, str], *, guarded: bool) -> HubAnswer:
        """POST a form to the hub; accepted on any 2xx (the spec says 202)."""
        client = self._guarded if guarded else self._open
        if client is None:
            raise RuntimeError("WebSub used outside `async with`")
        return await post_form(client, hub, form, within=self._total_timeout)
