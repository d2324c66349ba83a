"""Shared health figures: the newest successful poll of any worker (`health`, a sorted set)."""

from __future__ import annotations

from bot.store.base import Records, done

_LAST_POLL = "last_poll"


class HealthRecords(Records):
    """What every worker shares for `/healthz` and `/metrics`."""

    async def share_last_poll(self, at: float) -> None:
        """Say this worker polled successfully at `at` (kept only if newer)."""
        await self.redis.zadd(self.keys("health"), {_LAST_POLL: at}, gt=True)

    async def shared_last_poll(self) -> float | None:
        """The newest successful poll of any worker (a Unix time), or None."""
        shared = await self.redis.zscore(self.keys("health"), _LAST_POLL)
        return None if shared is None else float(shared)

    async def answering_last_poll(self) -> float | None:
        """PING, then `shared_last_poll`: raises StoreError unless the server answers."""
        await done(self.redis.ping())
        return await self.shared_last_poll()
