"""The delivery worker (Deliverer) over the durable outbox (a Redis Stream with a consumer group:
bot/store/outbox.py); bot/consumer.py keeps its place in the group, bot/gone.py its chats that
went away.

Routing appends (chat, story) entries; delivery reads them, renders the story's CURRENT state
and either sends a new alert or edits the one already sent, recording the message reference
and the story version per (chat, story). A new alert for a chat that is muted or in its quiet
hours is held (see `bot.digest`) instead of sent. Re-reading an entry whose version was
already shown is a no-op, so several entries for one story collapse into one message.

Guarantees (several `newsbot run` processes may share the outbox):

- At least once, never dropped: an entry is acknowledged only once what it asks for is done
  (the platform accepted the message and its reference is recorded, or the alert is held, or
  nothing was needed). A 429 is not a failure: the entry waits as long as the platform asks.
  Other errors count; after MAX_ATTEMPTS the entry moves to the dead letters, which
  `newsbot outbox` shows and can queue again.
- Idempotent per (chat, story, version): the reference is recorded (`sent:<chat>:<story>`)
  before the entry is acknowledged, so a worker dying between the two sends nothing twice on
  restart. The one window left is between the platform accepting a message and the reference
  being written, a few milliseconds: a worker killed exactly there sends that alert again
  (the platforms offer no idempotency key). While Redis is away the reference is kept in
  memory and written when it is back.
- One worker per chat at a time: a worker holds the chat's lease (`deliver:<chat>`, renewed)
  while it decides and sends, so two workers never both send a first alert for one story.
- Consumers are named `<host>-<pid>-<random>` (`worker_name`), one per Deliverer. Each keeps a
  heartbeat key (HEARTBEAT_TTL, renewed every third of it) and, every REAP_SECONDS, claims the
  pending entries of dead consumers and deletes dead consumers that have none pending
  (XGROUP DELCONSUMER). Dead means: on this host with its process gone (taken over at once),
  or its heartbeat missing for HEARTBEAT_TTL on two looks (so a Redis outage, which expires
  every heartbeat, makes no live worker look dead). Entries idle for CLAIM_IDLE_MS (a hung
  worker) are claimed whatever their consumer; a worker touches the entries it holds while it
  waits, so its own never look idle.
- Shaping, shared by all workers through Redis (`bot.pacing.Pacer`: one Lua call per
  message, on the Redis clock): Telegram at most 28 messages in any second and 25 ms apart,
  one per 1.1 s per chat, one per 3.1 s per group or channel (20/min); Slack one per 1.1 s
  per channel. A `retry_after` pauses the whole platform for every worker. Digests and
  released held alerts (bot.digest) take their slots from the same pace.
- Bursts: when one batch holds COALESCE_AT (3) or more new alerts for one chat, they go out as
  one combined message (a `StoryList`, rendered like a digest, up to LIST_STORIES stories
  each), every story recorded as shown in a list (LISTED_PREFIX: not editable, so a later
  report comes as a new alert). A batch is what one read returns (up to BATCH entries) plus
  what arrives within GATHER_SECONDS after it. Edits are never combined.
- Shutdown is prompt: waits (pacing, `retry_after`) end when the stop event is set and the
  entries in hand stay pending for the next start or another worker.
- Chats that go away (issue 15, see `bot.chats`). A `ChatGoneError` (Telegram 403: blocked,
  kicked; Slack `not_in_channel`, `channel_not_found`, `is_archived`) is not retried and makes
  no dead letter: the chat is paused (`paused_chats`, with the reason, the platform's error and
  the time), each admin (`admins`, NEWSBOT_ADMINS) gets one direct message per pause, and the
  alert is held. The choice is made at delivery, not at routing: while paused, a chat's new
  alerts are held like a muted chat's (the newest PAUSED_HELD_MAX stories) and arrive as one
  batch once the bot is added back (`ChatDirectory.resume`); edits of alerts already sent are
  dropped (the message cannot be reached; the held batch is what the chat gets). A
  `ChatMovedError` (a Telegram group became a supergroup) moves the chat's records to the new
  id (`ChatDirectory.migrate`) and queues the alert, and every entry still queued for the old
  id, for the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from bot import i18n
from bot.alerts import ListedStory, StoryList, matched_terms
from bot.channel import Channel
from bot.chats import ChatGoneError, ChatMovedError
from bot.consumer import GATHER_SECONDS, Item, Tally
from bot.errors import ChannelError, MessageGoneError
from bot.gone import ChatsGone, paused_notice
from bot.models import Delivery, Story
from bot.pacing import PacingStoppedError
from bot.store import LISTED_PREFIX, STORE_DOWN, Lease, Sent
from bot.store.outbox import BATCH, CLAIM_IDLE_MS, GROUP, MAX_ATTEMPTS, Outbox

__all__ = ["BATCH", "CLAIM_IDLE_MS", "GATHER_SECONDS", "GROUP", "MAX_ATTEMPTS", "Deliverer",
           "Outbox", "Sent", "paused_notice"]

log = logging.getLogger(__name__)

LIST_STORIES = 10  # stories per combined message
CHAT_LEASE_TTL = 15.0
CHAT_LEASE_WAIT = 2.0  # how long to wait for a chat another worker is delivering to


class Deliverer(ChatsGone):
    """Turns outbox entries into platform messages: send once, edit as the story grows."""

    # --- one batch ----------------------------------------------------------------------------

    async def _deliver_batch(self, entries: list[tuple[str, Delivery]]) -> Tally:
        """Deliver a batch, several chats at once, each (chat, story) once; entries are
        acknowledged as their work is done, the rest stay pending."""
        by_chat: dict[str, dict[str, list[tuple[str, Delivery]]]] = {}
        for entry_id, delivery in entries:
            by_chat.setdefault(delivery.chat, {}).setdefault(
                delivery.story_id, []).append((entry_id, delivery))
        self._in_hand.entries.update(entry_id for entry_id, _ in entries)
        try:
            results = await asyncio.gather(*(self._guarded(chat, groups)
                                              for chat, groups in by_chat.items()),
                                           return_exceptions=True)
        finally:
            self._in_hand.entries.difference_update(entry_id for entry_id, _ in entries)
        tally = Tally()
        for result in results:
            if isinstance(result, Tally):
                tally.add(result)
            elif isinstance(result, (PacingStoppedError, *STORE_DOWN)):
                if isinstance(result, PacingStoppedError) or self._stop.is_set():
                    raise PacingStoppedError
                raise result
            elif isinstance(result, BaseException):
                raise result
        return tally

    async def _guarded(self, chat: str, groups: dict[str, list[tuple[str, Delivery]]]
                       ) -> Tally:
        """Deliver to one chat under its lease; busy (left pending) if another worker has it."""
        async with self._gate:
            lease = Lease(self.store, f"deliver:{chat}", ttl=CHAT_LEASE_TTL,
                          holder=self.consumer)
            if not await lease.wait(CHAT_LEASE_WAIT):
                return Tally(busy=1)
            self._in_hand.leases.add(lease)
            try:
                return await self._deliver_chat(chat, groups)
            finally:
                self._in_hand.leases.discard(lease)
                with contextlib.suppress(*STORE_DOWN):
                    await lease.release()

    async def _deliver_chat(self, chat: str, groups: dict[str, list[tuple[str, Delivery]]]
                            ) -> Tally:
        """Decide per story (nothing, hold, new alert, edit), then send: new alerts one by one
        or, COALESCE_AT or more, combined."""
        chats = self.composer.chats
        if (moved := await chats.moved_to(chat)) is not None:  # queued before the migration
            await self._redirect(moved, [(tuple(e for e, _ in entries), Delivery(
                chat=moved, story_id=story_id,
                rule_ids=tuple(dict.fromkeys(r for _, d in entries for r in d.rule_ids))))
                for story_id, entries in groups.items()])
            return Tally()
        story_ids = list(groups)
        stories = await self.store.get_stories(story_ids)
        shown = await self.store.sent_many(chat, story_ids)
        muted = await chats.muted_stories(chat, [  # "mute updates": only updates need asking
            story_id for story_id, sent in zip(story_ids, shown, strict=True) if sent])
        new: list[Item] = []
        edits: list[Item] = []
        for story_id, story, sent in zip(story_ids, stories, shown, strict=True):
            ids = tuple(entry_id for entry_id, _ in groups[story_id])
            if story is None or (sent is not None and sent.version >= story.version) or (
                    sent is not None and story_id in muted):
                await self.outbox.ack(*ids)
                continue
            rules = tuple(dict.fromkeys(r for _, d in groups[story_id] for r in d.rule_ids))
            if sent is None or sent.ref.startswith(LISTED_PREFIX):
                new.append(Item(story, rules, ids))  # after a list, news comes as an alert
            else:
                edits.append(Item(story, rules, ids, sent))
        tally = Tally()
        channel = self.channels.get(chat.partition(":")[0])
        if channel is None:
            for item in new + edits:
                tally.add(await self._failed(chat, item, ChannelError(
                    f"delivery: no channel for chat {chat}")))
            return tally
        if await chats.is_paused(chat):
            await self._hold_paused(chat, new + edits)
            return tally
        if new and await chats.holding(chat, now=self.clock()):
            for item in new:
                await chats.hold(chat, item.story.id, now=self.clock())
                await self.outbox.ack(*item.ids)  # held, not dropped: see bot.digest
            new = []
        return await self._send_all(chat, channel, new, edits)

    async def _send_all(self, chat: str, channel: Channel, new: list[Item],
                        edits: list[Item]) -> Tally:
        """New alerts (combined when COALESCE_AT or more), then edits; once the chat turns out
        paused or moved, the rest are diverted instead of sent."""
        tally = Tally()
        if len(new) >= self.coalesce_at:
            tally.add(await self._send_lists(chat, channel, new))
            new = []
            if tally.diverted:
                await self._divert(chat, edits)
                return tally
        items = new + edits
        for index, item in enumerate(items):
            tally.add(await self._send_one(chat, channel, item))
            if tally.diverted:
                await self._divert(chat, items[index + 1:])
                break
        return tally

    # --- sending ------------------------------------------------------------------------------

    async def _send_one(self, chat: str, channel: Channel, item: Item) -> Tally:
        """Send (or edit) one alert, record it, acknowledge its entries."""
        alert = await self.composer.compose(chat, item.story, item.rules)
        sent = item.sent
        try:
            while True:
                try:
                    if sent is None:
                        ref = await self._call(chat, channel, channel.send, alert)
                    else:
                        await self._call(chat, channel, channel.edit, sent.ref, alert)
                        ref = sent.ref
                    break
                except MessageGoneError:
                    sent = None  # the user deleted the alert: post the story afresh
        except (ChatGoneError, ChatMovedError) as exc:
            await self._chat_went(chat, channel, exc)
            await self._divert(chat, [item])
            return Tally(diverted=True)
        except ChannelError as exc:
            return await self._failed(chat, item, exc)
        await self._keep(chat, [item.story], ref)
        await self.outbox.ack(*item.ids)
        self.metrics.delivered(channel.platform, item.story, edited=sent is not None,
                               now=self.clock())
        return Tally(done=1)

    async def _send_lists(self, chat: str, channel: Channel, items: list[Item]) -> Tally:
        """A burst as combined messages of up to LIST_STORIES stories each."""
        tally = Tally()
        lang = await self.composer.chats.language(chat) or i18n.DEFAULT_LANGUAGE
        timezone = await self.composer.chats.timezone(chat)
        for start in range(0, len(items), LIST_STORIES):
            chunk = items[start:start + LIST_STORIES]
            stories = StoryList(chat=chat, title=i18n.text(lang, "burst.title",
                                                             count=len(chunk)),
                                stories=tuple([await self._listed(item, timezone, lang)
                                               for item in chunk]), lang=lang)
            try:
                refs = [await self._call(chat, channel, channel.post, chat, message)
                        for message in channel.list_messages(stories)]
            except (ChatGoneError, ChatMovedError) as exc:
                await self._chat_went(chat, channel, exc)
                await self._divert(chat, items[start:])
                tally.diverted = True
                return tally
            except ChannelError as exc:
                for item in chunk:
                    tally.add(await self._failed(chat, item, exc))
                continue
            ref = f"{LISTED_PREFIX}{refs[0] if refs else ''}"
            await self._keep(chat, [item.story for item in chunk], ref)
            await self.outbox.ack(*(entry_id for item in chunk for entry_id in item.ids))
            for item in chunk:
                self.metrics.delivered(channel.platform, item.story, edited=False, now=self.clock())
            tally.done += len(refs)
            log.info("delivery: burst combined", extra={"kv": {
                "chat": chat, "stories": len(chunk), "messages": len(refs)}})
        return tally

    async def _listed(self, item: Item, timezone: str, lang: str) -> ListedStory:
        """One story of a combined message, as a digest lists it."""
        return await self.composer.listed(item.story, matched_terms(item.story, item.rules),
                                          timezone, lang=lang)

    async def _failed(self, chat: str, item: Item, exc: ChannelError) -> Tally:
        log.warning("delivery: failed", extra={"kv": {
            "chat": chat, "story_id": item.story.id, "error": str(exc)}})
        self.metrics.delivery_failed(chat)
        delivery = Delivery(chat=chat, story_id=item.story.id, rule_ids=item.rules)
        for entry_id in item.ids:
            if await self.outbox.fail(entry_id, delivery, str(exc)):
                self.metrics.dead_lettered()
        return Tally(failed=1)

    async def _keep(self, chat: str, stories: Sequence[Story], ref: str) -> None:
        """Record what was sent, retrying while Redis is away (until the stop event: then the
        entries stay pending and may be sent again)."""
        pause = 0.2
        while True:
            try:
                await self.store.record_sent(chat, stories, ref)
                return
            except STORE_DOWN as exc:
                log.warning("delivery: cannot record a sent message yet; retrying",
                            extra={"kv": {"error": str(exc)}})
                await self._sleep(pause)
                pause = min(2 * pause, 2.0)
