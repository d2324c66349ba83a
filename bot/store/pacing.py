"""The pace's records: each platform's window of recent messages, its `retry_after` pause and
each chat's next slot, taken and set by Lua on the server's clock (the policy is bot/pacing.py)."""

from __future__ import annotations

from bot.store.base import Records, RecordsOf

# KEYS: the platform's window (sorted set of recent message times), its pause key, the
# chat's key. ARGV: messages allowed per window (0: no window), window ms, least ms between
# two messages of the bot, least ms between two messages to the chat, a unique member name.
# Returns 0 when a message may go now (and records it), else the ms to wait before asking
# again. Slots are granted only when due, never ahead: a worker that stalls cannot release
# a burst of overdue slots later.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local gap, per_chat = tonumber(ARGV[3]), tonumber(ARGV[4])
local slot = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'),
                      tonumber(redis.call('GET', KEYS[3]) or '0'))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then slot = math.max(slot, tonumber(last[2]) + gap) end
local n = redis.call('ZCARD', KEYS[1])
if limit > 0 and n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  slot = math.max(slot, tonumber(oldest[2]) + window)
end
if slot > now then return slot - now end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window + 60000)
if per_chat > 0 then redis.call('SET', KEYS[3], now + per_chat, 'PX', per_chat + 60000) end
return 0
"""

# KEYS: the platform's pause key. ARGV: ms. Nothing goes out before now + ms (retry_after).
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 60000)
end
return 1
"""


class PaceRecords(RecordsOf):
    """Slots of the platforms' paces, shared by every worker."""

    def __init__(self, store: Records) -> None:
        super().__init__(store)
        self._reserve = self.redis.register_script(RESERVE)
        self._pause = self.redis.register_script(PAUSE)

    async def reserve(self, platform: str, chat: str, *, per_window: int, window_ms: int,
                      gap_ms: int, chat_gap_ms: int, member: str) -> int:
        """Take a slot for a message to `chat` now (0), or the ms to wait before asking again:
        at most `per_window` messages of the bot in any `window_ms` (0: no such limit),
        `gap_ms` between two of the bot's, `chat_gap_ms` between two to the chat, none while
        the platform is paused. `member` names the message in the window."""
        keys = [self.keys("pace", platform), self.keys("pace", platform, "pause"),
                self.keys("pace", platform, chat)]
        args: list[str | int] = [per_window, window_ms, gap_ms, chat_gap_ms, member]
        return int(await self._reserve(keys=keys, args=args))

    async def pause(self, platform: str, ms: int) -> None:
        """Hold every worker's messages to `platform` for `ms` (a `retry_after`)."""
        await self._pause(keys=[self.keys("pace", platform, "pause")], args=[ms])
