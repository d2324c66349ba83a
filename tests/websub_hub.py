"""A loopback WebSub hub for tests and benchmarks: the hub side of the W3C Recommendation.

    async with Hub() as hub:
        srv.add("/feed.xml", with_hub(rss([...]), hub=hub.url, self_url=topic))
        ... the subscriber POSTs hub.mode=subscribe to hub.url ...
        await hub.wait_verified(topic)            # once the callback echoed the challenge
        statuses = await hub.publish(topic, body)  # POSTed, signed, to every subscriber

Subscription requests (a form-encoded POST on `/`) are checked (mode, topic, callback) and
answered 202, then verified by a GET on the callback with hub.mode, hub.topic, hub.challenge
and hub.lease_seconds (the lease asked for, capped at `max_lease`); the subscription stands
only when the callback answers 2xx with the challenge as its body. Topics in `deny` get a GET
with hub.mode=denied and hub.reason instead. With `verify_first` the verification happens
before the 202, as some hubs do. Unsubscription is verified the same way and, confirmed, ends
the subscription. Content goes out as a POST of the document with Link headers (rel=hub,
rel=self) and `X-Hub-Signature: <method>=<hex HMAC of the body with the subscriber's secret>`
(stdlib hmac); `key` and `sign` forge or omit it. The server runs on the test's event loop
(aiohttp on 127.0.0.1, a free port).
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from xml.sax.saxutils import quoteattr

import aiohttp
from aiohttp import web

ATOM_NS = "http://www.w3.org/2005/Atom"
DEADLINE = 30.0  # seconds a wait may take before it fails (an upper bound, not a measurement)


@dataclass
class Subscription:
    """A verified subscription: where to push a topic's content, and with which secret."""

    topic: str
    callback: str
    secret: str
    lease: int
    verifications: int = 1


@dataclass(frozen=True)
class Verification:
    """One GET the hub sent a callback, and whether the subscriber confirmed it."""

    mode: str
    topic: str
    callback: str
    status: int
    confirmed: bool
    lease: int | None = None


@dataclass
class Hub:
    """The hub; `url` is what feeds advertise as rel="hub"."""

    max_lease: int = 10 * 86_400
    deny: set[str] = field(default_factory=set)
    verify_first: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    subscriptions: dict[tuple[str, str], Subscription] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/", self._request)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The hub's URL."""
        return f"http://127.0.0.1:{self.port}/"

    def requests_of(self, mode: str, topic: str | None = None) -> list[dict[str, str]]:
        """The (un)subscription requests received with `mode` (for `topic`), oldest first."""
        return [r for r in self.requests if r.get("hub.mode") == mode
                and (topic is None or r.get("hub.topic") == topic)]

    def confirmed(self, mode: str, topic: str) -> list[Verification]:
        """The verifications of `mode` for `topic` the subscriber confirmed."""
        return [v for v in self.verifications if v.mode == mode and v.topic == topic
                and v.confirmed]

    async def wait_for(self, check: Callable[[], bool]) -> None:
        """Wait (at most DEADLINE seconds; then TimeoutError) until `check()` is true;
        checked again whenever the hub's state changes."""
        async with asyncio.timeout(DEADLINE):
            while True:
                self._changed.clear()
                if check():
                    return
                await self._changed.wait()

    async def wait_verified(self, topic: str, count: int = 1) -> None:
        """Until `count` subscribe verifications of `topic` were confirmed."""
        await self.wait_for(lambda: len(self.confirmed("subscribe", topic)) >= count)

    async def _request(self, request: web.Request) -> web.Response:
        """A subscriber's (un)subscription request."""
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        self._changed.set()
        mode, topic, callback = (form.get(k, "") for k in ("hub.mode", "hub.topic",
                                                           "hub.callback"))
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return web.Response(status=400, text="hub.mode, hub.topic, hub.callback required")
        if self.verify_first:
            await self._verify(form)
        else:
            task = asyncio.create_task(self._verify(form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        """Verification of intent (or the denial) by a GET on the callback."""
        assert self._session is not None
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        if mode == "subscribe" and topic in self.deny:
            params = {"hub.mode": "denied", "hub.topic": topic,
                      "hub.reason": "this hub does not serve that topic"}
            async with self._session.get(callback, params=params) as response:
                self._record(Verification("denied", topic, callback, response.status,
                                          response.status == 200))
            return
        challenge = secrets.token_urlsafe(24)
        lease = min(int(form.get("hub.lease_seconds") or self.max_lease), self.max_lease)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge,
                  **({"hub.lease_seconds": str(lease)} if mode == "subscribe" else {})}
        async with self._session.get(callback, params=params) as response:
            ok = 200 <= response.status < 300 and await response.text() == challenge
            status = response.status
        key = (topic, callback)
        if ok and mode == "subscribe":
            known = self.subscriptions.get(key)
            self.subscriptions[key] = Subscription(
                topic, callback, form.get("hub.secret", ""), lease,
                verifications=known.verifications + 1 if known else 1)
        elif ok:
            self.subscriptions.pop(key, None)
        self._record(Verification(mode, topic, callback, status, ok,
                                  lease if mode == "subscribe" else None))

    def _record(self, verification: Verification) -> None:
        self.verifications.append(verification)
        self._changed.set()

    async def publish(self, topic: str, body: bytes, *,
                      content_type: str = "application/rss+xml; charset=utf-8",
                      method: str = "sha256", key: str | None = None,
                      sign: bool = True) -> list[int]:
        """Distribute `body` to every subscriber of `topic`; the status each answered.

        The signature is the HMAC of the body with the subscriber's secret (`key` instead, to
        forge one); `sign=False` leaves the header out.
        """
        assert self._session is not None
        statuses = []
        for sub in [s for s in self.subscriptions.values() if s.topic == topic]:
            headers = {"Content-Type": content_type,
                       "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'}
            if sign:
                digest = hmac.new((key or sub.secret).encode(), body, method).hexdigest()
                headers["X-Hub-Signature"] = f"{method}={digest}"
            async with self._session.post(sub.callback, data=body, headers=headers) as response:
                statuses.append(response.status)
        return statuses


def with_hub(document: bytes, *, hub: str | Iterable[str], self_url: str | None = None
             ) -> bytes:
    """An RSS or Atom document (tests/feedserver.py's builders) advertising `hub` (one or
    several) and its rel="self" URL, as publishers do: Atom `<link>`, RSS `<atom:link>`."""
    hubs = [hub] if isinstance(hub, str) else list(hub)
    rels = [("hub", h) for h in hubs] + ([("self", self_url)] if self_url else [])
    if b"<channel>" in document:
        links = "".join(f"<atom:link xmlns:atom={quoteattr(ATOM_NS)} rel={quoteattr(rel)} "
                        f"href={quoteattr(href)}/>" for rel, href in rels)
        return document.replace(b"<channel>", b"<channel>" + links.encode(), 1)
    links = "".join(f"<link rel={quoteattr(rel)} href={quoteattr(href)}/>" for rel, href in rels)
    return re.sub(rb"(<feed\b[^>]*>)", lambda m: m.group(1) + links.encode(), document, count=1)
