"""Requests to WebSub hubs: the HTTP clients (the guarded one for feeds added from chat goes
through the SSRF guard) and the (un)subscription POST with its answer."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from bot.feeds.fetch import parse_retry_after
from bot.feeds.guard import BlockedAddressError, GuardedBackend, Network
from bot.feeds.transport import AsyncioBackend, feed_transport
from bot.logs import redact

REQUESTS_AT_ONCE = 8       # hub requests in flight
ANSWER_BYTES = 1024        # of a hub's error answer, kept for the log


@dataclass(frozen=True, slots=True)
class HubAnswer:
    """How a hub answered a (un)subscription request: accepted, or why not."""

    ok: bool
    error: str = ""
    blocked: bool = False
    retry_after: float | None = None


def hub_client(ssl_context: ssl.SSLContext, *, guarded: bool, allow: Sequence[Network],
               timeout: httpx.Timeout, user_agent: str) -> httpx.AsyncClient:
    """An HTTP client for hubs: no redirects, no proxies from the environment when guarded."""
    backend = GuardedBackend(allow=tuple(allow)) if guarded else AsyncioBackend()
    limits = httpx.Limits(max_connections=REQUESTS_AT_ONCE * 2,
                          max_keepalive_connections=REQUESTS_AT_ONCE)
    return httpx.AsyncClient(
        timeout=timeout, limits=limits, follow_redirects=False, verify=ssl_context,
        transport=feed_transport(limits=limits, ssl_context=ssl_context, backend=backend),
        trust_env=not guarded, headers={"User-Agent": user_agent})


async def post_form(client: httpx.AsyncClient, hub: str, form: dict[str, str], *,
                    within: float) -> HubAnswer:
    """POST a form to the hub within `within` seconds; accepted on any 2xx (the spec says
    202)."""
    try:
        async with asyncio.timeout(within), client.stream(
                "POST", hub, data=form) as response:
            if 200 <= response.status_code < 300:
                return HubAnswer(True)
            said = b""
            async for chunk in response.aiter_raw():
                said += chunk
                if len(said) >= ANSWER_BYTES:
                    break
    except BlockedAddressError as exc:
        return HubAnswer(False, f"refused to contact the hub {redact(hub)}: {exc}",
                         blocked=True)
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, UnicodeError) as exc:
        return HubAnswer(False, redact(f"unable to reach the hub {hub}: "
                                       f"{type(exc).__name__}: {exc}"))
    status = response.status_code
    retry = (parse_retry_after(response.headers.get("Retry-After"))
             if status in (429, 503) else None)
    text = said[:ANSWER_BYTES].decode("utf-8", "replace").strip()
    return HubAnswer(False, redact(f"the hub {hub} answered HTTP {status}: {text}"),
                     retry_after=retry)
