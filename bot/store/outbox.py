"""The outbox: a Redis Stream of pending deliveries with one consumer group, the consumers'
heartbeats, and the dead letters (deliveries given up on after MAX_ATTEMPTS), written and read
here only. The delivery worker that reads it is bot/outbox.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from bot.models import Delivery
from bot.store.base import Records, RecordsOf, done

GROUP = "deliver"
MAX_ATTEMPTS = 5
CLAIM_IDLE_MS = 300_000  # entries a hung worker read and has not touched for 5 minutes
BATCH = 100

# KEYS: stream. ARGV: group, consumer, ids... Resets the idle time of the ids still pending
# for `consumer` (never takes an entry another worker claimed). Returns how many.
_TOUCH = """
local n = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
"""

# KEYS: stream, the consumer's heartbeat. ARGV: group, consumer. Deletes the consumer only if
# it has no heartbeat and nothing pending (1), else 0.
_FORGET = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class Outbox(RecordsOf):
    """The stream of pending deliveries and its consumer group."""

    def __init__(self, store: Records) -> None:
        super().__init__(store)
        self.stream = store.keys("outbox")
        self.letters = DeadLetters(store)
        self.dead = self.letters.key
        self.attempts = store.keys("outbox", "attempts")
        self._touch = self.redis.register_script(_TOUCH)
        self._forget = self.redis.register_script(_FORGET)

    def alive_key(self, consumer: str) -> str:
        """The heartbeat key of a consumer."""
        return self.store.keys("outbox", "alive", consumer)

    async def ensure_group(self) -> None:
        """Create the consumer group (and stream) if missing."""
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def put(self, delivery: Delivery) -> None:
        """Append a delivery."""
        await self.put_all([delivery])

    async def put_all(self, deliveries: Sequence[Delivery], *, clear: str | None = None
                      ) -> None:
        """Append deliveries and delete the key `clear` (a pipeline marker) atomically."""
        if not deliveries and clear is None:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for delivery in deliveries:
                pipe.xadd(self.stream, {"chat": delivery.chat, "story": delivery.story_id,
                                        "rules": json.dumps(delivery.rule_ids)})
            if clear is not None:
                pipe.delete(clear)
            await pipe.execute()

    async def read(self, consumer: str, *, count: int = BATCH, block_ms: int | None = None,
                   claim_idle_ms: int = CLAIM_IDLE_MS) -> list[tuple[str, Delivery]]:
        """Entries idle too long (a hung worker's), this consumer's unacknowledged ones, then
        new ones."""
        _, claimed, *_ = await self.redis.xautoclaim(
            self.stream, GROUP, consumer, claim_idle_ms, start_id="0-0", count=count)
        if entries := [(entry_id, _delivery(f)) for entry_id, f in claimed if f]:
            return entries
        for start in ("0", ">"):
            reply = await self.redis.xreadgroup(
                GROUP, consumer, {self.stream: start}, count=count,
                block=block_ms if start == ">" else None)
            items = [item for _, found in reply or [] for item in found]
            if ghosts := [entry_id for entry_id, fields in items if not fields]:
                await self.redis.xack(self.stream, GROUP, *ghosts)  # deleted meanwhile
            if entries := [(entry_id, _delivery(f)) for entry_id, f in items if f]:
                return entries
        return []

    async def read_new(self, consumer: str, *, count: int = BATCH
                       ) -> list[tuple[str, Delivery]]:
        """New entries only, without waiting."""
        reply = await self.redis.xreadgroup(GROUP, consumer, {self.stream: ">"},
                                                  count=count)
        return [(entry_id, _delivery(f)) for _, found in reply or [] for entry_id, f in found
                if f]

    async def ack(self, *entry_ids: str) -> None:
        """Mark entries done."""
        if entry_ids:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, GROUP, *entry_ids)
                pipe.xdel(self.stream, *entry_ids)
                pipe.hdel(self.attempts, *entry_ids)
                await pipe.execute()

    async def fail(self, entry_id: str, delivery: Delivery, error: str) -> bool:
        """Count a failed attempt; after MAX_ATTEMPTS move it to the dead letters (True)."""
        attempts = await done(self.redis.hincrby(self.attempts, entry_id, 1))
        if attempts < MAX_ATTEMPTS:
            return False
        await done(self.redis.rpush(self.dead, _dead_letter(delivery, error)))
        await self.ack(entry_id)
        return True

    async def depth(self) -> int:
        """Entries not yet delivered."""
        return int(await self.redis.xlen(self.stream))

    async def consumers(self) -> list[tuple[str, int]]:
        """(name, entries pending) of every consumer of the group."""
        infos = await self.redis.xinfo_consumers(self.stream, GROUP)
        return [(str(info["name"]), int(info["pending"])) for info in infos]

    async def take_over(self, dead: str, consumer: str) -> int:
        """Claim every entry pending for the consumer `dead`; returns how many."""
        taken = 0
        while True:
            pending = await self.redis.xpending_range(
                self.stream, GROUP, min="-", max="+", count=BATCH, consumername=dead)
            ids: list[Any] = [str(p["message_id"]) for p in pending]
            if not ids:
                return taken
            await self.redis.xclaim(self.stream, GROUP, consumer, 0, ids, justid=True)
            taken += len(ids)

    async def touch(self, consumer: str, entry_ids: Sequence[str]) -> int:
        """Keep `consumer`'s entries from looking idle; returns how many are still its own."""
        if not entry_ids:
            return 0
        return int(await self._touch(keys=[self.stream], args=[GROUP, consumer, *entry_ids]))

    async def forget(self, consumer: str) -> bool:
        """Delete a consumer with no heartbeat and nothing pending; True if deleted."""
        return bool(await self._forget(keys=[self.stream, self.alive_key(consumer)],
                                       args=[GROUP, consumer]))

    async def beat(self, consumer: str, *, ttl: float) -> None:
        """Say that `consumer` is alive for the next `ttl` seconds."""
        await self.redis.set(self.alive_key(consumer), str(time.time()),
                             px=int(ttl * 1000))

    async def stop_beating(self, consumer: str) -> None:
        """Say that `consumer` stopped (its heartbeat goes at once)."""
        await self.redis.delete(self.alive_key(consumer))

    async def beating(self, consumer: str) -> bool:
        """True while `consumer`'s heartbeat is there."""
        return bool(await self.redis.exists(self.alive_key(consumer)))


def _delivery(fields: Mapping[str, str]) -> Delivery:
    return Delivery(chat=fields["chat"], story_id=fields["story"],
                    rule_ids=tuple(json.loads(fields.get("rules", "[]"))))


@dataclass
class DeadLetter:
    """One dead letter as `newsbot outbox` numbers it: a (chat, story) given up on, with the
    raw list entries it stands for (an alert from several outbox entries has several). An
    unreadable entry is a letter of its own with no chat."""

    chat: str
    story: str
    rules: list[str] = field(default_factory=list)
    error: str = ""
    raws: list[str] = field(default_factory=list)


class DeadLetters(RecordsOf):
    """The dead letters, as the list `outbox:dead` of JSON records."""

    def __init__(self, store: Records) -> None:
        super().__init__(store)
        self.key = store.keys("outbox", "dead")

    async def count(self) -> int:
        """How many entries the dead letters hold."""
        return int(await done(self.redis.llen(self.key)))

    async def all(self) -> list[DeadLetter]:
        """The dead letters, oldest first, one per (chat, story)."""
        letters: dict[tuple[str, str], DeadLetter] = {}
        for n, raw in enumerate(await done(self.redis.lrange(self.key, 0, -1))):
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not record.get("chat") or not record.get("story"):
                letters[("", str(n))] = DeadLetter("", "", error=f"unreadable entry: {raw[:100]}",
                                                   raws=[raw])
                continue
            chat, story = str(record["chat"]), str(record["story"])
            letter = letters.setdefault((chat, story), DeadLetter(chat, story))
            rules = record.get("rules")
            letter.rules += [str(r) for r in rules if str(r) not in letter.rules] if isinstance(
                rules, list) else []
            letter.error = str(record.get("error", ""))
            letter.raws.append(raw)
        return list(letters.values())

    async def discard(self, letter: DeadLetter) -> None:
        """Remove the entries of a letter (once it is queued again)."""
        for raw in letter.raws:
            await done(self.redis.lrem(self.key, 1, raw))


def _dead_letter(delivery: Delivery, error: str) -> str:
    return json.dumps({"chat": delivery.chat, "story": delivery.story_id,
                       "rules": list(delivery.rule_ids), "error": error}, ensure_ascii=False)
