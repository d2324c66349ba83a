"""Waiting in tests and benchmarks: poll a condition until it holds, bounded in time.

    await until(lambda: api.calls_of("sendMessage"), "the alert", service, deadline=60)

`condition` may be a function or a coroutine function; its first truthy result is returned.
Reaching the deadline is a failure (`WaitError`, an AssertionError), never a measurement. With
processes to watch (anything with `running` and `log()`, such as tests.service.Service), the
wait also ends as soon as every one of them has exited, and the message carries their logs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, Protocol


class WaitError(AssertionError):
    """A condition did not hold in time, or the processes it depended on exited."""


class Watched(Protocol):
    """A process a wait depends on."""

    @property
    def running(self) -> bool: ...

    def log(self) -> str: ...


async def until(condition: Callable[[], Any], what: str, *watched: Watched,
                deadline: float = 60.0, interval: float = 0.05) -> Any:
    """Poll `condition` until truthy; WaitError after `deadline` seconds, or once every
    watched process has exited."""
    end = time.monotonic() + deadline
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        logs = "".join("\n" + w.log() for w in watched)
        if watched and not any(w.running for w in watched):
            raise WaitError(f"exited while waiting for {what}:{logs}")
        if time.monotonic() > end:
            raise WaitError(f"still waiting after {deadline:.0f} s for {what}{logs}")
        await asyncio.sleep(interval)
