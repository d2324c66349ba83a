"""Chats' subscriptions and rules in the store; the command interpreter and routing share it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Rule
from bot.rules.grammar import parse
from bot.store import Store, done


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

    async def set_digest(self, chat: str, *, at: str, timezone: str) -> None:
        """Send `chat` a daily digest at `at` (HH:MM) in `timezone`."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._settings(chat), mapping={"digest_at": at, "digest_tz": timezone})
            pipe.sadd(self.keys("digest_chats"), chat)
            await pipe.execute()

    async def clear_digest(self, chat: str) -> bool:
        """Turn the chat's daily digest off; False if it was off."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._settings(chat), "digest_at", "digest_tz")
            pipe.srem(self.keys("digest_chats"), chat)
            removed, _ = await pipe.execute()
        return bool(removed)

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

    def _settings(self, chat: str) -> str:
        return self.keys("chat", chat, "settings")

    def _muted(self, chat: str) -> str:
        return self.keys("chat", chat, "muted")
