"""A loopback HTTP server for feed tests, plus builders of real RSS 2.0 and Atom documents.

    with FeedServer() as srv:
        srv.add("/rss", rss([{"title": "t", "link": "https://www.dw.com/a"}]), etag='"v1"')
        ... fetch srv.url("/rss") ...
        assert srv.count("/rss") == 1 and srv.requests("/rss")[0]["user-agent"]

The server runs in a background thread (stdlib ThreadingHTTPServer on 127.0.0.1, port 0), so
it serves sync and async tests alike; a `delay` blocks only the handler thread of that request.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import ssl
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True, slots=True)
class Route:
    """What the server answers on one path."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    content_length: bool = True
    repeat: int = 1  # the body is sent this many times (large bodies without holding them)


class _Handler(BaseHTTPRequestHandler):
    """Answers from the owning FeedServer's routes and records each request."""

    server: _Server

    def do_GET(self) -> None:
        """Serve the route for the path, honouring validators, delay and gzip."""
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        owner.record(path, {k.lower(): v for k, v in self.headers.items()})
        route = owner.route(path)
        owner.enter(path)
        try:
            if route.delay:
                time.sleep(route.delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(route)  # the client may have given up already (timeout tests)
        finally:
            owner.leave(path)

    def _answer(self, route: Route) -> None:
        """Write the status line, headers and body for `route`."""
        if self._not_modified(route):
            self.send_response(304)
            self._validators(route)
            self.end_headers()
            return
        body = gzip_module.compress(route.body) if route.gzip else route.body
        self.send_response(route.status)
        self._validators(route)
        if route.gzip:
            self.send_header("Content-Encoding", "gzip")
        if "content-type" not in {k.lower() for k in route.headers}:
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.content_length:
            self.send_header("Content-Length", str(len(body) * route.repeat))
        self.end_headers()
        for _ in range(route.repeat):
            self.wfile.write(body)

    def _not_modified(self, route: Route) -> bool:
        """True when the request's validators match the route's."""
        if route.etag and self.headers.get("If-None-Match") == route.etag:
            return True
        return bool(route.last_modified
                    and self.headers.get("If-Modified-Since") == route.last_modified)

    def _validators(self, route: Route) -> None:
        """Send ETag / Last-Modified when the route has them."""
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its FeedServer."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)


class FeedServer:
    """Serves registered bodies on 127.0.0.1 and records request counts and headers per path."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host  # any loopback address, e.g. 127.0.0.2 to stand for a second host
        self.tls = tls  # a server-side context: serve HTTPS
        self._routes: dict[str, Route] = {}
        self._requests: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self._max_in_flight: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._server = _Server(self)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        if self._server is None:
            raise RuntimeError("FeedServer is not running; use `with FeedServer() as srv`")
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The full URL of `path` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(self, path: str, body: bytes = b"", *, status: int = 200,
            headers: Mapping[str, str] | None = None, delay: float = 0.0,
            etag: str | None = None, last_modified: str | None = None, gzip: bool = False,
            content_length: bool = True, repeat: int = 1) -> str:
        """Serve `body` (`repeat` times over) on `path`, replacing any earlier route; the URL."""
        route = Route(body, status, dict(headers or {}), delay, etag, last_modified, gzip,
                      content_length, repeat)
        with self._lock:
            self._routes[path] = route
        return self.url(path)

    def route(self, path: str) -> Route:
        """The route for `path`, or a plain 404."""
        with self._lock:
            return self._routes.get(path) or Route(b"not found", 404,
                                                   {"Content-Type": "text/plain"})

    def record(self, path: str, headers: dict[str, str]) -> None:
        """Remember one request's (lower-cased) headers."""
        with self._lock:
            self._requests[path].append(headers)

    def enter(self, path: str) -> None:
        """A request to `path` started being answered."""
        with self._lock:
            self._in_flight[path] += 1
            self._max_in_flight[path] = max(self._max_in_flight[path], self._in_flight[path])

    def leave(self, path: str) -> None:
        """A request to `path` was answered."""
        with self._lock:
            self._in_flight[path] -= 1

    def max_in_flight(self, path: str) -> int:
        """The most requests to `path` ever answered at the same time."""
        with self._lock:
            return self._max_in_flight[path]

    def count(self, path: str) -> int:
        """How many requests `path` has had."""
        with self._lock:
            return len(self._requests[path])

    def requests(self, path: str) -> list[dict[str, str]]:
        """The lower-cased headers of each request to `path`, oldest first."""
        with self._lock:
            return list(self._requests[path])


def _date(value: object, *, rfc822: bool) -> str:
    """A datetime as an RFC 822 (RSS) or RFC 3339 (Atom) string; strings pass unchanged."""
    if isinstance(value, datetime):
        return format_datetime(value) if rfc822 else value.isoformat()
    return str(value)


def _element(tag: str, value: object, **attrs: str) -> str:
    """`<tag attr="...">escaped value</tag>`, or nothing when value is None."""
    if value is None:
        return ""
    attributes = "".join(f" {k.replace('_', ':')}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{tag}{attributes}>{escape(str(value))}</{tag}>"


def rss(items: list[dict[str, Any]], *, title: str = "Test feed",
        language: str | None = "en", link: str = "https://example.com/",
        description: str = "A feed for tests") -> bytes:
    """An RSS 2.0 document; item keys: title, link, description, content, guid, pubDate."""
    entries = "".join(
        "<item>" + _element("title", item.get("title")) + _element("link", item.get("link"))
        + _element("description", item.get("description"))
        + _element("content:encoded", item.get("content"))
        + _element("guid", item.get("guid"), isPermaLink="false")
        + (_element("pubDate", _date(item["pubDate"], rfc822=True)) if "pubDate" in item else "")
        + "</item>"
        for item in items
    )
    head = (_element("title", title) + _element("link", link)
            + _element("description", description) + _element("language", language))
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel>{head}{entries}</channel></rss>").encode()


def atom(entries: list[dict[str, Any]], *, title: str = "Test feed",
         language: str | None = "en", feed_id: str = "urn:newsbot:test",
         updated: datetime | str = "2024-10-21T00:00:00Z") -> bytes:
    """An Atom 1.0 document; entry keys: title, link, summary, content, id, updated, published."""
    body = "".join(
        "<entry>" + _element("title", entry.get("title"))
        + (f"<link href={quoteattr(entry['link'])}/>" if entry.get("link") else "")
        + _element("id", entry.get("id") or entry.get("link") or f"urn:newsbot:entry:{i}")
        + _element("summary", entry.get("summary"), type="html")
        + _element("content", entry.get("content"), type="html")
        + "".join(_element(key, _date(entry[key], rfc822=False))
                  for key in ("published", "updated") if key in entry)
        + "</entry>"
        for i, entry in enumerate(entries)
    )
    lang = f" xml:lang={quoteattr(language)}" if language else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom"{lang}>'
            + _element("title", title) + _element("id", feed_id)
            + _element("updated", _date(updated, rfc822=False)) + body + "</feed>").encode()
