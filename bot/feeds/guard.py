"""Refusing internal addresses for feeds added from chat: every resolved address, every hop.

A feed an admin adds from chat names a host on the internet; it must not become a way to
reach the bot's own network (Redis, cloud metadata at 169.254.169.254, an intranet). Its
fetches go through an httpx transport whose connections are opened by `GuardedBackend`:

- the host is resolved here, and the connection is refused (`BlockedAddressError`) if ANY of
  its addresses is loopback, private, link-local, shared (CGNAT), multicast, reserved or
  otherwise not globally routable, including IPv4 addresses embedded in IPv6 forms
  (`::ffff:127.0.0.1`, 6to4, Teredo);
- the socket is then opened to one of the addresses just checked, never by name again, so a
  DNS answer that changes between the check and the connect (rebinding) cannot slip through;
- redirects are followed by httpx, and every hop to a new host opens its connection through
  the same backend, so a public URL that redirects to `http://127.0.0.1/` is refused too.

Before that, when a feed is added (`/feeds add`, OPML import), `url_problem` refuses URLs
that are not http(s), hosts the fetcher cannot look up, and hosts that are obviously internal
(an internal IP literal in any IPv4 notation, `localhost`, single-label and local names);
`/feeds add` then resolves the name once (`resolves_internal`) for a quick refusal.

The feeds file is trusted: its feeds are fetched without the guard, which is how tests and
intranet deployments reach loopback and private servers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore

from bot.feeds.sources import host_fault
from bot.feeds.transport import AsyncioBackend

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]  # host, port -> addresses (DNS)

_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_IPV4_FORMS_RE = re.compile(r"[0-9a-fx.]+")


class BlockedAddressError(Exception):
    """A guarded fetch would connect to an internal address; `host` resolved to `address`."""

    def __init__(self, host: str, address: str) -> None:
        where = (f"{host} is an internal address" if host.strip("[]") == address
                 else f"{host} resolves to the internal address {address}")
        super().__init__(f"{where}; feeds added from chat may only reach public hosts")
        self.host = host
        self.address = address


def is_internal_address(address: Address) -> bool:
    """True for any address that is not a plain global unicast one (v4 inside v6 included)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour,
                    *(address.teredo or ())]
        if any(v4 is not None and is_internal_address(v4) for v4 in embedded):
            return True
    return not address.is_global or address.is_multicast


def first_internal(host: str, addresses: Iterable[str], *,
                   allow: Sequence[Network] = ()) -> str | None:
    """The first of `addresses` (strings, IPv6 scope allowed) that is internal, else None."""
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if is_internal_address(address) and not any(address in net for net in allow):
            return text
    return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection, in the resolver's order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0])
        if text not in found:
            found.append(text)
    return found


async def resolves_internal(host: str, port: int = 443, *, allow: Sequence[Network] = (),
                            resolver: Resolver = resolve) -> str | None:
    """The internal address `host` resolves to (by `resolver`), if any; None when all are
    public or unknown.

    For a quick refusal when a feed is added; the fetch-time check in `GuardedBackend` is the
    one that counts (DNS answers change).
    """
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError):
        return None
    return first_internal(host, addresses, allow=allow)


def url_problem(url: str) -> tuple[str, dict[str, str]] | None:
    """Why `url` cannot be a feed (message key and fields), or None if it may be one.

    Only http(s) URLs whose host is a name the fetcher can look up (`host_fault`: no empty
    or over-long label, valid IDNA) and not obviously internal: loopback, private, link-local
    and other non-global addresses (any IPv4 notation), `localhost` and single-label names.
    Names that resolve to internal addresses are refused by `/feeds add` after a DNS lookup,
    and again by the fetcher on every connection and redirect.
    """
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        return "feeds.bad_url", {"url": url}
    if parts.scheme.lower() not in ("http", "https") or not host or len(url) > 2000:
        return "feeds.bad_url", {"url": url}
    if (fault := host_fault(host)) is not None:
        kind, fields = fault
        return f"feeds.bad_host.{kind}", {"host": host, **fields}
    if is_internal_host(host):
        return "feeds.internal", {"host": host}
    return None


def is_internal_host(host: str) -> bool:
    """True for IP literals that are internal (`is_internal_address`) and for names that are
    obviously local."""
    name = host.strip("[]").rstrip(".").lower()
    address = _ip_literal(name)
    if address is not None:
        return is_internal_address(address)
    return "." not in name or name == "localhost" or name.endswith(_INTERNAL_SUFFIXES)


def _ip_literal(name: str) -> Address | None:
    """The address `name` spells, including IPv4 forms like `127.1` or `0x7f000001`."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not _IPV4_FORMS_RE.fullmatch(name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


class GuardedBackend(AsyncioBackend):
    """A network backend that connects only to checked, public addresses."""

    def __init__(self, *, allow: Sequence[Network] = ()) -> None:
        self.allow = tuple(allow)

    async def connect_tcp(self, host: str, port: int,
                          timeout: float | None = None,  # noqa: ASYNC109 - httpcore's API
                          local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        """Resolve `host`, refuse if any address is internal, connect to a checked address."""
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        blocked = first_internal(host, addresses, allow=self.allow)
        if blocked is not None:
            raise BlockedAddressError(host, blocked)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await super().connect_tcp(
                    address.split("%", 1)[0], port, timeout=timeout,
                    local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error
