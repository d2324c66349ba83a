"""Chats' subscriptions and rules in the store; the command interpreter and routing share it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.models import Rule
from bot.rules.grammar import parse
from bot.store import Store, done


def zone_info(timezone: str) -> ZoneInfo:
    """The IANA zone `timezone`, or UTC when it is unknown."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class ChatDirectory:
    """Which chats follow which topics, and each chat's own rules."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys

    async def subscribe(self, chat: str, topic: str) -> bool:
        """Subscribe `chat` to `topic`; False if it already was."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.keys("topic", topic, "chats"), chat)
            pipe.sadd(self.keys("chat", chat, "topics"), topic)
            added, _ = await pipe.execute()
        return bool(added)

    async def unsubscribe(self, chat: str, topic: str) -> bool:
        """Unsubscribe `chat` from `topic`; False if it was not subscribed."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.srem(self.keys("topic", topic, "chats"), chat)
            pipe.srem(self.keys("chat", chat, "topics"), topic)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def subscribers(self, topic: str) -> set[str]:
        """The chats subscribed to `topic`."""
        return set(await done(self.store.redis.smembers(self.keys("topic", topic, "chats"))))

    async def topics_of(self, chat: str) -> set[str]:
        """The topics `chat` follows."""
        return set(await done(self.store.redis.smembers(self.keys("chat", chat, "topics"))))

    async def add_rule(self, chat: str, expression: str) -> Rule:
        """Validate and store a rule for `chat`; raises RuleError on a bad expression."""
        parse(expression)
        number = await self.store.redis.incr(self.keys("chat", chat, "rule_seq"))
        rule = Rule(id=f"chat:{chat}:{number}", expression=expression, chat=chat)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys("chat", chat, "rules"), str(number), expression)
            pipe.sadd(self.keys("rule_chats"), chat)
            pipe.incr(self.keys("rules_version"))
            await pipe.execute()
        return rule

    async def delete_rule(self, chat: str, number: str) -> bool:
        """Delete rule `number` of `chat`; False if there was none."""
        removed = await done(self.store.redis.hdel(self.keys("chat", chat, "rules"), number))
        if removed:
            await self.store.redis.incr(self.keys("rules_version"))
        return bool(removed)

    async def rules_of(self, chat: str) -> list[Rule]:
        """The rules of one chat, in the order they were added."""
        stored = await done(self.store.redis.hgetall(self.keys("chat", chat, "rules")))
        return [Rule(id=f"chat:{chat}:{n}", expression=e, chat=chat)
                for n, e in sorted(stored.items(), key=lambda kv: int(kv[0]))]

    async def all_rules(self) -> list[Rule]:
        """Every chat's rules."""
        rules: list[Rule] = []
        for chat in sorted(await done(self.store.redis.smembers(self.keys("rule_chats")))):
            rules.extend(await self.rules_of(chat))
        return rules

    async def rules_version(self) -> int:
        """A counter that grows whenever any chat's rules change."""
        return int(await self.store.redis.get(self.keys("rules_version")) or 0)

    async def language(self, chat: str) -> str | None:
        """The reply language chosen with `/lang`, or None if never set."""
        return await done(self.store.redis.hget(self._settings(chat), "lang"))

    async def set_language(self, chat: str, language: str) -> None:
        """Remember the reply language of `chat`."""
        await done(self.store.redis.hset(self._settings(chat), "lang", language))

    async def timezone(self, chat: str) -> str:
        """The chat's IANA time zone for times in alerts: `/tz`, else the digest's, else UTC."""
        tz, digest_tz = await done(self.store.redis.hmget(self._settings(chat),
                                                          ["tz", "digest_tz"]))
        return tz or digest_tz or "UTC"

    async def set_timezone(self, chat: str, timezone: str) -> None:
        """Show times to `chat` in `timezone` (an IANA name)."""
        await done(self.store.redis.hset(self._settings(chat), "tz", timezone))

    async def digest_of(self, chat: str) -> tuple[str, str] | None:
        """(HH:MM, IANA time zone) of the chat's daily digest, or None when it is off."""
        at, zone = await done(self.store.redis.hmget(self._settings(chat), ["digest_at",
                                                                            "digest_tz"]))
        return (at, zone or "UTC") if at else None

    async def set_digest(self, chat: str, *, at: str, timezone: str,
                         now: datetime | None = None) -> None:
        """Send `chat` a daily digest at `at` (HH:MM) in `timezone`, from `now` on (a time
        already past today does not count as a digest missed)."""
        since = (now or datetime.now(UTC)).timestamp()
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._settings(chat), mapping={"digest_at": at, "digest_tz": timezone,
                                                     "digest_since": since})
            pipe.sadd(self.keys("digest_chats"), chat)
            await pipe.execute()

    async def clear_digest(self, chat: str) -> bool:
        """Turn the chat's daily digest off; False if it was off."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._settings(chat), "digest_at", "digest_tz")
            pipe.srem(self.keys("digest_chats"), chat)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def digest_since(self, chat: str) -> datetime | None:
        """When the chat's current digest time was set (digests due before it are not owed)."""
        raw = await done(self.store.redis.hget(self._settings(chat), "digest_since"))
        return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None

    async def digest_chats(self) -> set[str]:
        """The chats that have a daily digest (for the digest scheduler)."""
        return set(await done(self.store.redis.smembers(self.keys("digest_chats"))))

    async def mute(self, chat: str, *, until: datetime, now: datetime) -> None:
        """Hold alerts to `chat` until `until`; the key expires by itself then."""
        ttl_ms = max(1, int((until - now).total_seconds() * 1000))
        await self.store.redis.set(self._muted(chat), str(until.timestamp()), px=ttl_ms)

    async def unmute(self, chat: str) -> bool:
        """Lift a mute; False if the chat was not muted."""
        return bool(await self.store.redis.delete(self._muted(chat)))

    async def muted_until(self, chat: str, *, now: datetime) -> datetime | None:
        """When the chat's mute ends, or None if it is not muted at `now`."""
        raw = await self.store.redis.get(self._muted(chat))
        until = datetime.fromtimestamp(float(raw), tz=UTC) if raw else None
        return until if until is not None and until > now else None

    # --- quiet hours and held alerts ---------------------------------------------------------

    async def quiet_hours(self, chat: str) -> tuple[time, time] | None:
        """(start, end) local times of the chat's nightly quiet hours, or None."""
        raw = await done(self.store.redis.hget(self._settings(chat), "quiet"))
        if not raw:
            return None
        start, _, end = raw.partition("-")
        return time.fromisoformat(start), time.fromisoformat(end)

    async def set_quiet_hours(self, chat: str, hours: tuple[time, time] | None) -> None:
        """Hold alerts every day between `hours` (chat's zone); None turns quiet hours off."""
        if hours is None:
            await done(self.store.redis.hdel(self._settings(chat), "quiet"))
        else:
            await done(self.store.redis.hset(self._settings(chat), "quiet",
                                             f"{hours[0]:%H:%M}-{hours[1]:%H:%M}"))

    async def holding(self, chat: str, *, now: datetime) -> bool:
        """True while new alerts to `chat` are held: it is muted or within its quiet hours."""
        if await self.muted_until(chat, now=now) is not None:
            return True
        hours = await self.quiet_hours(chat)
        if hours is None:
            return False
        local = now.astimezone(zone_info(await self.timezone(chat))).time()
        start, end = hours
        return start <= local < end if start <= end else local >= start or local < end

    async def held_mode(self, chat: str) -> str:
        """What happens to held alerts when the hold ends: "batch" (default) or "digest"."""
        mode = await done(self.store.redis.hget(self._settings(chat), "held_mode"))
        return mode or "batch"

    async def set_held_mode(self, chat: str, mode: str) -> None:
        """Choose "batch" (one message when the hold ends) or "digest" (the next digest)."""
        await done(self.store.redis.hset(self._settings(chat), "held_mode", mode))

    async def hold(self, chat: str, story_id: str, *, now: datetime) -> None:
        """Keep a story's alert for `chat` until its hold ends."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._held(chat), {story_id: now.timestamp()}, nx=True)
            pipe.sadd(self.keys("held_chats"), chat)
            await pipe.execute()

    async def held(self, chat: str) -> list[str]:
        """The story ids held for `chat`, oldest first."""
        return list(await done(self.store.redis.zrange(self._held(chat), 0, -1)))

    async def clear_held(self, chat: str, story_ids: list[str]) -> None:
        """Forget held stories once shown; the chat leaves `held_chats` when none is left."""
        if story_ids:
            await done(self.store.redis.zrem(self._held(chat), *story_ids))
        if not await done(self.store.redis.zcard(self._held(chat))):
            await done(self.store.redis.srem(self.keys("held_chats"), chat))

    async def held_chats(self) -> set[str]:
        """The chats with held alerts."""
        return set(await done(self.store.redis.smembers(self.keys("held_chats"))))

    def _held(self, chat: str) -> str:
        return self.keys("chat", chat, "held")

    def _settings(self, chat: str) -> str:
        return self.keys("chat", chat, "settings")

    def _muted(self, chat: str) -> str:
        return self.keys("chat", chat, "muted")
