"""The shared poll schedule (bot/feeds/engine.py decides; this speaks), under the key prefix:

    poll:due          sorted set   feed id -> when it is next due (the server's clock)
    poll:lease:<id>   string       token of the worker polling that feed, with an expiry (PX)
    poll:off          set          feeds deactivated after too many failures
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.store.base import Records, RecordsOf, done

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: due. ARGV: token, lease ms, limit, lease key prefix, cutoff ('' = now), state prefix.
# Returns {server now, seconds until the next due feed (-1: none), {id, state}...} where
# state is the feed's state hash as a flat list, read in the same step.
_CLAIM = _NOW + """
local lease = tonumber(ARGV[2])
local upto = now
if ARGV[5] ~= '' then upto = math.min(now, tonumber(ARGV[5])) end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', upto, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[4] .. id
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', lease) then
    redis.call('ZADD', KEYS[1], now + lease / 1000, id)
    out[#out + 1] = {id, redis.call('HGETALL', ARGV[6] .. id)}
  else
    local left = math.max(redis.call('PTTL', key), 100)
    redis.call('ZADD', KEYS[1], now + left / 1000, id)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if first[2] then wait = math.max(0, tonumber(first[2]) - now) end
return {tostring(now), tostring(wait), unpack(out)}
"""

# KEYS: due, off. ARGV: token, lease key prefix, state prefix, then for each feed:
# id, mode, delay, number of fields, field, value, ... Returns 1 per feed whose lease was
# still ours (and is now dropped), else 0. mode: next (due again after delay), off
# (deactivate), forget (drop from the schedule).
_COMPLETE = _NOW + """
local out = {}
local i = 4
while i <= #ARGV do
  local id, mode, delay, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local fields = {}
  for j = 1, 2 * n do fields[j] = ARGV[i + 3 + j] end
  i = i + 4 + 2 * n
  local lease = ARGV[2] .. id
  if redis.call('GET', lease) ~= ARGV[1] then
    out[#out + 1] = 0
  else
    redis.call('DEL', lease)
    if mode == 'off' then
      redis.call('ZREM', KEYS[1], id)
      redis.call('SADD', KEYS[2], id)
    elseif mode == 'forget' then
      redis.call('ZREM', KEYS[1], id)
    else
      redis.call('ZADD', KEYS[1], 'XX', now + delay, id)
      fields[#fields + 1] = 'next_poll'
      fields[#fields + 1] = tostring(now + delay)
    end
    if #fields > 0 then redis.call('HSET', ARGV[3] .. id, unpack(fields)) end
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: due. ARGV: token, lease ms, lease key prefix, ids... Returns the ids no longer ours.
_RENEW = _NOW + """
local lost = {}
for i = 4, #ARGV do
  local key = ARGV[3] .. ARGV[i]
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]) / 1000, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

# KEYS: due, off. ARGV: ids. Schedules (due now) each id neither scheduled nor deactivated.
_ADD = _NOW + """
local added = 0
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    added = added + redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i])
  end
end
return added
"""


class PollSchedule(RecordsOf):
    """The schedule every worker polls from."""

    def __init__(self, store: Records) -> None:
        super().__init__(store)
        self.due, self.off = store.keys("poll", "due"), store.keys("poll", "off")
        self._lease_prefix = store.keys("poll", "lease", "")
        self._state_prefix = store.keys.feed("")
        self._claim = self.redis.register_script(_CLAIM)
        self._complete = self.redis.register_script(_COMPLETE)
        self._renew = self.redis.register_script(_RENEW)
        self._add = self.redis.register_script(_ADD)

    async def scheduled(self) -> set[str]:
        """The ids of the feeds on the schedule."""
        return set(await self.redis.zrange(self.due, 0, -1))

    async def switched_off(self) -> set[str]:
        """The ids of the feeds switched off after repeated failures."""
        return set(await done(self.redis.smembers(self.off)))

    async def unschedule(self, feed_ids: Iterable[str]) -> None:
        """Take feeds off the schedule."""
        await self.redis.zrem(self.due, *feed_ids)

    async def forget_off(self, feed_ids: Iterable[str]) -> None:
        """Forget that feeds were switched off (they were deleted meanwhile)."""
        await done(self.redis.srem(self.off, *feed_ids))

    async def add(self, feed_ids: Sequence[str]) -> int:
        """Schedule (due now) each feed neither scheduled nor switched off; how many were."""
        return int(await self._add(keys=[self.due, self.off], args=list(feed_ids)))

    async def due_now(self, feed_ids: Iterable[str]) -> None:
        """Make scheduled feeds due at once."""
        await self.redis.zadd(self.due, dict.fromkeys(feed_ids, 0), xx=True)

    async def reactivate(self, feed_id: str) -> bool:
        """Put a switched-off feed back on the schedule, due now, its failures forgotten;
        False if it was not switched off."""
        if not await done(self.redis.srem(self.off, feed_id)):
            return False
        await done(self.redis.hset(self.keys.feed(feed_id),
                                   mapping={"errors": 0, "deactivated_at": ""}))
        await self.redis.zadd(self.due, {feed_id: 0})
        return True

    async def next_due(self, feed_id: str) -> float | None:
        """When the feed is next due (server time), or None when it is not scheduled."""
        score = await self.redis.zscore(self.due, feed_id)
        return None if score is None else float(score)

    async def server_time(self) -> float:
        """The server's clock, which the schedule runs on."""
        seconds, micros = await self.redis.time()
        return float(seconds) + float(micros) / 1_000_000

    async def claim(self, token: str, *, lease_ms: int, limit: int, cutoff: str
                    ) -> tuple[str, float, list[tuple[str, dict[str, str]]]]:
        """Lease up to `limit` due feeds (due by `cutoff`, '' = now): (server now, seconds to
        the next due feed or -1, (id, stored state) of each feed claimed)."""
        now, wait, *rows = await self._claim(keys=[self.due], args=[
            token, lease_ms, limit, self._lease_prefix, cutoff, self._state_prefix])
        claimed = [(str(fid), dict(zip(flat[::2], flat[1::2], strict=True)))
                   for fid, flat in rows]
        return str(now), float(wait), claimed

    async def complete(self, token: str, polls: Sequence[Sequence[str]]) -> list[int]:
        """Record polls whose lease `token` still holds, in one call: each is (id, mode,
        delay, number of fields, fields...); 1 where recorded, 0 where the lease was lost."""
        replies = await self._complete(keys=[self.due, self.off], args=[
            token, self._lease_prefix, self._state_prefix, *(a for poll in polls for a in poll)])
        return [int(reply) for reply in replies]

    async def renew(self, token: str, *, lease_ms: int, ids: Sequence[str]) -> list[str]:
        """Renew the leases `token` holds on `ids`; returns the ids no longer ours."""
        lost = await self._renew(keys=[self.due], args=[token, lease_ms, self._lease_prefix,
                                                        *ids])
        return [str(fid) for fid in lost]
