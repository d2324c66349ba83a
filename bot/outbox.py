"""The durable outbox (a Redis Stream with a consumer group) and the delivery worker.

Routing appends (chat, story) entries; delivery reads them, renders the story's CURRENT state
and either sends a new alert or edits the one already sent, recording the message reference
and the story version per (chat, story). A new alert for a chat that is muted or in its quiet
hours is held (see `bot.digest`) instead of sent. Re-reading an entry whose version was
already shown is a no-op, so several entries for one story collapse into one message, and an
entry is acknowledged only after the platform accepted it (at-least-once, never dropped).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import ResponseError

from bot.alerts import LISTED_PREFIX, AlertComposer
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.errors import ChannelError, MessageGoneError, RetryAfterError
from bot.models import Alert, Delivery, Story
from bot.platforms.base import Channel
from bot.store import Store, done

log = logging.getLogger(__name__)

GROUP = "deliver"
MAX_ATTEMPTS = 5
MAX_RETRY_AFTER = 300.0
CLAIM_IDLE_MS = 60_000  # entries a vanished worker read but never acknowledged
ARCHIVE_TTL = 4 * 86_400  # only read by the default composer; the archive's writer sets TTLs


class Outbox:
    """The stream of pending deliveries."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stream = store.keys("outbox")
        self.dead = store.keys("outbox", "dead")
        self.attempts = store.keys("outbox", "attempts")

    async def ensure_group(self) -> None:
        """Create the consumer group (and stream) if missing."""
        try:
            await self.store.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def put(self, delivery: Delivery) -> None:
        """Append a delivery."""
        await self.store.redis.xadd(self.stream, {
            "chat": delivery.chat, "story": delivery.story_id,
            "rules": json.dumps(delivery.rule_ids)})

    async def read(self, consumer: str, *, count: int = 100, block_ms: int | None = None,
                   claim_idle_ms: int = CLAIM_IDLE_MS) -> list[tuple[str, Delivery]]:
        """Entries left by dead workers, this consumer's unacknowledged ones, then new ones."""
        _, claimed, *_ = await self.store.redis.xautoclaim(
            self.stream, GROUP, consumer, claim_idle_ms, start_id="0-0", count=count)
        if entries := [(entry_id, _delivery(f)) for entry_id, f in claimed if f]:
            return entries
        for start in ("0", ">"):
            reply = await self.store.redis.xreadgroup(
                GROUP, consumer, {self.stream: start}, count=count,
                block=block_ms if start == ">" else None)
            entries = [(entry_id, _delivery(fields))
                       for _, items in reply or [] for entry_id, fields in items if fields]
            if entries:
                return entries
        return []

    async def ack(self, *entry_ids: str) -> None:
        """Mark entries done."""
        if entry_ids:
            async with self.store.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, GROUP, *entry_ids)
                pipe.xdel(self.stream, *entry_ids)
                pipe.hdel(self.attempts, *entry_ids)
                await pipe.execute()

    async def fail(self, entry_id: str, delivery: Delivery, error: str) -> bool:
        """Count a failed attempt; after MAX_ATTEMPTS move it to the dead letters (True)."""
        attempts = await done(self.store.redis.hincrby(self.attempts, entry_id, 1))
        if attempts < MAX_ATTEMPTS:
            return False
        await done(self.store.redis.rpush(self.dead, json.dumps({
            "chat": delivery.chat, "story": delivery.story_id, "error": error})))
        await self.ack(entry_id)
        return True

    async def depth(self) -> int:
        """Entries not yet delivered."""
        return int(await self.store.redis.xlen(self.stream))


def _delivery(fields: Mapping[str, str]) -> Delivery:
    return Delivery(chat=fields["chat"], story_id=fields["story"],
                    rule_ids=tuple(json.loads(fields.get("rules", "[]"))))


@dataclass(frozen=True, slots=True)
class Sent:
    """What a chat has been shown of a story."""

    ref: str
    version: int


class Deliverer:
    """Turns outbox entries into platform messages: send once, edit as the story grows."""

    def __init__(self, store: Store, outbox: Outbox, channels: Mapping[str, Channel], *,
                 composer: AlertComposer | None = None, consumer: str = "worker",
                 claim_idle_ms: int = CLAIM_IDLE_MS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock
        self.composer = composer or AlertComposer(
            chats=ChatDirectory(store), archive=Archive(store, ttl=ARCHIVE_TTL))
        self.outbox = outbox
        self.channels = channels
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms

    async def drain(self) -> int:
        """Deliver everything queued now; returns the number of messages sent or edited."""
        done = 0
        while entries := await self.outbox.read(self.consumer,
                                                claim_idle_ms=self.claim_idle_ms):
            sent, _ = await self._deliver_batch(entries)
            done += sent
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver continuously until `stop` is set; back off a little after failures."""
        while not stop.is_set():
            entries = await self.outbox.read(self.consumer, block_ms=1000,
                                             claim_idle_ms=self.claim_idle_ms)
            _, failed = await self._deliver_batch(entries)
            if failed:
                await asyncio.sleep(1.0)

    async def _deliver_batch(self, entries: list[tuple[str, Delivery]]) -> tuple[int, int]:
        """Deliver each (chat, story) once per batch, then acknowledge its entries.

        Returns (messages sent or edited, deliveries that failed).
        """
        groups: dict[tuple[str, str], list[tuple[str, Delivery]]] = {}
        for entry_id, delivery in entries:
            groups.setdefault((delivery.chat, delivery.story_id), []).append((entry_id, delivery))
        done = failed = 0
        for group in groups.values():
            ids = [entry_id for entry_id, _ in group]
            rules = tuple(dict.fromkeys(r for _, d in group for r in d.rule_ids))
            delivery = Delivery(chat=group[0][1].chat, story_id=group[0][1].story_id,
                                rule_ids=rules)
            try:
                done += await self.deliver(delivery)
            except ChannelError as exc:
                log.warning("delivery: failed", extra={"kv": {
                    "chat": delivery.chat, "story_id": delivery.story_id, "error": str(exc)}})
                for entry_id in ids:
                    await self.outbox.fail(entry_id, delivery, str(exc))
                failed += 1
                continue
            await self.outbox.ack(*ids)
        return done, failed

    async def deliver(self, delivery: Delivery) -> int:
        """Send or edit one alert; 1 if a message went out, 0 if nothing was needed."""
        story = await self.store.get_story(delivery.story_id)
        channel = self.channels.get(delivery.chat.partition(":")[0])
        if story is None:
            return 0
        if channel is None:
            raise ChannelError(f"delivery: no channel for chat {delivery.chat}")
        sent = await self._sent(delivery.chat, story.id)
        if sent is not None and sent.version >= story.version:
            return 0
        if sent is not None and sent.ref.startswith(LISTED_PREFIX):
            sent = None  # shown in a digest or held batch: the news since comes as an alert
        chats = self.composer.chats
        if sent is None and await chats.holding(delivery.chat, now=self.clock()):
            await chats.hold(delivery.chat, story.id, now=self.clock())
            return 0  # held, not dropped: released as a batch or in the digest
        alert = await self.composer.compose(delivery.chat, story, delivery.rule_ids)
        ref = await self._with_retry(channel, alert, sent)
        await self._record(delivery.chat, story, ref)
        return 1

    async def _with_retry(self, channel: Channel, alert: Alert, sent: Sent | None) -> str:
        """Send or edit, waiting out the platform's `retry_after` a few times."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                if sent is None:
                    return await channel.send(alert)
                await channel.edit(sent.ref, alert)
                return sent.ref
            except MessageGoneError:
                sent = None  # the user deleted the alert: post the story afresh
            except RetryAfterError as exc:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(min(exc.retry_after, MAX_RETRY_AFTER))
        raise ChannelError("delivery: gave up")  # pragma: no cover - loop always returns

    async def _sent(self, chat: str, story_id: str) -> Sent | None:
        data = await done(self.store.redis.hgetall(self.store.keys.sent(chat, story_id)))
        return Sent(ref=data["ref"], version=int(data["version"])) if data else None

    async def _record(self, chat: str, story: Story, ref: str) -> None:
        keys, ttl = self.store.keys, 30 * 86_400
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.sent(chat, story.id), mapping={"ref": ref, "version": story.version})
            pipe.expire(keys.sent(chat, story.id), ttl)
            pipe.sadd(keys.story_chats(story.id), chat)
            pipe.expire(keys.story_chats(story.id), ttl)
            await pipe.execute()
