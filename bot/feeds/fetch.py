"""HTTP fetching of feeds: conditional GET, size cap, timeouts, httpx errors mapped to FetchError.

Kinds of FetchError raised here (`err.kind`):

    http          a 4xx/5xx status other than 429/503, or too many redirects  (StatusError)
    rate_limited  429 or 503; `retry_after` seconds from Retry-After, or None  (RateLimitedError)
    too_large     Content-Length or the decoded body passed `max_bytes`
    timeout       connect/read timeout or the whole request took too long
    network       connection refused, DNS, TLS, protocol or body-decoding failure
    url           the URL is malformed or its scheme is not http(s)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import httpx

from bot.errors import FetchError

USER_AGENT = "newsbot/0.1 (+https://github.com/newsbot)"
ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
MAX_REDIRECTS = 5
RATE_LIMIT_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    """One feed response: body (empty when not modified), validators and final URL."""

    status: int
    content: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    url: str
    retry_after: float | None = None
    content_type: str | None = None


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
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _map_error(exc: Exception, feed: str, url: str) -> FetchError:
    """The FetchError for an httpx (or asyncio timeout) exception raised fetching `url`."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return FetchError(feed, f"timed out fetching {url}", kind="timeout")
    if isinstance(exc, httpx.TooManyRedirects):
        return StatusError(feed, f"more than {MAX_REDIRECTS} redirects from {url}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(feed, f"invalid feed URL {url!r}: {exc}", kind="url")
    return FetchError(feed, f"unable to fetch {url}: {type(exc).__name__}: {exc}",
                      kind="network")


class Fetcher:
    """Fetches feeds over one shared httpx.AsyncClient; use as `async with Fetcher() as f`."""

    def __init__(self, *, timeout: float = 20.0, max_bytes: int = 10 * 1024 * 1024,
                 max_connections: int = 100, connect_timeout: float = 10.0,
                 total_timeout: float | None = None) -> None:
        self.max_bytes = max_bytes
        self.total_timeout = total_timeout or timeout + connect_timeout
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._limits = httpx.Limits(max_connections=max_connections,
                                    max_keepalive_connections=min(20, max_connections))
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            timeout=self._timeout, limits=self._limits, follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None, feed_id: str = "") -> FetchResult:
        """GET `url` conditionally; raises FetchError (see the module docstring for kinds)."""
        if self._client is None:
            raise RuntimeError("Fetcher used outside `async with`")
        feed = feed_id or url
        headers = {"If-None-Match": etag, "If-Modified-Since": last_modified}
        try:
            async with asyncio.timeout(self.total_timeout):
                return await self._get(self._client, url, feed=feed, headers={
                    k: v for k, v in headers.items() if v})
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
            raise _map_error(exc, feed, url) from exc

    async def _get(self, client: httpx.AsyncClient, url: str, *, feed: str,
                   headers: dict[str, str]) -> FetchResult:
        """Send the request and read the response within the size cap."""
        async with client.stream("GET", url, headers=headers) as response:
            _check_status(response, feed)
            not_modified = response.status_code == 304
            content = b"" if not_modified else await self._read(response, feed)
            return FetchResult(
                status=response.status_code, content=content,
                etag=response.headers.get("ETag") or (headers.get("If-None-Match")
                                                      if not_modified else None),
                last_modified=response.headers.get("Last-Modified") or (
                    headers.get("If-Modified-Since") if not_modified else None),
                not_modified=not_modified, url=str(response.url),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                content_type=response.headers.get("Content-Type"))

    async def _read(self, response: httpx.Response, feed: str) -> bytes:
        """The decoded body, or FetchError(too_large) once it passes `max_bytes`."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(feed, response, f"Content-Length {declared}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():  # decoded: counts gzip/deflate output
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(feed, response, f"more than {size} bytes decoded")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, feed: str, response: httpx.Response, detail: str) -> FetchError:
        """The error for a body over the cap."""
        return FetchError(feed, f"{response.url} is over the {self.max_bytes}-byte cap "
                          f"({detail})", kind="too_large")


def _check_status(response: httpx.Response, feed: str) -> None:
    """Raise RateLimitedError for 429/503 and StatusError for any other non-2xx/304 status."""
    status = response.status_code
    if status in RATE_LIMIT_STATUSES:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimitedError(feed, f"HTTP {status} from {response.url} (retry after {wait} s)",
                          status=status, retry_after=wait)
    if status != 304 and not 200 <= status < 300:
        raise StatusError(feed, f"HTTP {status} {response.reason_phrase} from {response.url}",
                          status=status)
