"""Answers through a command's or a press's `response_url`: one post, its 429 and HTTP errors
made ours, and the retries that wait out Slack's `Retry-After`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import ChannelError, RetryAfterError
from bot.platforms.layout import clip
from bot.platforms.slack.channel import retry_after_header

log = logging.getLogger(__package__)

REPLY_ATTEMPTS = 5  # posts of one reply to its response_url, 429s included
RESPONSE_URL_USES = 5  # Slack accepts at most five posts to one response_url
MAX_RETRY_WAIT = 60.0  # seconds; a response_url stays valid for 30 minutes


async def respond(client: AsyncWebClient, url: str, message: dict[str, Any], *, chat: str,
                  sleep: Callable[[float], Awaitable[object]]) -> bool:
    """Post to the response_url, waiting out 429s; False (logged) if it never got there."""
    for attempt in range(1, REPLY_ATTEMPTS + 1):
        try:
            await post_response(client, url, message)
            return True
        except RetryAfterError as exc:
            wait = min(exc.retry_after, MAX_RETRY_WAIT)
            log.warning("slack: command reply rate-limited", extra={"kv": {
                "chat": chat, "attempt": attempt, "retry_after": wait}})
            if attempt < REPLY_ATTEMPTS:
                await sleep(wait)
        except ChannelError as exc:
            log.warning("slack: unable to post a command reply",
                        extra={"kv": {"chat": chat, "error": str(exc)}})
            return False
    return False


async def post_response(client: AsyncWebClient, url: str, message: dict[str, Any]) -> None:
    """One post to a response_url (over `client`'s session); its 429 and HTTP errors become
    our errors."""
    if not url.startswith(("https://", "http://")):
        raise ChannelError("slack: the command came without a response_url")
    hook = AsyncWebhookClient(url, session=client.session, timeout=client.timeout,
                              retry_handlers=[])
    try:
        response = await hook.send_dict(message)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ChannelError("slack: unable to post to the response_url: "
                           f"{str(exc) or type(exc).__name__}") from exc
    status = response.status_code
    if status == 429:
        raise RetryAfterError("slack: the response_url answered 429",
                              retry_after=retry_after_header(response.headers))
    if not 200 <= status < 300:
        raise ChannelError(f"slack: the response_url answered HTTP {status}: "
                           f"{clip(response.body or '', 100)}")
