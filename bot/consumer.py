"""The delivery worker as a member of the outbox's consumer group: its loops (`drain`, `run`),
its heartbeat, keeping the entries and leases it holds fresh, and taking over the entries of
dead consumers (`reap`); see bot/outbox.py for the guarantees, and Deliverer for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.alerts import AlertComposer
from bot.archive import Archive
from bot.channel import Channel
from bot.chats import ChatDirectory
from bot.events import forwarding
from bot.metrics import Metrics
from bot.models import Delivery, Story
from bot.pacing import Pace, Pacer, PacingStoppedError
from bot.store import (
    STORE_DOWN,
    Lease,
    Sent,
    Store,
    retire_worker,
    revive_worker,
    sleep_unless,
    worker_gone,
    worker_name,
)
from bot.store.outbox import BATCH, CLAIM_IDLE_MS, Outbox

log = logging.getLogger("bot.outbox")

T = TypeVar("T")

ARCHIVE_TTL = 4 * 86_400  # only read by the default composer; the archive's writer sets TTLs
CONCURRENCY = 16  # chats delivered at once by one worker
COALESCE_AT = 3  # new alerts for one chat in one batch that become one combined message
GATHER_SECONDS = 0.5  # after the first entries arrive, wait this long for the rest of a burst
HEARTBEAT_TTL = 10.0
REAP_SECONDS = 2.0
REDIS_RETRY_SECONDS = 1.0
FAILURE_PAUSE = 1.0


@dataclass(frozen=True, slots=True)
class Item:
    """One story to tell one chat about: its entries, the rules that brought it, what the
    chat was shown of it before (None: nothing, or only in a list)."""

    story: Story
    rules: tuple[str, ...]
    ids: tuple[str, ...]
    sent: Sent | None = None


@dataclass(slots=True)
class Tally:
    """Messages sent or edited, deliveries that failed, chats left for later (busy); diverted:
    the chat turned out paused or moved (the rest of its items must not be sent there)."""

    done: int = 0
    failed: int = 0
    busy: int = 0
    diverted: bool = False

    def add(self, other: Tally) -> None:
        self.done += other.done
        self.failed += other.failed
        self.busy += other.busy
        self.diverted = self.diverted or other.diverted


@dataclass(slots=True)
class InHand:
    """What this worker holds now: entries read and not yet acknowledged, chat leases."""

    entries: set[str] = field(default_factory=set)
    leases: set[Lease] = field(default_factory=set)


class OutboxConsumer:
    """Reads the outbox as one consumer of its group; `_deliver_batch` does the work."""

    def __init__(self, store: Store, outbox: Outbox, channels: Mapping[str, Channel], *,
                 composer: AlertComposer | None = None, consumer: str | None = None,
                 claim_idle_ms: int = CLAIM_IDLE_MS, paces: Mapping[str, Pace] | None = None,
                 concurrency: int = CONCURRENCY, coalesce_at: int = COALESCE_AT,
                 gather: float = GATHER_SECONDS, heartbeat_ttl: float = HEARTBEAT_TTL,
                 admins: Sequence[str] = (), metrics: Metrics | None = None,
                 stop: asyncio.Event | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if coalesce_at < 2 or concurrency < 1:
            raise ValueError("delivery: coalesce_at must be >= 2 and concurrency >= 1")
        self.store = store
        self.clock = clock
        self.metrics = metrics if metrics is not None else Metrics()
        self.composer = composer or AlertComposer(
            chats=ChatDirectory(store), archive=Archive(store, ttl=ARCHIVE_TTL))
        self.outbox = outbox
        self.channels = channels
        self.consumer = consumer or worker_name()
        self.claim_idle_ms = claim_idle_ms
        self.coalesce_at = coalesce_at
        self.gather = gather
        self.heartbeat_ttl = heartbeat_ttl
        self.admins = tuple(admins)  # told once when a chat is paused
        self._gate = asyncio.Semaphore(concurrency)
        self._stop = stop or asyncio.Event()  # ends `run` and every wait for a slot
        self._in_hand = InHand()
        self._missing: dict[str, float] = {}  # consumers seen without heartbeat, since when
        self.pacer = Pacer(store, paces, name=self.consumer, stop=self._stop)

    # --- the loops ----------------------------------------------------------------------------

    async def drain(self) -> int:
        """Deliver everything queued now; returns the number of messages sent or edited."""
        delivered = 0
        async with self._working():
            await self.reap()
            while entries := await self.outbox.read(self.consumer,
                                                    claim_idle_ms=self.claim_idle_ms):
                tally = await self._deliver_batch(entries)
                delivered += tally.done
                if tally.busy:
                    await asyncio.sleep(0.2)  # a chat another worker is delivering to
        return delivered

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver continuously until `stop` (or the stop event given at construction) is set,
        through Redis outages and failures."""
        next_reap = 0.0
        async with forwarding(stop, self._stop, name="delivery:stop"), self._working():
            stop = self._stop
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_reap:
                        await self.reap()
                        next_reap = time.monotonic() + REAP_SECONDS
                    tally = await self._turn()
                except PacingStoppedError:
                    break
                except STORE_DOWN as exc:
                    log.warning("delivery: Redis is unavailable; retrying", extra={"kv": {
                        "consumer": self.consumer, "error": str(exc)}})
                    await sleep_unless(stop, REDIS_RETRY_SECONDS)
                    continue
                except Exception:  # a bug must not stop delivery for good
                    log.exception("delivery: unexpected error", extra={"kv": {
                        "consumer": self.consumer}})
                    await sleep_unless(stop, FAILURE_PAUSE)
                    continue
                if tally.failed or tally.busy:
                    await sleep_unless(stop, FAILURE_PAUSE if tally.failed else 0.2)

    async def _turn(self) -> Tally:
        """Read a batch (waiting up to a second), let a burst gather, deliver it."""
        entries = await self.outbox.read(self.consumer, block_ms=1000,
                                         claim_idle_ms=self.claim_idle_ms)
        if entries and self.gather > 0 and not await sleep_unless(self._stop, self.gather):
            entries += await self.outbox.read_new(self.consumer, count=BATCH)
        return await self._deliver_batch(entries)

    @contextlib.asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        """Keep this consumer's heartbeat, entries and leases fresh while it works; on the way
        out drop the heartbeat and, with nothing pending, the consumer itself."""
        revive_worker(self.consumer)
        with contextlib.suppress(*STORE_DOWN):
            await self._beat()
        keeper = asyncio.create_task(self._keep_alive(), name="delivery:keepalive")
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            retire_worker(self.consumer)  # what it leaves pending is for others to take
            with contextlib.suppress(*STORE_DOWN):
                await self.outbox.stop_beating(self.consumer)
                await self.outbox.forget(self.consumer)

    async def _beat(self) -> None:
        await self.outbox.beat(self.consumer, ttl=self.heartbeat_ttl)

    async def _keep_alive(self) -> None:
        """Every third of the heartbeat TTL: heartbeat, touch entries in hand, renew leases."""
        while True:
            await asyncio.sleep(self.heartbeat_ttl / 3)
            try:
                await self._beat()
                await self.outbox.touch(self.consumer, sorted(self._in_hand.entries))
                for lease in list(self._in_hand.leases):
                    await lease.renew()
            except STORE_DOWN as exc:
                log.warning("delivery: cannot renew the heartbeat", extra={"kv": {
                    "consumer": self.consumer, "error": str(exc)}})

    async def reap(self) -> int:
        """Claim the pending entries of dead consumers (see the module docstring) and delete
        the dead ones with nothing pending; returns the entries claimed."""
        claimed, now = 0, time.monotonic()
        for name, pending in await self.outbox.consumers():
            if name == self.consumer:
                continue
            if worker_gone(name):  # its heartbeat may not have expired yet
                await self.outbox.stop_beating(name)
            elif await self.outbox.beating(name):
                self._missing.pop(name, None)
                continue
            elif now - self._missing.setdefault(name, now) < self.heartbeat_ttl:
                continue
            if pending:
                taken = await self.outbox.take_over(name, self.consumer)
                claimed += taken
                log.warning("delivery: took over the entries of a dead worker", extra={"kv": {
                    "dead": name, "consumer": self.consumer, "entries": taken}})
            if await self.outbox.forget(name):
                self._missing.pop(name, None)
                log.info("delivery: removed a dead consumer", extra={"kv": {"dead": name}})
        return claimed

    async def _deliver_batch(self, entries: list[tuple[str, Delivery]]) -> Tally:
        """Deliver a batch (Deliverer)."""
        raise NotImplementedError

    async def _call(self, chat: str, channel: Channel, call: Callable[..., Awaitable[T]],
                    *args: Any) -> T:
        """`call(*args)` in its slot of the platform's pace (see `bot.pacing`)."""
        return await self.pacer.call(chat, channel.platform, call, *args)

    async def _sleep(self, seconds: float) -> None:
        """Wait unless stopping; raise PacingStoppedError if the stop event is set meanwhile."""
        await self.pacer.sleep(seconds)
