"""Worker names: who a consumer or lease holder is, and whether it is known to be dead."""

from __future__ import annotations

import os
import socket


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

