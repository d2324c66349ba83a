"""What every store module shares: the client's typing helper and the one place where the
client's errors become `StoreError` (as httpx maps its transport's errors in one place)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import StoreError
from bot.store.keys import Keys

T = TypeVar("T")
P = ParamSpec("P")

# What a caller catches for "the store failed": the typed methods raise StoreError; RedisError
# stays beside it for the paths the mapping cannot wrap (a pipeline left open by a cancelled
# task, a context manager's exit), so that no client error ever escapes a caller's handler.
STORE_FAILURES: tuple[type[Exception], ...] = (StoreError, RedisError)
# The same, and the socket errors a caller that waits for the server also rides out.
STORE_DOWN: tuple[type[Exception], ...] = (*STORE_FAILURES, OSError)


async def done(value: Awaitable[T] | T) -> T:
    """Await a redis-py call whose async variant is typed `Awaitable[T] | T`."""
    return await value if inspect.isawaitable(value) else value


@contextmanager
def translated() -> Iterator[None]:
    """Raise the client's errors (connection lost, timeout, bad reply) as StoreError."""
    try:
        yield
    except RedisError as exc:
        raise StoreError(f"store: {exc}") from exc


def _translating(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        with translated():
            return await method(*args, **kwargs)
    return call


class Records:
    """Base of the store's record classes: a client and the key names. Every public coroutine
    method of a subclass raises the client's errors as StoreError."""

    redis: aioredis.Redis
    keys: Keys

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(value):
                setattr(cls, name, _translating(value))


class RecordsOf(Records):
    """Records kept beside the Store's own (chats, the outbox...): built from a Store."""

    def __init__(self, store: Records) -> None:
        self.store = store
        self.redis = store.redis
        self.keys = store.keys
