"""A lean asyncio network backend for httpx, so polling thousands of feeds costs less CPU.

httpx talks to sockets through httpcore's anyio backend, which on every request asks each
idle pooled connection whether the server closed it: anyio rebuilds a dict of socket
attributes (a `getpeername` system call among them) and httpcore then polls the socket. At
thousands of feeds that bookkeeping cost more CPU than the HTTP itself. `AsyncioBackend`
opens plain asyncio streams instead; whether an idle connection was closed is read from the
stream's own state (EOF seen, transport closing), with no system call, and timeouts are
`asyncio.timeout`. `feed_transport` installs a backend in httpx's own transport (httpx has
no parameter for it, so the pool it builds is swapped for an identical one; `_pool` is the
attribute httpx has used since 0.18, and the feed tests fail loudly if that changes).
"""

from __future__ import annotations

import asyncio
import ssl
import typing

import httpcore
import httpx

SocketOption = httpcore.SOCKET_OPTION


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection as an asyncio StreamReader/StreamWriter pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self, max_bytes: int,
                   timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - httpcore's API
        """Up to `max_bytes`; b"" once the server closed the connection."""
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(f"read timed out after {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes,
                    timeout: float | None = None) -> None:  # noqa: ASYNC109 - httpcore's API
        """Send all of `buffer`."""
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"write timed out after {timeout} s") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Close the connection without waiting for the peer."""
        self._writer.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's API
                        ) -> httpcore.AsyncNetworkStream:
        """Upgrade this connection to TLS in place."""
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._writer.close()
            raise httpcore.ConnectTimeout(f"TLS handshake timed out after {timeout} s") from exc
        except (OSError, ssl.SSLError) as exc:
            self._writer.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        """What httpcore asks about: TLS object, addresses, socket, and whether closed."""
        if info == "is_readable":  # on an idle connection: the server closed it
            return self._reader.at_eof() or self._writer.transport.is_closing()
        names = {"ssl_object": "ssl_object", "client_addr": "sockname",
                 "server_addr": "peername", "socket": "socket"}
        return self._writer.get_extra_info(names[info]) if info in names else None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens connections as asyncio streams (see the module docstring)."""

    async def connect_tcp(self, host: str, port: int,
                          timeout: float | None = None,  # noqa: ASYNC109 - httpcore's API
                          local_address: str | None = None,
                          socket_options: typing.Iterable[SocketOption] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        """Connect to `host` (a name or an address) and `port`."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
            self, path: str,
            timeout: float | None = None,  # noqa: ASYNC109 - httpcore's API
            socket_options: typing.Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Feeds are fetched over TCP only."""
        raise httpcore.ConnectError(f"unix sockets are not used for feeds ({path})")

    async def sleep(self, seconds: float) -> None:
        """asyncio's sleep."""
        await asyncio.sleep(seconds)


def feed_transport(*, limits: httpx.Limits, ssl_context: ssl.SSLContext,
                   backend: httpcore.AsyncNetworkBackend) -> httpx.AsyncHTTPTransport:
    """httpx's transport with its connection pool opening sockets through `backend`."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
    if not hasattr(transport, "_pool"):  # pragma: no cover - an httpx we do not know
        raise RuntimeError("httpx.AsyncHTTPTransport has no _pool; cannot set its backend")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, network_backend=backend)
    return transport
