"""The demo talks to a person (issue 15), through the real `newsbot` command line:
`run --once` ends with one summary line and sums the unreachable feeds up in one line (each
one's error with -v); a second run says nothing new arrived; commands other than the service
log only warnings unless -v; `newsbot --version`."""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import bot
from tests.conftest import REPO, SEEDS
from tests.feedserver import FeedServer

pytestmark = pytest.mark.slow


def _newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _env(tmp_path: Path, feeds: list[str]) -> dict[str, str]:
    """The embedded store in `tmp_path/data`, the seeds plus `feeds` (URLs), no platform."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_")) and k != "REDIS_URL"}
    file = tmp_path / "feeds.yaml"
    file.write_text(f"feeds:\n  - path: {SEEDS}\n" + "".join(f"  - url: {u}\n" for u in feeds))
    env.update(NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FEEDS=str(file),
               NEWSBOT_FETCH_TIMEOUT="5", NEWSBOT_FETCH_CONNECT_TIMEOUT="5")
    return env


def test_run_once_sums_up_then_says_nothing_new(tmp_path: Path) -> None:
    """Seeds plus two feeds that cannot be read (a 500 and a closed port): the two alerts on
    stdout; on stderr one line for the two unreachable feeds and one summary line, nothing else
    (no per-feed warning, no INFO); the second run says nothing new arrived."""
    with FeedServer() as server:
        broken = server.add("/500.xml", b"oops", status=500)
        env = _env(tmp_path, [broken, f"http://127.0.0.1:{_closed_port()}/feed.xml"])
        first = _newsbot("run", "--once", env=env)
        again = _newsbot("run", "--once", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("[ALERT] ") == 2, first.stdout
    lines = first.stderr.splitlines()
    assert len(lines) == 2, first.stderr
    assert lines[0].startswith("newsbot: 2 of 3 feeds unreachable (")
    assert "-v shows each one's error" in lines[0]
    assert lines[1] == ("newsbot: 5 articles read (5 new), 3 new stories, 2 alerts sent, "
                        "2 feeds unreachable")

    assert again.returncode == 0, again.stderr
    assert "[ALERT]" not in again.stdout
    lines = again.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("newsbot: 2 of 3 feeds unreachable (")
    assert lines[1] == ("newsbot: nothing new arrived: 5 articles read, all seen before; "
                        "0 alerts sent; 2 feeds unreachable")


def test_run_once_verbose_logs_each_unreachable_feed(tmp_path: Path) -> None:
    """With -v (before or after the subcommand) each unreachable feed's warning and the INFO
    lines are logged, and the summary line still ends the output."""
    with FeedServer() as server:
        broken = server.add("/500.xml", b"oops", status=500)
        env = _env(tmp_path, [broken])
        result = _newsbot("run", "--once", "-v", env=env)
        before = _newsbot("-v", "run", "--once", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    failed = [line for line in lines if "feeds: poll failed" in line]
    assert len(failed) == 1 and "/500.xml" in failed[0] and "WARNING" in failed[0]
    assert any("INFO bot.store: store: embedded valkey started" in line for line in lines)
    assert not any("feeds unreachable (" in line for line in lines)  # the details are there
    assert lines[-1] == ("newsbot: 5 articles read (5 new), 3 new stories, 2 alerts sent, "
                         "1 feed unreachable")
    assert before.returncode == 0 and "feeds: poll failed" in before.stderr, before.stderr
    assert before.stderr.splitlines()[-1].startswith("newsbot: nothing new arrived: ")


def test_commands_log_warnings_only_unless_verbose(tmp_path: Path) -> None:
    """`newsbot outbox` prints its answer and no log line (the embedded server starting is
    INFO); with -v the INFO lines show; NEWSBOT_LOG_LEVEL=DEBUG alone does not make it chatty."""
    env = _env(tmp_path, [])
    quiet = _newsbot("outbox", env=env)
    assert quiet.returncode == 0 and quiet.stdout.startswith("pending: "), quiet.stderr
    assert quiet.stderr == ""
    chatty = _newsbot("outbox", "-v", env=env)
    assert chatty.returncode == 0
    assert "INFO bot.store: store: embedded valkey started" in chatty.stderr
    debug = _newsbot("feeds", "list", env={**env, "NEWSBOT_LOG_LEVEL": "DEBUG"})
    assert debug.returncode == 0 and debug.stderr == "", debug.stderr


def test_version() -> None:
    """`newsbot --version` prints the package's version."""
    result = _newsbot("--version", env=dict(os.environ))
    assert result.returncode == 0
    assert result.stdout == f"newsbot {bot.__version__}\n"
    assert bot.__version__ == importlib.metadata.version("newsbot")
