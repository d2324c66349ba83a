"""WebSub subscriptions (bot/feeds/websub.py decides; this speaks), under the store's prefix;
every worker answers callbacks, so all state is shared:

    feed:<id>           websub_hub, websub_topic (discovered), websub_status (subscribing,
                        active, denied, error), websub_until, websub_error, websub_last_push
    websub:sub:<id>     hash: the subscription: hub, topic, callback, secret, state
                        (subscribing, active, denied), attempt (token of a request the hub
                        has not verified yet), lease, until, failures, last_error, guard
    websub:gone:<id>    hash: a subscription being ended (until the hub verifies; 1 day TTL)
    websub:due          sorted set: `sub:<id>` / `unsub:<id>` -> when to act on it next
    websub:active       sorted set: feed id -> lease end of each verified subscription
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.store.base import Records, RecordsOf, done

# KEYS: record, feed state, due, active. ARGV: topic, granted lease ('' = the one asked for),
# renewal fraction, shortest renewal delay, due member, feed id, now. The lease noted is at
# most the one asked for; a verification of an active subscription with no request pending
# (a hub re-confirming, or anyone who knows the topic) may bring its end and renewal closer,
# never put them off.
_VERIFIED = """
local rec = redis.call('HMGET', KEYS[1], 'state', 'topic', 'lease', 'attempt', 'until')
if rec[2] ~= ARGV[1] or (rec[1] ~= 'subscribing' and rec[1] ~= 'active') then return 0 end
local now = tonumber(ARGV[7])
local asked = tonumber(rec[3]) or 0
local lease = math.min(tonumber(ARGV[2]) or asked, asked)
local till = now + lease
local renew = now + math.max(lease * tonumber(ARGV[3]), tonumber(ARGV[4]))
if rec[1] == 'active' and (not rec[4] or rec[4] == '') then
  till = math.min(till, tonumber(rec[5]) or till)
  renew = math.min(renew, tonumber(redis.call('ZSCORE', KEYS[3], ARGV[5])) or renew)
end
redis.call('HSET', KEYS[1], 'state', 'active', 'attempt', '', 'until', tostring(till),
           'granted', tostring(lease), 'failures', '0', 'last_error', '')
redis.call('HSET', KEYS[2], 'websub_status', 'active', 'websub_until', tostring(till),
           'websub_error', '')
redis.call('ZADD', KEYS[3], renew, ARGV[5])
redis.call('ZADD', KEYS[4], till, ARGV[6])
return 1
"""

# KEYS: record, feed state, due, active. ARGV: topic, error text, retry at, member, feed id.
_DENIED = """
if redis.call('HGET', KEYS[1], 'topic') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'denied', 'attempt', '', 'until', '', 'last_error', ARGV[2])
redis.call('HSET', KEYS[2], 'websub_status', 'denied', 'websub_until', '', 'websub_error',
           ARGV[2])
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), ARGV[4])
redis.call('ZREM', KEYS[4], ARGV[5])
return 1
"""

# KEYS: gone record. ARGV: topic. Forgets a subscription being ended once the hub asks.
_UNSUBSCRIBED = """
local rec = redis.call('HMGET', KEYS[1], 'state', 'topic')
if rec[1] ~= 'unsubscribing' or rec[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: record, due. ARGV: attempt token, member, due at, field, value, ... Applies the
# outcome of a hub request unless the hub's verification (or a newer attempt) came first.
_SETTLE = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[2])
return 1
"""


class Subscriptions(RecordsOf):
    """The WebSub records every worker shares."""

    def __init__(self, store: Records) -> None:
        super().__init__(store)
        self.due, self.active = store.keys("websub", "due"), store.keys("websub", "active")
        self._verified = self.redis.register_script(_VERIFIED)
        self._denied = self.redis.register_script(_DENIED)
        self._unsubscribed = self.redis.register_script(_UNSUBSCRIBED)
        self._settle = self.redis.register_script(_SETTLE)

    def _key(self, kind: str, feed_id: str) -> str:
        return self.keys("websub", kind, feed_id)

    async def get(self, feed_id: str) -> dict[str, str]:
        """The feed's subscription record (empty when there is none)."""
        return dict(await done(self.redis.hgetall(self._key("sub", feed_id))))

    async def save(self, feed_id: str, record: Mapping[str, str]) -> None:
        """Write fields of the feed's subscription record."""
        await done(self.redis.hset(self._key("sub", feed_id), mapping=dict(record)))

    async def callbacks(self, feed_ids: Sequence[str]) -> list[str | None]:
        """The callback URL of each feed's subscription, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for feed_id in feed_ids:
                pipe.hget(self._key("sub", feed_id), "callback")
            return list(await pipe.execute())

    async def active_count(self, *, since: float) -> int:
        """Subscriptions verified whose lease ends after `since`."""
        return int(await self.redis.zcount(self.active, since, "+inf"))

    async def due_members(self) -> list[str]:
        """Every action on the schedule (`sub:<feed>`, `unsub:<feed>`)."""
        return list(await self.redis.zrange(self.due, 0, -1))

    async def make_due(self, members: Iterable[str], *, at: float) -> None:
        """Make actions due at `at`."""
        await self.redis.zadd(self.due, dict.fromkeys(members, at))

    async def make_due_unless_due(self, member: str) -> bool:
        """Make an action due now unless it is on the schedule already; True if added."""
        return bool(await self.redis.zadd(self.due, {member: 0}, nx=True))

    async def not_due(self, member: str) -> None:
        """Take an action off the schedule."""
        await self.redis.zrem(self.due, member)

    async def take_due(self, now: float, *, limit: int, hold_until: float) -> list[str]:
        """Up to `limit` actions due by `now`, put off to `hold_until` (due again then if
        the worker taking them dies)."""
        members = list(await self.redis.zrangebyscore(self.due, "-inf", now, start=0,
                                                      num=limit))
        if members:
            await self.redis.zadd(self.due, dict.fromkeys(members, hold_until), xx=True)
        return members

    async def first_due(self) -> float | None:
        """When the next action is due, or None when none is scheduled."""
        first = await self.redis.zrange(self.due, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def settle(self, feed_id: str, attempt: str, *, due_at: float,
                     fields: Mapping[str, str] | None = None) -> bool:
        """Apply a request's outcome unless the hub's verification (or a newer attempt) came
        first."""
        flat = [x for pair in (fields or {}).items() for x in pair]
        return bool(await self._settle(keys=[self._key("sub", feed_id), self.due],
                                       args=[attempt, f"sub:{feed_id}", f"{due_at:.3f}", *flat]))

    async def retire(self, feed_id: str, record: Mapping[str, str], *, ttl: int,
                     feed_fields: Sequence[str]) -> None:
        """Forget a subscription (and `feed_fields` of the feed's state); one the hub had
        not denied is kept `ttl` seconds as being ended, its unsubscription due now."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if record.get("state") in ("subscribing", "active"):
                gone = self._key("gone", feed_id)
                pipe.hset(gone, mapping={**{k: record.get(k, "") for k in (
                    "hub", "topic", "callback", "guard")}, "state": "unsubscribing",
                    "failures": "0"})
                pipe.expire(gone, ttl)
                pipe.zadd(self.due, {f"unsub:{feed_id}": 0})
            pipe.delete(self._key("sub", feed_id))
            pipe.zrem(self.active, feed_id)
            pipe.hdel(self.keys.feed(feed_id), *feed_fields)
            await pipe.execute()

    async def ended(self, feed_id: str) -> dict[str, str]:
        """The record of the feed's subscription being ended (empty when there is none)."""
        return dict(await done(self.redis.hgetall(self._key("gone", feed_id))))

    async def forget_ended(self, feed_id: str) -> None:
        """Give up ending a subscription."""
        await done(self.redis.delete(self._key("gone", feed_id)))

    async def unsubscribe_later(self, feed_id: str, *, failures: int, due_at: float) -> None:
        """Count a failed unsubscription and try again at `due_at`."""
        await done(self.redis.hset(self._key("gone", feed_id), "failures", str(failures)))
        await self.redis.zadd(self.due, {f"unsub:{feed_id}": due_at})

    async def unsubscribed(self, feed_id: str, topic: str) -> bool:
        """Forget a subscription being ended to `topic` once the hub asks; False if none."""
        return bool(await self._unsubscribed(keys=[self._key("gone", feed_id)], args=[topic]))

    async def verified(self, feed_id: str, topic: str, *, lease: str, fraction: float,
                       min_renew: float, now: float) -> bool:
        """Confirm a pending or active subscription to `topic` (`lease`: granted seconds, ''
        for the one asked for); plan its renewal at `fraction` of it. False if none."""
        return bool(await self._verified(
            keys=[self._key("sub", feed_id), self.keys.feed(feed_id), self.due, self.active],
            args=[topic, lease, f"{fraction:.4f}", f"{min_renew:.3f}", f"sub:{feed_id}",
                  feed_id, f"{now:.3f}"]))

    async def denied(self, feed_id: str, topic: str, *, error: str, due_at: float) -> bool:
        """Record the hub's refusal of the subscription to `topic`, asking again at `due_at`;
        False if there is no such subscription."""
        return bool(await self._denied(
            keys=[self._key("sub", feed_id), self.keys.feed(feed_id), self.due, self.active],
            args=[topic, error, f"{due_at:.3f}", f"sub:{feed_id}", feed_id]))
