"""Background work for the length of a block, and stop events passed along: one event set as
soon as another is (a loop woken, a worker's own stop event following its caller's)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None], *, name: str) -> AsyncIterator[None]:
    """Run `work` as a task within the block; it is cancelled (and awaited) at the end."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def forwarding(source: asyncio.Event | None, target: asyncio.Event, *,
                     name: str = "forward") -> AsyncIterator[None]:
    """Within the block, set `target` as soon as `source` is set (nothing if they are one)."""
    if source is None or source is target:
        yield
        return
    if source.is_set():
        target.set()

    async def forward() -> None:
        await source.wait()
        target.set()

    async with in_background(forward(), name=name):
        yield
