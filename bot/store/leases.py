"""Leases and leader election: `SET NX PX`, compare-and-extend, take-over from dead holders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.errors import StoreError
from bot.store.base import Records
from bot.store.workers import worker_gone, worker_name

log = logging.getLogger("bot.store")

# Compare-and-delete for leases: only the holder's token releases the lock.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Compare-and-extend: only the holder's token renews the lease (ARGV: token, ttl ms).
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# Compare-and-swap: take a lease over from a holder known to be dead (ARGV: dead token,
# new token, ttl ms); also takes a lease that expired meanwhile.
TAKE_OVER = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop` is set, whichever comes first; True if `stop` is set."""
    if seconds > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


class Lease(Records):
    """A named lease its holder keeps by renewing it: `SET NX PX`, then compare-and-extend.

    The stored value is the holder's name (`worker_name()`), so a lease left by a process that
    died on this host is taken over at once (`worker_gone`); any other lease of a dead holder
    expires after `ttl` seconds. `valid_until` is the monotonic time up to which the holder may
    act on the lease: when its last successful acquire or renewal started, plus `ttl`.
    """

    def __init__(self, store: Records, name: str, *, ttl: float, holder: str | None = None
                 ) -> None:
        if ttl <= 0:
            raise ValueError(f"store: lease {name}: ttl must be positive, not {ttl}")
        self.store = store
        self.redis = store.redis
        self.keys = store.keys
        self._take_over = self.redis.register_script(TAKE_OVER)
        self._renew = self.redis.register_script(RENEW)
        self._release = self.redis.register_script(RELEASE)
        self.name = name
        self.ttl = ttl
        self.key = store.keys("lease", name)
        self.holder = holder or worker_name()
        self.valid_until = 0.0

    @property
    def ttl_ms(self) -> int:
        """The lease's time to live in milliseconds."""
        return max(1, int(self.ttl * 1000))

    @property
    def held(self) -> bool:
        """True while this holder may still act on the lease (see `valid_until`)."""
        return time.monotonic() < self.valid_until

    async def acquire(self) -> bool:
        """Take the lease if it is free or its holder is known to be dead; True if ours."""
        started = time.monotonic()
        if await self.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            self.valid_until = started + self.ttl
            return True
        current = await self.redis.get(self.key)
        if current == self.holder:  # ours already: an earlier reply was lost
            return await self.renew()
        if current is None or not worker_gone(current):
            return False
        if not await self._take_over(keys=[self.key],
                                           args=[current, self.holder, self.ttl_ms]):
            return False
        self.valid_until = started + self.ttl
        log.info("store: lease taken over from a dead worker", extra={"kv": {
            "lease": self.name, "dead": current, "holder": self.holder}})
        return True

    async def wait(self, seconds: float, *, every: float = 0.05) -> bool:
        """Try to acquire for up to `seconds`; True once ours."""
        deadline = time.monotonic() + seconds
        while not await self.acquire():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(every)
        return True

    async def renew(self) -> bool:
        """Extend the lease by `ttl` if it is still ours; False (and no longer held) if not."""
        started = time.monotonic()
        ok = bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))
        self.valid_until = started + self.ttl if ok else 0.0
        return ok

    async def release(self) -> None:
        """Give the lease up (only if it is still ours)."""
        self.valid_until = 0.0
        await self._release(keys=[self.key], args=[self.holder])


Callback = Callable[[], Awaitable[None]]


class Leader:
    """Campaigns for a renewed lease so that one live process does a job (Telegram's poller).

    `run` tries for the lease every third of `ttl`. Holding it, it calls `elected`, renews the
    lease every third of `ttl`, and calls `deposed` when a renewal finds the lease gone, when
    no renewal succeeded for two thirds of `ttl` (Redis away: it steps down before the lease
    can expire and another process take over), or when `stop` is set (the lease is then
    released, so another process takes over at once). A leader killed outright is replaced
    when its lease expires, or at once by a process on the same host (`worker_gone`).
    """

    def __init__(self, store: Records, name: str, *, ttl: float = 15.0,
                 holder: str | None = None) -> None:
        self.lease = Lease(store, name, ttl=ttl, holder=holder)
        self.leading = False

    async def run(self, stop: asyncio.Event, *, elected: Callback, deposed: Callback) -> None:
        """Lead whenever possible until `stop` is set."""
        lease, pause = self.lease, self.lease.ttl / 3
        while not stop.is_set():
            if not await self._campaign():
                await sleep_unless(stop, pause)
                continue
            try:
                await elected()
            except Exception:  # could not start the job: let another process try
                log.exception("store: the leader's job failed to start",
                              extra={"kv": {"lease": lease.name}})
                await self._release()
                await sleep_unless(stop, pause)
                continue
            self.leading = True
            try:
                await self._hold(stop)
            finally:
                self.leading = False
                try:
                    await deposed()
                except Exception:
                    log.exception("store: the leader's job failed to stop",
                                  extra={"kv": {"lease": lease.name}})
                if stop.is_set():
                    await self._release()

    async def _campaign(self) -> bool:
        try:
            won = await self.lease.acquire()
        except StoreError as exc:
            log.warning("store: cannot campaign for a lease", extra={"kv": {
                "lease": self.lease.name, "error": str(exc)}})
            return False
        if won:
            log.info("store: elected", extra={"kv": {"lease": self.lease.name,
                                                     "holder": self.lease.holder}})
        return won

    async def _hold(self, stop: asyncio.Event) -> None:
        """Renew until the lease is lost, cannot be renewed in time, or `stop` is set."""
        lease = self.lease
        while not await sleep_unless(stop, lease.ttl / 3):
            try:
                if await lease.renew():
                    continue
                log.warning("store: lease lost to another worker", extra={"kv": {
                    "lease": lease.name}})
                return
            except StoreError as exc:
                if time.monotonic() < lease.valid_until - lease.ttl / 3:
                    continue
                log.warning("store: cannot renew a lease; stepping down", extra={"kv": {
                    "lease": lease.name, "error": str(exc)}})
                return

    async def _release(self) -> None:
        with contextlib.suppress(StoreError):
            await self.lease.release()

