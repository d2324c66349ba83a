"""Shaping messages to each platform's limits, shared by every worker through Redis.

Every message a worker sends (alerts, edits, combined bursts, digests, released held alerts)
first takes a slot from `Pacer.call`: one Lua call on the Redis clock grants it when the
platform's window, the bot's least gap and the chat's interval allow, so N processes sharing
one Redis together stay within the platform's limits. Those limits are written once, here
(`TelegramLimits`, `SlackLimits`, as the platforms state them), and the paces derived from
them with a margin: Telegram at most 28 messages in any second and 25 ms apart, one per
1.1 s per private chat, one per 3.1 s per group or channel (20/min); Slack one per 1.1 s per
channel. A `retry_after` from the platform pauses the whole
platform for every worker (a pause key), and the call is made again; it is never counted as a
failure. Platforms without a `Pace` (the console) are not shaped.

    pacer = Pacer(store)                       # PACES, a name of its own
    ref = await pacer.call(chat, "telegram", channel.post, chat, message)

Waits end early when `pacer.stop` is set: `call` then raises `PacingStopped` and the caller
keeps what it was sending for later (outbox entries stay pending).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import RetryAfterError
from bot.store import PaceRecords, Store, sleep_unless, worker_name

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_RETRY_AFTER = 300.0  # the longest single wait a `retry_after` may ask for

@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramLimits:
    """Telegram's broadcast limits for a bot, as Telegram states them (seconds); 0 turns a
    limit off. The one definition: `telegram_pace` keeps every worker together below them
    (PACES), and each process's Telegram client holds its requests to them as they are
    (`bot.platforms.telegram.FloodControl`)."""

    chat_interval: float = 1.0  # one message a second in one chat
    group_rate: int = 20  # messages per `group_period` in one group or channel
    group_period: float = 60.0
    overall_rate: int = 30  # messages per `overall_period` for the whole bot
    overall_period: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackLimits:
    """Slack's limit for chat.postMessage, as Slack states it: about one message a second
    in one channel (seconds)."""

    channel_interval: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Pace:
    """How fast one platform may be sent to, shared by every worker (seconds)."""

    per_window: int  # messages of the bot in any `window` (0: no such limit)
    window: float
    gap: float  # least time between two messages of the bot
    chat_interval: float  # least time between two messages to one private chat
    group_interval: float  # ... to one group or channel

    def chat_gap(self, chat: str) -> float:
        """The spacing for messages to `chat` (a Telegram group or channel: `-123`, `@name`)."""
        raw = chat.partition(":")[2]
        return self.group_interval if raw.startswith(("-", "@")) else self.chat_interval


# The pace keeps below a platform's limits: slack for the jitter between when we send and
# when the platform counts.
JITTER = 0.1  # seconds added to every interval
HEADROOM = 2  # messages of the platform's overall rate left unused
SPREAD = 0.025  # least seconds between two messages of the bot, so that a window's
# messages are not sent at once


def telegram_pace(limits: TelegramLimits) -> Pace:
    """Telegram's pace: HEADROOM fewer messages than its overall rate in any period, SPREAD
    apart, and each chat's interval (a group's: its period over its rate) plus JITTER."""
    group = limits.group_period / limits.group_rate if limits.group_rate else 0.0
    return Pace(per_window=max(limits.overall_rate - HEADROOM, 0),
                window=limits.overall_period, gap=SPREAD,
                chat_interval=limits.chat_interval + JITTER,
                group_interval=max(group, limits.chat_interval) + JITTER)


def slack_pace(limits: SlackLimits) -> Pace:
    """Slack's pace: each channel's interval plus JITTER, no overall window."""
    interval = limits.channel_interval + JITTER
    return Pace(per_window=0, window=1.0, gap=0.0, chat_interval=interval,
                group_interval=interval)


TELEGRAM_LIMITS = TelegramLimits()
SLACK_LIMITS = SlackLimits()
# Telegram: at most 28 messages in any second, 25 ms apart, 1.1 s apart in a private chat and
# 3.1 s in a group or channel; Slack: 1.1 s apart in a channel.
PACES: dict[str, Pace] = {"telegram": telegram_pace(TELEGRAM_LIMITS),
                          "slack": slack_pace(SLACK_LIMITS)}


class PacingStoppedError(Exception):
    """The stop event was set while waiting for a slot or a `retry_after`."""


class Pacer:
    """Takes each message's slot in its platform's pace (shared through Redis) and waits out
    `retry_after` for every worker."""

    def __init__(self, store: Store, paces: Mapping[str, Pace] | None = None, *,
                 name: str | None = None, stop: asyncio.Event | None = None) -> None:
        self.store = store
        self.paces = dict(PACES if paces is None else paces)
        self.name = name or worker_name()
        self.stop = stop or asyncio.Event()
        self._sends = 0
        self._slots = PaceRecords(store)

    async def call(self, chat: str, platform: str, call: Callable[..., Awaitable[T]],
                   *args: Any) -> T:
        """`call(*args)` in its slot of the platform's pace; a `retry_after` pauses the
        platform for every worker and the call is made again (never counted as a failure)."""
        while True:
            await self.slot(chat, platform)
            try:
                return await call(*args)
            except RetryAfterError as exc:
                wait = min(max(exc.retry_after, 0.0), MAX_RETRY_AFTER)
                log.info("delivery: rate limited; waiting", extra={"kv": {
                    "chat": chat, "platform": platform, "retry_after": wait}})
                if platform in self.paces:
                    await self._slots.pause(platform, _ms(wait))
                else:
                    await self.sleep(wait)

    async def slot(self, chat: str, platform: str) -> None:
        """Wait for a slot of the platform's pace (a `retry_after` pause included)."""
        if self.stop.is_set():
            raise PacingStoppedError
        pace = self.paces.get(platform)
        if pace is None:
            return
        self._sends += 1
        member = f"{self.name}:{self._sends}"  # this message's, fixed before any wait: other
        # slots of this pacer count on meanwhile, and two messages under one name count once
        while wait := await self._slots.reserve(
                platform, chat, per_window=pace.per_window, window_ms=_ms(pace.window),
                gap_ms=_ms(pace.gap), chat_gap_ms=_ms(pace.chat_gap(chat)), member=member):
            await self.sleep(wait / 1000)

    async def sleep(self, seconds: float) -> None:
        """Wait unless stopping; raise PacingStoppedError if the stop event is set meanwhile."""
        if await sleep_unless(self.stop, seconds):
            raise PacingStoppedError


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
