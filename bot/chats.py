"""Chats' subscriptions and rules in the store; the command interpreter and routing share it.

Chat lifecycle (issue 15). A chat the bot can no longer post to (Telegram 403: blocked,
kicked, not a member; Slack `not_in_channel`, `channel_not_found`, `is_archived`) is
*paused*: the platforms raise `ChatGoneError`, delivery records the pause here (`pause`:
the hash `paused_chats`, chat -> JSON {reason, error, at}) and, from then on, holds the chat's
new alerts as a mute does (`holding` is true while paused; `digest_chats` leaves paused chats
out, so no digest is attempted) until the bot is added back (`resume`, called by the front
ends on Telegram `my_chat_member` / Slack `member_joined_channel`); the held alerts then
arrive as one batch, as after a mute. A Telegram group that became a supergroup
(`ChatMovedError`) has its records moved to the new id (`migrate`), and `chat:<old>:moved`
points deliveries still queued for the old id to the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ChannelError
from bot.models import Rule
from bot.rules.entities import Entities
from bot.rules.grammar import parse
from bot.store import Store, done

MOVED_TTL = 30 * 86_400  # how long deliveries queued for a migrated chat's old id are redirected
SENT_TTL = 30 * 86_400   # as bot.outbox.SENT_TTL: alert references moved by `migrate`
PAUSED_HELD_MAX = 200    # newest held stories kept for a paused chat
MOVED_REF = "#"          # `<old chat>#<message ref>`: an alert sent before the chat moved


class ChatGoneError(ChannelError):
    """The platform says the bot can no longer post to this chat (blocked, kicked, archived,
    not a member, no such chat): retrying will not help until the bot is added back.
    `reason` is a short code (`blocked`, `kicked`, `not_member`, `not_in_channel`, ...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ChatMovedError(ChannelError):
    """The chat has a new id (a Telegram group upgraded to a supergroup); `new_chat` is the
    platform-qualified new id (`telegram:-100...`)."""

    def __init__(self, message: str, *, new_chat: str) -> None:
        super().__init__(message)
        self.new_chat = new_chat


@dataclass(frozen=True, slots=True)
class Paused:
    """Why and since when delivery to a chat is paused."""

    chat: str
    reason: str
    error: str
    at: datetime


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

    async def add_rule(self, chat: str, expression: str, *, entities: Entities | None = None
                       ) -> Rule:
        """Validate (against `entities`, the shipped catalog if None) and store a rule for
        `chat`; raises RuleError on a bad expression."""
        parse(expression, entities=entities)
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
        """The chats that have a daily digest (for the digest scheduler), paused ones left out
        (the digest would fail; their held alerts arrive when they are resumed)."""
        chats = set(await done(self.store.redis.smembers(self.keys("digest_chats"))))
        return chats - set(await self.paused_chats()) if chats else chats

    async def mute(self, chat: str, *, until: datetime, now: datetime) -> None:
        """Hold alerts to `chat` until `until`; the key expires by itself then."""
        ttl_ms = max(1, int((until - now).total_seconds() * 1000))
        await self.store.redis.set(self._muted(chat), str(until.timestamp()), px=ttl_ms)

    async def mute_story(self, chat: str, story_id: str) -> bool:
        """Stop updates of one story's alert in `chat` (its "mute updates" button); kept as
        long as the alert's reference. False if it was muted already."""
        key = self.keys("chat", chat, "story_muted", story_id)
        return bool(await self.store.redis.set(key, "1", ex=SENT_TTL, nx=True))

    async def muted_stories(self, chat: str, story_ids: list[str]) -> set[str]:
        """Those of `story_ids` whose updates `chat` muted."""
        if not story_ids:
            return set()
        keys = [self.keys("chat", chat, "story_muted", s) for s in story_ids]
        found = await self.store.redis.mget(keys)
        return {s for s, raw in zip(story_ids, found, strict=True) if raw}

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
        """True while new alerts to `chat` are held: it is paused, muted or within its quiet
        hours."""
        if await self.muted_until(chat, now=now) is not None or await self.is_paused(chat):
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

    async def hold(self, chat: str, story_id: str, *, now: datetime,
                   keep: int | None = None) -> None:
        """Keep a story's alert for `chat` until its hold ends (with `keep`, only the newest
        `keep` held stories are kept)."""
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._held(chat), {story_id: now.timestamp()}, nx=True)
            if keep is not None:
                pipe.zremrangebyrank(self._held(chat), 0, -keep - 1)
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

    # --- chat lifecycle: paused and migrated chats -----------------------------------------

    async def pause(self, chat: str, *, reason: str, error: str, now: datetime) -> bool:
        """Record that delivery to `chat` is paused (why, the platform's error, since when);
        True if it was not paused already (the caller then tells the admins, once)."""
        record = json.dumps({"reason": reason, "error": error, "at": now.timestamp()},
                            ensure_ascii=False)
        return bool(await done(self.store.redis.hsetnx(self._paused, chat, record)))

    async def resume(self, chat: str) -> bool:
        """Lift the pause of `chat` (the bot was added back); False if it was not paused."""
        return bool(await done(self.store.redis.hdel(self._paused, chat)))

    async def is_paused(self, chat: str) -> bool:
        """True while delivery to `chat` is paused."""
        return bool(await done(self.store.redis.hexists(self._paused, chat)))

    async def paused(self, chat: str) -> Paused | None:
        """The pause of `chat`, or None."""
        raw = await done(self.store.redis.hget(self._paused, chat))
        return _paused(chat, raw) if raw else None

    async def paused_chats(self) -> dict[str, Paused]:
        """Every paused chat and why (for `/status`, `newsbot outbox` and `/metrics`)."""
        stored = await done(self.store.redis.hgetall(self._paused))
        return {chat: _paused(chat, raw) for chat, raw in sorted(stored.items())}

    async def paused_count(self) -> int:
        """How many chats are paused."""
        return int(await done(self.store.redis.hlen(self._paused)))

    async def moved_to(self, chat: str) -> str | None:
        """The new id of a chat that migrated (deliveries for `chat` go there), or None."""
        return await done(self.store.redis.get(self._moved(chat)))

    async def migrate(self, old: str, new: str) -> bool:
        """Move everything of chat `old` to its new id `new`: rules (renumbered after any the
        new chat has), topics, settings (digest, language, zone, quiet hours; the new chat's own
        win), mute, held alerts, alert references and today's digest claims; `old` is left
        without them, unpaused, and redirected to `new`. False (nothing done) if `old` was
        already moved.

        An alert reference (`sent:<chat>:<story>`) moves as `<old chat>#<message>`: the alert
        stays in the old group's history, where the bot may still edit it (Telegram keeps the
        two chats apart; message ids of the new chat are unrelated), so a later update edits
        it there, or is posted to the new chat if it is gone."""
        if old == new or await self.moved_to(old) == new:
            return False
        redis, keys = self.store.redis, self.keys
        rules = await done(redis.hgetall(keys("chat", old, "rules")))
        topics = await done(redis.smembers(keys("chat", old, "topics")))
        settings = await done(redis.hgetall(self._settings(old)))
        held = await done(redis.zrange(self._held(old), 0, -1, withscores=True))
        muted, muted_ms = await redis.get(self._muted(old)), await redis.pttl(self._muted(old))
        in_digests = await done(redis.sismember(keys("digest_chats"), old))
        sent = [key async for key in redis.scan_iter(match=_glob(keys("sent", old, "")) + "*",
                                                     count=1000)]
        claims = [key async for key in redis.scan_iter(
            match=_glob(keys("digest", old, "")) + "*", count=1000)]
        alerts = {key[len(keys("sent", old, "")):]: _moved_alert(old, await done(
            redis.hgetall(key))) for key in sent}
        claim_values = [(await redis.get(key), await redis.ttl(key)) for key in claims]
        seq = (await redis.incrby(keys("chat", new, "rule_seq"), len(rules))) - len(rules)
        async with redis.pipeline(transaction=True) as pipe:
            for n, (_, expression) in enumerate(
                    sorted(rules.items(), key=lambda kv: int(kv[0])), start=seq + 1):
                pipe.hset(keys("chat", new, "rules"), str(n), expression)
            if rules:
                pipe.sadd(keys("rule_chats"), new)
            for topic in topics:
                pipe.sadd(keys("topic", topic, "chats"), new)
                pipe.srem(keys("topic", topic, "chats"), old)
                pipe.sadd(keys("chat", new, "topics"), topic)
            for field_name, value in settings.items():
                pipe.hsetnx(self._settings(new), field_name, value)
            if in_digests:
                pipe.sadd(keys("digest_chats"), new)
            if muted is not None and muted_ms > 0:
                pipe.set(self._muted(new), muted, px=muted_ms, nx=True)
            if held:
                pipe.zadd(self._held(new), dict(held), nx=True)
                pipe.sadd(keys("held_chats"), new)
            for story_id, record in alerts.items():
                if not record:  # expired meanwhile
                    continue
                pipe.hset(keys.sent(new, story_id), mapping=record)
                pipe.expire(keys.sent(new, story_id), SENT_TTL)
                pipe.sadd(keys.story_chats(story_id), new)
                pipe.expire(keys.story_chats(story_id), SENT_TTL)
            for key, (value, ttl) in zip(claims, claim_values, strict=True):
                if value is not None and ttl > 0:
                    pipe.set(keys("digest", new, key[len(keys("digest", old, "")):]), value,
                             ex=ttl, nx=True)
            pipe.delete(keys("chat", old, "rules"), keys("chat", old, "topics"),
                        self._settings(old), self._muted(old), self._held(old), *sent)
            pipe.srem(keys("rule_chats"), old)
            pipe.srem(keys("digest_chats"), old)
            pipe.srem(keys("held_chats"), old)
            pipe.hdel(self._paused, old)
            pipe.set(self._moved(old), new, ex=MOVED_TTL)
            pipe.incr(keys("rules_version"))
            await pipe.execute()
        return True

    @property
    def _paused(self) -> str:
        return self.keys("paused_chats")

    def _moved(self, chat: str) -> str:
        return self.keys("chat", chat, "moved")

    def _held(self, chat: str) -> str:
        return self.keys("chat", chat, "held")

    def _settings(self, chat: str) -> str:
        return self.keys("chat", chat, "settings")

    def _muted(self, chat: str) -> str:
        return self.keys("chat", chat, "muted")


def _paused(chat: str, raw: str) -> Paused:
    record = json.loads(raw)
    return Paused(chat=chat, reason=str(record.get("reason", "")),
                  error=str(record.get("error", "")),
                  at=datetime.fromtimestamp(float(record.get("at", 0)), tz=UTC))


def _moved_alert(old: str, record: dict[str, str]) -> dict[str, str]:
    """A sent-alert record of chat `old` as its new id keeps it: the reference points into the
    old chat (`<old>#<ref>`), unless it is a list's (never edited) or points elsewhere already."""
    from bot.alerts import LISTED_PREFIX  # bot.alerts imports this module

    ref = record.get("ref", "")
    if ref and not ref.startswith(LISTED_PREFIX) and MOVED_REF not in ref:
        return {**record, "ref": f"{old}{MOVED_REF}{ref}"}
    return record


def _glob(text: str) -> str:
    """`text` with the glob characters of SCAN's MATCH escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
