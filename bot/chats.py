"""Chats' subscriptions and rules in the store; the command interpreter and routing share it."""

from __future__ import annotations

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
