"""Feeds fetched over real HTTP from a loopback server, then parsed into Articles."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from bot.errors import FetchError, ParseError
from bot.feeds.fetch import (
    USER_AGENT,
    BodyTooLargeError,
    BoundedBody,
    Fetcher,
    RateLimitedError,
    StatusError,
    _Inflater,
    freshness,
)
from bot.feeds.parse import parse_feed_async
from bot.models import FeedSpec
from tests.feedserver import FeedServer, atom, rss

SEOUL = timezone(timedelta(hours=9))


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A Fetcher with a short timeout so failure tests stay quick."""
    async with Fetcher(timeout=0.5, max_bytes=100_000) as f:
        yield f


async def test_rss_over_http_becomes_articles(srv: FeedServer, fetcher: Fetcher) -> None:
    """An RSS feed fetched over HTTP yields plain-text articles with UTC times and outlets."""
    url = srv.add("/voa.xml", rss([
        {"title": "<b>韩国</b>召见俄罗斯大使", "link": "https://www.voachinese.com/a/1.html",
         "description": "<p>首尔 &amp; 莫斯科</p>", "guid": "voa-1",
         "pubDate": datetime(2024, 10, 21, 17, 0, tzinfo=SEOUL)},
        {"title": "Second", "link": "https://www.voachinese.com/a/2.html",
         "description": "text two", "pubDate": "Mon, 21 Oct 2024 09:00:00 GMT"},
    ], language="zh-cn"))
    result = await fetcher.fetch(url, feed_id="voa")
    articles = await parse_feed_async(result.content, feed=FeedSpec(id="voa", url=url),
                                      url=result.url, content_type=result.content_type)
    assert result.status == 200 and not result.not_modified and result.url == url
    assert [a.title for a in articles] == ["韩国召见俄罗斯大使", "Second"]
    assert [a.url for a in articles] == ["https://www.voachinese.com/a/1.html",
                                         "https://www.voachinese.com/a/2.html"]
    assert articles[0].published == datetime(2024, 10, 21, 8, 0, tzinfo=UTC)
    assert articles[1].published == datetime(2024, 10, 21, 9, 0, tzinfo=UTC)
    assert articles[0].text == "首尔 & 莫斯科" and articles[0].guid == "voa-1"
    assert {a.outlet for a in articles} == {"VOA"} and articles[0].language == "zh-cn"
    assert {a.feed_id for a in articles} == {"voa"}


async def test_atom_over_http_becomes_articles(srv: FeedServer, fetcher: Fetcher) -> None:
    """An Atom feed fetched over HTTP yields articles with UTC times and the outlet of its links."""
    url = srv.add("/dw.atom", atom([
        {"title": "朝鲜向俄罗斯派兵", "link": "https://www.dw.com/zh/a-1",
         "summary": "<p>据报道</p>", "id": "tag:dw.com,2024:1",
         "published": "2024-10-21T10:00:00+02:00"},
    ], language="zh-CN"), headers={"Content-Type": "application/atom+xml"})
    result = await fetcher.fetch(url)
    articles = await parse_feed_async(result.content, feed=FeedSpec(id="dw", url=url),
                                      url=result.url, content_type=result.content_type)
    assert len(articles) == 1
    article = articles[0]
    assert (article.title, article.text, article.url) == (
        "朝鲜向俄罗斯派兵", "据报道", "https://www.dw.com/zh/a-1")
    assert article.published == datetime(2024, 10, 21, 8, 0, tzinfo=UTC)
    assert article.outlet == "DW" and article.guid == "tag:dw.com,2024:1"
    assert result.content_type == "application/atom+xml"


async def test_request_names_the_bot_and_accepts_feeds(srv: FeedServer, fetcher: Fetcher) -> None:
    """Requests carry the newsbot User-Agent and an Accept header preferring feed types."""
    url = srv.add("/ua.xml", rss([]))
    await fetcher.fetch(url)
    headers = srv.requests("/ua.xml")[-1]
    assert headers["user-agent"] == USER_AGENT
    assert "application/rss+xml" in headers["accept"]
    assert "application/atom+xml" in headers["accept"]


async def test_conditional_get_with_etag_is_not_modified(srv: FeedServer,
                                                         fetcher: Fetcher) -> None:
    """A second fetch sending the ETag gets 304: not_modified with empty content."""
    url = srv.add("/etag.xml", rss([{"title": "a"}]), etag='"v1"')
    first = await fetcher.fetch(url)
    second = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert first.etag == '"v1"' and not first.not_modified and first.content
    assert second.not_modified and second.status == 304 and second.content == b""
    assert second.etag == '"v1"'
    assert srv.requests("/etag.xml")[-1]["if-none-match"] == '"v1"'
    assert "if-none-match" not in srv.requests("/etag.xml")[0]


async def test_conditional_get_with_last_modified(srv: FeedServer, fetcher: Fetcher) -> None:
    """A fetch sending the Last-Modified value back as If-Modified-Since gets not_modified."""
    stamp = "Mon, 21 Oct 2024 08:00:00 GMT"
    url = srv.add("/lm.xml", rss([{"title": "a"}]), last_modified=stamp)
    first = await fetcher.fetch(url)
    second = await fetcher.fetch(url, last_modified=first.last_modified)
    assert first.last_modified == stamp and second.not_modified
    assert srv.requests("/lm.xml")[-1]["if-modified-since"] == stamp


async def test_redirect_reports_final_url(srv: FeedServer, fetcher: Fetcher) -> None:
    """A redirect is followed and the result names the final URL."""
    target = srv.add("/new.xml", rss([{"title": "moved"}]))
    url = srv.add("/old.xml", status=301, headers={"Location": target})
    result = await fetcher.fetch(url)
    assert result.url == target and result.status == 200 and b"moved" in result.content


async def test_redirect_loop_is_an_http_error(srv: FeedServer, fetcher: Fetcher) -> None:
    """A redirect loop stops after a few hops with FetchError kind http."""
    url = srv.add("/loop.xml", status=302, headers={"Location": "/loop.xml"})
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "http" and srv.count("/loop.xml") <= 6


async def test_gzip_body_is_decoded(srv: FeedServer, fetcher: Fetcher) -> None:
    """A gzip-encoded feed arrives decoded."""
    body = rss([{"title": "zipped"}])
    url = srv.add("/gz.xml", body, gzip=True)
    result = await fetcher.fetch(url)
    assert result.content == body


async def test_malformed_xml_is_a_parse_error(srv: FeedServer, fetcher: Fetcher) -> None:
    """A body that is not XML at all is fetched fine but fails to parse with ParseError."""
    url = srv.add("/bad.xml", b"<?xml version='1.0'?>\n<<<< this is not >> xml </")
    result = await fetcher.fetch(url)
    with pytest.raises(ParseError) as info:
        await parse_feed_async(result.content, feed=FeedSpec(id="bad", url=url), url=url)
    assert info.value.kind == "parse" and info.value.feed == "bad"


async def test_server_error_is_http_kind(srv: FeedServer, fetcher: Fetcher) -> None:
    """HTTP 500 raises FetchError kind http whose message names the status."""
    url = srv.add("/500.xml", b"oops", status=500)
    with pytest.raises(StatusError) as info:
        await fetcher.fetch(url, feed_id="broken")
    assert info.value.kind == "http" and info.value.status == 500
    assert "500" in str(info.value) and info.value.feed == "broken"


async def test_not_found_is_http_kind(srv: FeedServer, fetcher: Fetcher) -> None:
    """HTTP 404 raises FetchError kind http."""
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(srv.url("/missing.xml"))
    assert info.value.kind == "http" and "404" in str(info.value)


async def test_slow_server_times_out(srv: FeedServer, fetcher: Fetcher) -> None:
    """A server slower than the read timeout raises FetchError kind timeout."""
    url = srv.add("/slow.xml", rss([]), delay=2.0)
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "timeout"


async def test_declared_length_over_cap_is_too_large(srv: FeedServer, fetcher: Fetcher) -> None:
    """A Content-Length over max_bytes raises too_large."""
    url = srv.add("/big.xml", b"x" * 200_000)
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "too_large"


async def test_streamed_body_over_cap_is_too_large(srv: FeedServer, fetcher: Fetcher) -> None:
    """A body without Content-Length that grows past max_bytes raises too_large."""
    url = srv.add("/big-stream.xml", b"x" * 200_000, content_length=False)
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "too_large"


async def test_gzip_bomb_is_too_large(srv: FeedServer, fetcher: Fetcher) -> None:
    """A small gzip body that inflates past max_bytes raises too_large."""
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 100_000
    url = srv.add("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "too_large"


async def test_429_is_rate_limited_with_seconds(srv: FeedServer, fetcher: Fetcher) -> None:
    """HTTP 429 with Retry-After in seconds raises rate_limited carrying retry_after."""
    url = srv.add("/429.xml", b"slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "rate_limited" and info.value.retry_after == 120.0
    assert info.value.status == 429


async def test_503_is_rate_limited_with_http_date(srv: FeedServer, fetcher: Fetcher) -> None:
    """HTTP 503 with an HTTP-date Retry-After raises rate_limited with seconds until then."""
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    url = srv.add("/503.xml", b"busy", status=503, headers={"Retry-After": when})
    with pytest.raises(RateLimitedError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "rate_limited" and info.value.retry_after is not None
    assert 3000 < info.value.retry_after <= 3600


async def test_connection_refused_is_network(fetcher: Fetcher) -> None:
    """A port nobody listens on raises FetchError kind network."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert info.value.kind == "network"


async def test_unsupported_scheme_is_url_kind(fetcher: Fetcher) -> None:
    """A URL that is not http(s) raises FetchError kind url."""
    with pytest.raises(FetchError) as info:
        await fetcher.fetch("ftp://127.0.0.1/feed.xml")
    assert info.value.kind == "url"


async def test_gzip_bomb_in_one_chunk_never_inflates_past_the_cap() -> None:
    """Each inflate step yields at most the room left plus one byte, whatever the ratio."""
    bomb = gzip.compress(b"\0" * (50 << 20))
    assert len(bomb) < 65_536  # one network read's worth
    body = BoundedBody("gzip", max_bytes=1 << 20)
    layer = _Inflater("gzip")
    assert len(layer.feed(bomb, 1000)) == 1001
    with pytest.raises(BodyTooLargeError):
        body.add(bomb)
    assert len(body.content()) == 0


@pytest.mark.parametrize("encoding", ["deflate-zlib", "deflate-raw", "gzip-members"])
async def test_deflate_and_multi_member_gzip_are_decoded(srv: FeedServer, fetcher: Fetcher,
                                                         encoding: str) -> None:
    """deflate (zlib-wrapped or raw, as servers send both) and concatenated gzip decode."""
    feed = rss([{"title": "deflated"}])
    if encoding == "deflate-zlib":
        body, header = zlib.compress(feed), "deflate"
    elif encoding == "deflate-raw":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, header = packer.compress(feed) + packer.flush(), "deflate"
    else:
        half = len(feed) // 2
        body, header = gzip.compress(feed[:half]) + gzip.compress(feed[half:]), "gzip"
    url = srv.add(f"/{encoding}.xml", body, headers={"Content-Encoding": header})
    assert (await fetcher.fetch(url)).content == feed


async def test_unasked_content_encoding_is_a_network_error(srv: FeedServer,
                                                           fetcher: Fetcher) -> None:
    """A body in an encoding we did not ask for (br) fails clearly instead of as garbage."""
    url = srv.add("/br.xml", b"\x1b\x00", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.kind == "network" and "'br'" in str(info.value)
    assert srv.requests("/br.xml")[-1]["accept-encoding"] == "gzip, deflate"


FRESHNESS = [
    # (response headers, seconds fresh)
    ({"Cache-Control": "public, max-age=600"}, 600.0),
    ({"Cache-Control": "max-age=600", "Age": "100"}, 500.0),
    ({"Cache-Control": "no-cache, max-age=600"}, None),
    ({"Expires": "Mon, 21 Oct 2024 09:00:00 GMT", "Date": "Mon, 21 Oct 2024 08:30:00 GMT"},
     1800.0),
    ({"Expires": "0"}, None),
    ({}, None),
]


@pytest.mark.parametrize(("headers", "expected"), FRESHNESS)
def test_freshness_from_cache_headers(headers: dict[str, str], expected: float | None) -> None:
    """max-age less Age, else Expires less Date; no-cache or an unreadable date means none."""
    assert freshness(httpx.Headers(headers)) == expected


async def test_fetch_result_carries_max_age(srv: FeedServer, fetcher: Fetcher) -> None:
    """A fetched response reports how long the server says it stays fresh."""
    url = srv.add("/fresh.xml", rss([]), headers={"Cache-Control": "max-age=900"})
    assert (await fetcher.fetch(url)).max_age == 900.0


async def test_guarded_fetch_refuses_loopback_before_connecting(srv: FeedServer,
                                                               fetcher: Fetcher) -> None:
    """With guard=True a loopback URL fails with kind blocked and the server sees nothing."""
    url = srv.add("/guarded.xml", rss([]))
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url, guard=True)
    assert info.value.kind == "blocked" and srv.count("/guarded.xml") == 0
    assert (await fetcher.fetch(url)).status == 200  # the feeds file's feeds may use loopback


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made by the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("guard", [False, True])
async def test_https_feed_is_fetched_and_verified(tls_files: tuple[Path, Path],
                                                  guard: bool) -> None:
    """TLS works through both network backends; an untrusted certificate is refused."""
    cert, key = tls_files
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    allow = [ipaddress.ip_network("127.0.0.1/32")]
    with FeedServer(tls=server_side) as secure:
        url = secure.add("/tls.xml", rss([{"title": "secure"}]))
        async with Fetcher(timeout=5, ssl_context=trusting, allow_networks=allow) as trusted:
            result = await trusted.fetch(url, guard=guard)
            assert result.status == 200 and b"secure" in result.content
        async with Fetcher(timeout=5, allow_networks=allow) as default_cas:
            with pytest.raises(FetchError) as info:
                await default_cas.fetch(url, guard=guard)
    assert info.value.kind == "network" and "CERTIFICATE_VERIFY_FAILED" in str(info.value)
