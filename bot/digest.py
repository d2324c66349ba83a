"""The daily digest, and alerts held while a chat is muted or in its quiet hours.

A digest lists the stories first seen in the last 24 hours that match the chat's rules and
topics (as they are now: archived articles are matched again), most outlets first, then most
recent, each with a one-line summary and links. A held batch lists the stories whose alerts
were held. Both are a `StoryList`, which each platform renders and splits within its limits
(`Channel.list_messages`) and posts one message at a time (`Channel.post`), each in its slot
of the platform's pace shared with alert delivery (`bot.pacing.Pacer`): a digest hour with
many chats stays within the platform's limits, and a `retry_after` pauses every worker.

Scheduling: `Digests.tick` runs every minute (and once at start). For each chat with a digest
it asks an APScheduler `CronTrigger` in the chat's IANA zone for the last time the digest was
due; the digest of that local date is sent if it is not recorded yet and is at most
LATE_LIMIT late. Slots are local dates, claimed with SET NX before sending, so a DST change
neither skips a digest (a time that does not exist that day fires at the first instant after
it) nor doubles one (a time that occurs twice is the same date), several workers send each
digest once, and a bot that was down at digest time sends it when it comes back within
LATE_LIMIT. A digest that could not be sent at all gives its claim back for the next tick.

Held alerts: `Deliverer` holds a new alert instead of sending it while the chat is muted or
in its quiet hours (edits of alerts already sent go through: they do not notify). When the
hold ends, `Digests.release` sends the held stories as one batched message, or, if the chat
chose `/mute mode digest`, leaves them for its next digest, which lists them and clears them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot import i18n
from bot.alerts import AlertComposer, StoryList, matched_terms
from bot.archive import Archive
from bot.channel import Channel
from bot.chats import ChatDirectory, zone_info
from bot.errors import ChannelError, LeaseHeldError
from bot.models import Story
from bot.pacing import Pacer, PacingStoppedError
from bot.routing import RuleBook
from bot.rules.engine import RuleSet
from bot.store import LISTED_PREFIX, Store

log = logging.getLogger(__name__)

DIGEST_WINDOW = timedelta(hours=24)
DIGEST_STORIES = 30
LATE_LIMIT = timedelta(hours=3)
SLOT_TTL = 8 * 86_400


@dataclass(slots=True)
class _Matched:
    """What a chat's rules matched in one story's archived articles."""

    terms: dict[str, None] = field(default_factory=dict)
    rules: set[str] = field(default_factory=set)


def due_slot(at: str, timezone: str, now: datetime) -> datetime | None:
    """The last time at or before `now` a daily digest at `at` (HH:MM) in `timezone` was due,
    as APScheduler's cron trigger fires it; None if that is more than LATE_LIMIT ago."""
    hour, minute = (int(part) for part in at.split(":"))
    zone = zone_info(timezone)
    trigger = CronTrigger(hour=hour, minute=minute, timezone=zone)
    last = None
    fire = trigger.get_next_fire_time(None, now - LATE_LIMIT - timedelta(days=1))
    while fire is not None and fire <= now:
        last = fire
        # Step from the instant in UTC: asked from a local time that occurs twice, the
        # trigger can answer the same fire time again.
        fire = trigger.get_next_fire_time(None, fire.astimezone(UTC) + timedelta(minutes=1))
    return last if last is not None and now - last <= LATE_LIMIT else None


def slot_name(fire: datetime, timezone: str) -> str:
    """The local date a digest fire time belongs to: one digest per chat per local date."""
    return fire.astimezone(zone_info(timezone)).date().isoformat()


class Digests:
    """Builds and sends digests and held batches."""

    def __init__(self, store: Store, *, chats: ChatDirectory, rules: RuleBook, archive: Archive,
                 composer: AlertComposer, pacer: Pacer | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.pacer = pacer or Pacer(store)
        self.chats = chats
        self.rules = rules
        self.archive = archive
        self.composer = composer
        self.clock = clock
        # The archive matched against the rules: (rule set, since) -> [(story id, matches)]
        # for the last window asked; a tick's digests (one `now`) share it.
        self._matched: tuple[tuple[RuleSet, datetime], list[tuple[str, Mapping[
            str, tuple[str, ...]]]]] | None = None

    # --- building ---------------------------------------------------------------------------

    async def followed(self, chat: str) -> set[str]:
        """The ids of the rules whose matches reach `chat`: its own and its topics'."""
        own = {r.id for r in await self.chats.rules_of(chat)}
        return own | {f"topic:{t}" for t in await self.chats.topics_of(chat)}

    async def digest(self, chat: str, *, now: datetime | None = None) -> StoryList | None:
        """The chat's digest at `now`; None when the chat follows nothing."""
        now = now or self.clock()
        followed = await self.followed(chat)
        held = await self.chats.held(chat)
        if not followed and not held:
            return None
        matches = await self._matches(followed, since=now - DIGEST_WINDOW)
        stories = [s for s in await self.store.get_stories([*matches, *held]) if s is not None]
        chosen = {s.id: s for s in stories
                  if s.id in held or (s.first_seen >= now - DIGEST_WINDOW
                                      and self._enough_outlets(s, matches[s.id]))}
        ranked = sorted(chosen.values(), key=lambda s: (-len(s.outlets), -s.updated.timestamp(),
                                                        s.headline))
        lang = await self.chats.language(chat) or i18n.DEFAULT_LANGUAGE
        date = now.astimezone(zone_info(await self.chats.timezone(chat))).date().isoformat()
        title = i18n.text(lang, "digest.title", date=date, count=len(ranked))
        terms = {s.id: tuple(matches[s.id].terms) if s.id in matches else matched_terms(s)
                 for s in ranked}
        return await self._list(chat, title, ranked[:DIGEST_STORIES], lang=lang, terms=terms,
                                more=max(0, len(ranked) - DIGEST_STORIES))

    async def _matches(self, followed: set[str], *, since: datetime) -> dict[str, _Matched]:
        """story id -> what matched, for archived articles since `since` that a followed rule
        matches now."""
        if not followed:
            return {}
        found: dict[str, _Matched] = {}
        for story_id, matches in await self._archive_matches(since):
            for rule_id, terms in matches.items():
                if rule_id in followed:
                    matched = found.setdefault(story_id, _Matched())
                    matched.terms.update(dict.fromkeys(terms))
                    matched.rules.add(rule_id)
        return found

    async def _archive_matches(self, since: datetime
                               ) -> list[tuple[str, Mapping[str, tuple[str, ...]]]]:
        """Every archived article since `since` matched against all active rules, once per
        rule set and window: the digests of one tick (many chats, one `now`) read the archive
        and run the rules over it once, not once per chat."""
        ruleset = await self.rules.current()
        if self._matched is not None and self._matched[0] == (ruleset, since):
            return self._matched[1]
        matched = [(story_id, ruleset.match(article))
                   for article, story_id in await self.archive.since(since)]
        self._matched = ((ruleset, since), matched)
        return matched

    def _enough_outlets(self, story: Story, matched: _Matched) -> bool:
        """True when some matched rule's `min_outlets` is reached by the story."""
        rules = [self.rules.rule(r) for r in matched.rules]
        return any(r is None or len(story.outlets) >= r.min_outlets for r in rules)

    async def _list(self, chat: str, title: str, stories: Sequence[Story], *, lang: str,
                    terms: dict[str, tuple[str, ...]], more: int = 0) -> StoryList:
        timezone = await self.chats.timezone(chat)
        listed = [await self.composer.listed(s, terms.get(s.id, ()), timezone, lang=lang)
                  for s in stories]
        return StoryList(chat=chat, title=title, stories=tuple(listed), lang=lang, more=more)

    # --- sending ----------------------------------------------------------------------------

    async def tick(self, channels: dict[str, Channel], *, now: datetime | None = None) -> int:
        """Send every digest that is due and not sent yet, then release ended holds.

        Returns the number of digests and batches sent.
        """
        now = now or self.clock()
        sent = 0
        for chat in sorted(await self.chats.digest_chats()):
            if self.pacer.stop.is_set():  # shutting down: the next start sends what is due
                break
            setting = await self.chats.digest_of(chat)
            channel = channels.get(chat.partition(":")[0])
            if setting is None or channel is None:
                continue
            fire = due_slot(setting[0], setting[1], now)
            since = await self.chats.digest_since(chat)
            if fire is None or (since is not None and fire <= since):
                continue
            sent += await self.send_digest(chat, channel, slot=slot_name(fire, setting[1]),
                                           now=now)
        return sent + await self.release(channels, now=now)

    async def send_digest(self, chat: str, channel: Channel, *, slot: str,
                          now: datetime) -> int:
        """Send the chat's digest for `slot` unless some worker already did; 1 if sent."""
        if not await self.chats.claim_digest(chat, slot, now=now, ttl=SLOT_TTL):
            return 0
        digest = await self.digest(chat, now=now)
        if digest is None or not digest.stories:
            log.info("digest: nothing to send", extra={"kv": {"chat": chat, "slot": slot}})
            return 0
        try:
            await post_list(self.pacer, channel, digest)
        except (ChannelError, PacingStoppedError) as exc:
            await self.chats.unclaim_digest(chat, slot)  # the next tick (or start) tries again
            log.warning("digest: failed", extra={"kv": {"chat": chat, "error": str(exc)}})
            return 0
        await self.chats.clear_held(chat, [s.story_id for s in digest.stories])
        log.info("digest: sent", extra={"kv": {"chat": chat, "slot": slot,
                                               "stories": len(digest.stories)}})
        return 1

    async def release(self, channels: dict[str, Channel], *, now: datetime) -> int:
        """Send the held alerts of chats whose mute or quiet hours ended, as one batch each."""
        sent = 0
        for chat in sorted(await self.chats.held_chats()):
            channel = channels.get(chat.partition(":")[0])
            if channel is None or await self.chats.holding(chat, now=now):
                continue
            if await self.chats.held_mode(chat) == "digest":
                continue
            sent += await self._release(chat, channel, now=now)
        return sent

    async def _release(self, chat: str, channel: Channel, *, now: datetime) -> int:
        try:
            async with self.store.lease(f"release:{chat}", ttl_ms=120_000, wait=0):
                held = await self.chats.held(chat)
                stories = [s for s in await self.store.get_stories(held) if s is not None]
                if not stories:
                    await self.chats.clear_held(chat, held)
                    return 0
                lang = await self.chats.language(chat) or i18n.DEFAULT_LANGUAGE
                batch = await self._list(
                    chat, i18n.text(lang, "held.title", count=len(stories)), stories,
                    lang=lang, terms={s.id: matched_terms(s) for s in stories})
                refs = await post_list(self.pacer, channel, batch)
                await self._record_listed(chat, stories, refs[0] if refs else "")
                await self.chats.clear_held(chat, held)
                return 1
        except (ChannelError, PacingStoppedError) as exc:  # held alerts stay held
            log.warning("mute: release failed", extra={"kv": {"chat": chat, "error": str(exc)}})
            return 0
        except LeaseHeldError:  # another worker is releasing this chat's alerts
            return 0

    async def _record_listed(self, chat: str, stories: Sequence[Story], ref: str) -> None:
        """Mark the stories as shown to `chat` (in a list: later updates come as new alerts)."""
        await self.store.record_sent(chat, stories, f"{LISTED_PREFIX}{ref}")



async def post_list(pacer: Pacer, channel: Channel, stories: StoryList) -> list[str]:
    """Post a story list as the channel renders it, one message at a time, each in its slot
    of the platform's pace (`retry_after` waited out; a message already posted is never
    posted again)."""
    return [await pacer.call(stories.chat, channel.platform, channel.post, stories.chat, message)
            for message in channel.list_messages(stories)]
