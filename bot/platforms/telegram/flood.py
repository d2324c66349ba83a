"""Flood control inside one process: PTB's rate limiter, holding every message the bot posts or
edits (alerts and command replies alike) to Telegram's limits as Telegram states them.

The limits are defined once, in `bot.pacing.TelegramLimits` (named `FloodLimits` here). Alerts,
edits and digests first take a slot of the shared pace (`bot.pacing.PACES`, derived from the
same limits with a margin, for every worker together), which is stricter, so for them the pace
decides; command replies and button answers are not paced, so for them this decides.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import BaseRateLimiter

from bot.pacing import TelegramLimits as FloodLimits

__all__ = ["FloodControl", "FloodLimits", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]
_MESSAGE_METHODS = ("send", "edit", "copy", "forward")
_MAX_TRACKED_CHATS = 1024


class FloodControl(BaseRateLimiter[None]):
    """Spaces the messages a bot posts or edits so that Telegram's flood limits are not hit.

    A PTB rate limiter: every `send*`, `edit*`, `copy*` and `forward*` call that names a chat
    first waits for its slot. Slots are reserved in call order, at least `chat_interval`
    apart in one chat, at most `group_rate` per `group_period` in a group or channel (negative
    or `@name` ids), then at most `overall_rate` per `overall_period` for the bot. It never
    retries: a RetryAfter reaches the caller (the outbox and the reply path wait it out).
    `clock` and `sleep` are injectable so that the spacing can be tested without waiting.
    """

    def __init__(self, limits: FloodLimits | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.limits = limits or FloodLimits()
        self._clock = clock
        self._sleep = sleep
        self._next: dict[int | str, float] = {}
        self._groups: dict[int | str, deque[float]] = {}
        self._overall: deque[float] = deque(maxlen=max(self.limits.overall_rate, 1))

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(  # noqa: PLR0917 - the signature is PTB's
            self, callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any]
                                                     | list[dict[str, Any]]]],
            args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
            rate_limit_args: None) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the chat's slot when `endpoint` posts into a chat, then call it once."""
        chat_id = data.get("chat_id")
        if chat_id is not None and endpoint.startswith(_MESSAGE_METHODS):
            await self.wait(chat_id)
        return await callback(*args, **kwargs)

    async def wait(self, chat_id: int | str) -> None:
        """Return when one more message may go to `chat_id`."""
        key = _chat_key(chat_id)
        await self._until(self._reserve_chat(key))
        sent = self._reserve_overall()
        self._next[key] = max(self._next.get(key, sent), sent + self.limits.chat_interval)
        await self._until(sent)

    def _reserve_chat(self, key: int | str) -> float:
        """The chat's next slot (and, for groups, within the group quota); reserved now."""
        now, limits = self._clock(), self.limits
        self._prune(now)
        slot = max(now, self._next.get(key, now))
        if limits.group_rate > 0 and (isinstance(key, str) or key < 0):
            times = self._groups.setdefault(key, deque(maxlen=limits.group_rate))
            if len(times) == limits.group_rate:
                slot = max(slot, times[0] + limits.group_period)
            times.append(slot)
        self._next[key] = slot + limits.chat_interval
        return slot

    def _reserve_overall(self) -> float:
        """The bot's next slot within the overall quota; reserved in call order."""
        slot = self._clock()
        if self.limits.overall_rate > 0 and len(self._overall) == self._overall.maxlen:
            slot = max(slot, self._overall[0] + self.limits.overall_period)
        self._overall.append(slot)
        return slot

    async def _until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _prune(self, now: float) -> None:
        """Forget chats whose limits no longer hold anything back."""
        if len(self._next) <= _MAX_TRACKED_CHATS:
            return
        period = self.limits.group_period
        for key in [k for k, slot in self._next.items() if slot <= now]:
            times = self._groups.get(key)
            if not times or times[-1] + period <= now:
                self._next.pop(key)
                self._groups.pop(key, None)


def _chat_key(chat_id: int | str) -> int | str:
    """One key per chat whether PTB got the id as a number or a numeric string."""
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id).lower()
