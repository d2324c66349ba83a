"""HTTP fetching of feeds: conditional GET, size cap, timeouts, httpx errors mapped to FetchError.

Kinds of FetchError raised here (`err.kind`):

    http          a 4xx/5xx status other than 429/503, or too many redirects  (StatusError)
    rate_limited  429 or 503; `retry_after` seconds from Retry-After, or None  (RateLimitedError)
    too_large     Content-Length, the bytes received or the decoded body passed `max_bytes`
    timeout       connect/read timeout or the whole request took too long
    network       connection refused, DNS, TLS, protocol or body-decoding failure
    url           the URL is malformed (an invalid IDNA host name too) or not http(s)
    blocked       a guarded fetch (a feed added from chat) reached an internal address

Size cap and decompression bombs: the body is read raw (`aiter_raw`) and decoded here, not
by httpx, because httpx inflates each network chunk (up to 64 KiB of gzip, which can hold
about 64 MiB of zeros) in one call before the caller can count it. Here every zlib call is
given `max_length` = the bytes left under the cap plus one, so the decoded body never grows
past `max_bytes` + 1 in memory, whatever the compression ratio; the raw bytes received are
capped at `max_bytes` as well. Only gzip and deflate are asked for (`Accept-Encoding`); any
other encoding a server sends anyway is a `network` error.

Sockets are opened by the lean asyncio backend of bot/feeds/transport.py (for feeds added
from chat, by the SSRF guard of bot/feeds/guard.py built on it).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import httpx

from bot.config import default_user_agent
from bot.errors import FetchError
from bot.feeds.guard import BlockedAddressError, GuardedBackend, Network
from bot.feeds.parse import MAX_ITEMS
from bot.feeds.transport import AsyncioBackend, feed_transport
from bot.logs import redact

USER_AGENT = default_user_agent()  # NEWSBOT_USER_AGENT / NEWSBOT_CONTACT_URL replace it
ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
ACCEPT_ENCODING = "gzip, deflate"
MAX_REDIRECTS = 5
RATE_LIMIT_STATUSES = frozenset({429, 503})
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE_RE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    """One feed response: body (empty when not modified), validators, final URL, cache hints.

    `max_age` is how many seconds the server says the response stays fresh (Cache-Control
    max-age less Age, else Expires less Date), or None when it says nothing or `no-cache`.
    """

    status: int
    content: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    url: str
    retry_after: float | None = None
    content_type: str | None = None
    max_age: float | None = None
    link: str | None = None  # the Link header(s), joined with ", " (WebSub discovery)


class StatusError(FetchError):
    """The server answered with an error status; `status` is the HTTP code."""

    def __init__(self, feed: str, message: str, *, kind: str = "http", status: int = 0) -> None:
        super().__init__(feed, message, kind=kind)
        self.status = status


class RateLimitedError(StatusError):
    """The server asked us to slow down (429/503); wait `retry_after` seconds if given."""

    def __init__(self, feed: str, message: str, *, status: int,
                 retry_after: float | None) -> None:
        super().__init__(feed, message, kind="rate_limited", status=status)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), or None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    """An HTTP-date header value as an aware datetime, or None when unreadable."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def freshness(headers: httpx.Headers) -> float | None:
    """Seconds the response stays fresh per Cache-Control max-age (less Age) or Expires."""
    control = headers.get("Cache-Control", "")
    if _NO_CACHE_RE.search(control):
        return None
    age = headers.get("Age", "").strip()
    if match := _MAX_AGE_RE.search(control):
        return max(0.0, float(match.group(1)) - (float(age) if age.isdigit() else 0.0))
    expires, date = _http_date(headers.get("Expires")), _http_date(headers.get("Date"))
    if expires is None:
        return None
    return max(0.0, (expires - (date or datetime.now(UTC))).total_seconds())


def _map_error(exc: Exception, feed: str, url: str) -> FetchError:
    """The FetchError for an httpx (or asyncio timeout, guard, IDNA) exception fetching `url`;
    the message shows the URL redacted (bot/logs.py), since it is stored and shown."""
    url = redact(url)
    if isinstance(exc, BlockedAddressError):
        return FetchError(feed, f"refused to fetch {url}: {exc}", kind="blocked")
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return FetchError(feed, f"timed out fetching {url}", kind="timeout")
    if isinstance(exc, httpx.TooManyRedirects):
        return StatusError(feed, f"more than {MAX_REDIRECTS} redirects from {url}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | UnicodeError):
        return FetchError(feed, f"invalid feed URL {url}: {redact(str(exc))}", kind="url")
    return FetchError(feed, f"unable to fetch {url}: {type(exc).__name__}: {redact(str(exc))}",
                      kind="network")


class BodyTooLargeError(Exception):
    """The body passed the cap; `detail` says how."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BodyDecodeError(Exception):
    """The body could not be decoded (unknown Content-Encoding or corrupt data)."""


class _Inflater:
    """One gzip/deflate layer that never returns more than it is allowed to."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._wbits = zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate `data`; at most `room` + 1 bytes come out, so an overflow shows."""
        out = bytearray()
        while data and len(out) <= room:
            try:
                out += self._z.decompress(data, room + 1 - len(out))
            except zlib.error as exc:
                if self._started or self.encoding != "deflate":
                    raise BodyDecodeError(f"corrupt {self.encoding} body: {exc}") from exc
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as servers send
                continue
            self._started = True
            data = self._z.unconsumed_tail
            if self._z.eof and self._z.unused_data[:2] == b"\x1f\x8b":  # another gzip member
                data, self._z = self._z.unused_data, zlib.decompressobj(self._wbits)
        return bytes(out)


class BoundedBody:
    """Collects a response body, decoding Content-Encoding, within `max_bytes` at every step."""

    def __init__(self, content_encoding: str, *, max_bytes: int) -> None:
        names = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        names = [n for n in names if n != "identity"]
        unknown = [n for n in names if n not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise BodyDecodeError(f"unsupported Content-Encoding {unknown[0]!r}")
        self.max_bytes = max_bytes
        self._layers = [_Inflater(name) for name in reversed(names)]
        self._raw = 0
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, raw: bytes) -> None:
        """Take one chunk as received; raises BodyTooLargeError once past the cap."""
        self._raw += len(raw)
        if self._raw > self.max_bytes:
            raise BodyTooLargeError(f"more than {self.max_bytes} bytes received")
        data = raw
        for layer in self._layers:
            data = layer.feed(data, self.max_bytes - self._size)
            if self._size + len(data) > self.max_bytes:
                raise BodyTooLargeError(f"more than {self.max_bytes} bytes once decoded "
                                        f"({self._raw} received)")
        self._size += len(data)
        self._chunks.append(data)

    def content(self) -> bytes:
        """The decoded body so far."""
        return b"".join(self._chunks)


class Fetcher:
    """Fetches feeds over shared httpx clients; use as `async with Fetcher() as f`.

    Open clients for the feeds file's feeds, and clients whose connections go through the
    SSRF guard (bot/feeds/guard.py) for feeds added from chat (`fetch(..., guard=True)`);
    `allow_networks` lists internal networks guarded fetches may reach anyway; `ssl_context`
    replaces the default (certifi's CAs) for both, e.g. for a private CA. Each kind is
    split into `shards` clients by host: httpcore checks every pooled connection of a client
    on each request, so one pool holding connections to many hosts costs O(connections) per
    request; a host always maps to the same shard, so its keep-alive connections are reused.
    `max_items` travels with `max_bytes`: the most items of one fetched document that are
    kept (the newest; bot/feeds/poll.py hands it to the parser). `user_agent` is sent with
    every request (Settings.http_user_agent).
    """

    def __init__(self, *, timeout: float = 20.0, max_bytes: int = 10 * 1024 * 1024,
                 max_items: int = MAX_ITEMS, max_connections: int = 100,
                 connect_timeout: float = 10.0,
                 total_timeout: float | None = None,
                 allow_networks: Sequence[Network] = (), shards: int = 16,
                 ssl_context: ssl.SSLContext | None = None,
                 user_agent: str = USER_AGENT) -> None:
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self.max_items = max_items
        self.total_timeout = total_timeout or timeout + connect_timeout
        self.allow_networks = tuple(allow_networks)
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._limits = httpx.Limits(max_connections=max_connections,
                                    max_keepalive_connections=max_connections)
        self._shards = max(1, shards)
        self._ssl_context = ssl_context
        self._open: list[httpx.AsyncClient] = []
        self._guarded: list[httpx.AsyncClient] = []

    def _new_client(self, ssl_context: ssl.SSLContext, *, guarded: bool) -> httpx.AsyncClient:
        backend = GuardedBackend(allow=self.allow_networks) if guarded else AsyncioBackend()
        transport = feed_transport(limits=self._limits, ssl_context=ssl_context,
                                   backend=backend)
        return httpx.AsyncClient(
            timeout=self._timeout, limits=self._limits, follow_redirects=True,
            max_redirects=MAX_REDIRECTS, transport=transport, trust_env=not guarded,
            verify=ssl_context, headers={"User-Agent": self.user_agent, "Accept": ACCEPT,
                                         "Accept-Encoding": ACCEPT_ENCODING})

    async def __aenter__(self) -> Self:
        ssl_context = self._ssl_context or httpx.create_ssl_context()
        self._open = [self._new_client(ssl_context, guarded=False) for _ in range(self._shards)]
        self._guarded = [self._new_client(ssl_context, guarded=True)
                         for _ in range(self._shards)]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        for client in (*self._open, *self._guarded):
            await client.aclose()
        self._open, self._guarded = [], []

    def _client(self, url: str, *, guard: bool) -> httpx.AsyncClient | None:
        """The client for `url`'s host (one shard per host), or None outside `async with`."""
        clients = self._guarded if guard else self._open
        if not clients:
            return None
        try:
            host = urlsplit(url).netloc.lower()
        except ValueError:
            host = ""
        return clients[zlib.crc32(host.encode("utf-8", "replace")) % len(clients)]

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None, feed_id: str = "",
                    guard: bool = False) -> FetchResult:
        """GET `url` conditionally; raises FetchError (see the module docstring for kinds).

        With `guard`, every address the host (and each redirect's host) resolves to must be
        public, or the fetch fails with kind `blocked`.
        """
        client = self._client(url, guard=guard)
        if client is None:
            raise RuntimeError("Fetcher used outside `async with`")
        feed = feed_id or redact(url)
        headers = {"If-None-Match": etag, "If-Modified-Since": last_modified}
        try:
            async with asyncio.timeout(self.total_timeout):
                return await self._get(client, url, feed=feed, headers={
                    k: v for k, v in headers.items() if v})
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, BlockedAddressError,
                UnicodeError) as exc:  # UnicodeError: IDNA errors surface raw from httpx
            raise _map_error(exc, feed, url) from exc

    async def _get(self, client: httpx.AsyncClient, url: str, *, feed: str,
                   headers: dict[str, str]) -> FetchResult:
        """Send the request and read the response within the size cap."""
        async with client.stream("GET", url, headers=headers) as response:
            _check_status(response, feed)
            not_modified = response.status_code == 304
            content = await self._read(response, feed)  # a 304 too: so the connection is reused
            if not_modified:
                content = b""
            return FetchResult(
                status=response.status_code, content=content,
                etag=response.headers.get("ETag") or (headers.get("If-None-Match")
                                                      if not_modified else None),
                last_modified=response.headers.get("Last-Modified") or (
                    headers.get("If-Modified-Since") if not_modified else None),
                not_modified=not_modified, url=str(response.url),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                content_type=response.headers.get("Content-Type"),
                max_age=freshness(response.headers),
                link=", ".join(response.headers.get_list("Link")) or None)

    async def _read(self, response: httpx.Response, feed: str) -> bytes:
        """The decoded body, or FetchError (too_large, network) as soon as it is known bad."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(feed, response, f"Content-Length {declared}")
        try:
            body = BoundedBody(response.headers.get("Content-Encoding", ""),
                               max_bytes=self.max_bytes)
            async for chunk in response.aiter_raw():
                body.add(chunk)
        except BodyTooLargeError as exc:
            raise self._too_large(feed, response, exc.detail) from exc
        except BodyDecodeError as exc:
            raise FetchError(feed, f"unable to decode {_shown(response)}: {exc}",
                             kind="network") from exc
        return body.content()

    def _too_large(self, feed: str, response: httpx.Response, detail: str) -> FetchError:
        """The error for a body over the cap."""
        return FetchError(feed, f"{_shown(response)} is over the {self.max_bytes}-byte cap "
                          f"({detail})", kind="too_large")


def _check_status(response: httpx.Response, feed: str) -> None:
    """Raise RateLimitedError for 429/503 and StatusError for any other non-2xx/304 status."""
    status = response.status_code
    if status in RATE_LIMIT_STATUSES:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimitedError(feed, f"HTTP {status} from {_shown(response)} (retry after "
                               f"{wait} s)", status=status, retry_after=wait)
    if status != 304 and not 200 <= status < 300:
        raise StatusError(feed, f"HTTP {status} {response.reason_phrase} from "
                          f"{_shown(response)}", status=status)


def _shown(response: httpx.Response) -> str:
    """The response's URL as messages show it: redacted (userinfo, secret parameters)."""
    return redact(str(response.url))
