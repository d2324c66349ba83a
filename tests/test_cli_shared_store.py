"""One embedded store, any number of CLI processes (issue 15), with real processes throughout.

While `newsbot run` owns the embedded Valkey server of a data directory, it records the
server's address in `valkey/owner.json`; every other command checks that the bot is alive and
its server answers, and works on that server. Two `newsbot run` on one directory refuse; a
record left by a killed bot is ignored and replaced; commands with no bot running take turns.
Nothing here waits a fixed time: every wait polls a condition under a generous deadline.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.store import OWNER_FILE, EmbeddedValkey
from tests.conftest import REPO, SEEDS

pytestmark = pytest.mark.slow

DEADLINE = 90.0  # seconds any one condition may take on a loaded machine


def _pings(url: str) -> bool:
    """True if the server at `url` answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        return bool(client.ping())
    finally:
        client.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The embedded store in `tmp_path/data`, the seeds and an (empty) incoming folder as feeds,
    no shipped topics (so an alert can only come from a chat's rule), no chat platform."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_")) and k != "REDIS_URL"}
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "incoming").mkdir(exist_ok=True)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {SEEDS}\n"
                     f"  - path: {tmp_path / 'incoming'}\n    interval: 0.5\n")
    env.update(NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FEEDS=str(feeds),
               NEWSBOT_RULES_DIR=str(tmp_path / "rules"), NEWSBOT_HTTP_PORT="0",
               NEWSBOT_POLL_MIN_INTERVAL="0.5", **extra)
    return env


def _newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def _until(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it is truthy (returning its value), failing after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not (value := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)
    return value


class Bot:
    """A `newsbot run` process; its stdout lines are read in the background."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.record_path = Path(env["NEWSBOT_DATA_DIR"]) / "valkey" / OWNER_FILE

    def _read(self) -> None:
        for line in self.proc.stdout or []:
            self.stdout.append(line)
            self.lines.put(line)

    def record(self) -> dict[str, Any] | None:
        """The owner record once it names this bot's server, else None."""
        try:
            record = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None
        return record if record.get("pid") == self.proc.pid and record.get("url") else None

    def started(self) -> dict[str, Any]:
        """Wait until the bot has started its server and recorded it; the record."""
        def ready() -> dict[str, Any] | None:
            assert self.proc.poll() is None, self.stderr()
            return self.record()
        record: dict[str, Any] = _until(ready, "`newsbot run` to record its server")
        return record

    def alert(self, text: str) -> str:
        """The next `[ALERT]` line naming `text` (fails after DEADLINE without one)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("[ALERT]") and text in line:
                return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read() if self.proc.stderr else ""


@contextmanager
def running(env: dict[str, str]) -> Iterator[Bot]:
    bot = Bot(env)
    try:
        yield bot
    finally:
        if bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait(timeout=30)


def _seed_file(folder: Path, title: str, text: str) -> None:
    """A new seed-format article, dated now, written whole (the bot never reads it half)."""
    body = (f"<!--{int(time.time() * 1000)}-->\n[{title}](https://www.dw.com/zh/a-{os.getpid()})"
            f"\n------\n\n<p>{text}</p>\n")
    tmp = folder / ".new.tmp"
    tmp.write_text(body)
    tmp.rename(folder / "900_new.txt")


def test_cli_commands_work_on_the_store_of_a_running_bot(tmp_path: Path) -> None:
    """While `newsbot run` owns the embedded server, `chat`, `stories`, `outbox` (and `outbox
    retry`) and `feeds` (`list`, `reactivate`) use that server (no second one starts); a rule
    added with `newsbot chat` reaches the running bot, which alerts the console on the next
    report it matches; after SIGTERM the next command opens the data directory itself."""
    env = _env(tmp_path)
    data = tmp_path / "data"
    with running(env) as bot:
        record = bot.started()
        assert record["role"] == "run" and _pings(record["url"])

        def seed_stories() -> list[dict[str, Any]] | None:
            listed = _newsbot("stories", "--since", "1h", "--json", env=env)
            assert listed.returncode == 0, listed.stderr
            stories: list[dict[str, Any]] = json.loads(listed.stdout)
            return stories if sum(len(s["articles"]) for s in stories) == 5 else None
        stories = _until(seed_stories, "the running bot to place the five seeds")
        groups = sorted(sorted(Path(a["path"]).name[:3] for a in s["articles"]) for s in stories)
        assert groups == [["000"], ["001", "002", "003"], ["004"]]
        # The rule is added once the seeds are placed: they were placed under no rule.
        added = _newsbot("chat", "/rule add 朝鲜 + 派兵", env=env)
        assert added.returncode == 0, added.stdout + added.stderr
        assert "Rule #1 added: 朝鲜 + 派兵" in added.stdout

        outbox = _newsbot("outbox", env=env)
        assert outbox.returncode == 0, outbox.stderr
        assert "pending: " in outbox.stdout and "dead letters: 0" in outbox.stdout
        listed = _newsbot("feeds", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        rows = {row["location"]: row for row in json.loads(listed.stdout)}
        assert rows[str(SEEDS)]["health"] == "ok"
        retry = _newsbot("outbox", "retry", "--all", env=env)
        assert retry.returncode == 0 and "queued 0 dead letter" in retry.stdout, retry.stderr
        on = _newsbot("feeds", "reactivate", rows[str(SEEDS)]["id"], env=env)
        assert on.returncode == 1 and "not switched off" in on.stderr, on.stderr  # it is on

        rules = _newsbot("chat", "/rules", env=env)
        assert rules.returncode == 0 and "#1  朝鲜 + 派兵" in rules.stdout, rules.stdout

        # Every command used the bot's server: still the bot's record, one server only.
        assert bot.record() == record
        assert EmbeddedValkey(data).orphans() == {record["server_pid"]}
        assert not any(line.startswith("[ALERT]") for line in bot.stdout)  # no topics

        # The rule reached the running bot: a new report it matches is alerted to the console.
        _seed_file(tmp_path / "incoming", "朝鲜向俄罗斯派兵一万二千人",
                   "韩国国家情报院表示，朝鲜已向俄罗斯派兵一万二千人，部分已抵达前线。")
        assert "朝鲜向俄罗斯派兵一万二千人" in bot.alert("朝鲜向俄罗斯派兵")

        assert bot.stop() == 0, bot.stderr()
    assert not (data / "valkey" / OWNER_FILE).exists()
    after = _newsbot("chat", "/rules", env=env)
    assert after.returncode == 0 and "朝鲜 + 派兵" in after.stdout, after.stdout + after.stderr
    assert EmbeddedValkey(data).orphans() == set()


def test_a_second_run_on_one_data_directory_is_refused(tmp_path: Path) -> None:
    """`newsbot run` and `newsbot run --once` beside a running bot exit 2 with one line that
    names the bot and the way to run several workers (REDIS_URL); the bot goes on."""
    env = _env(tmp_path)
    with running(env) as bot:
        record = bot.started()
        for args in (["run"], ["run", "--once"]):
            second = _newsbot(*args, env=env)
            assert second.returncode == 2, second.stdout + second.stderr
            assert second.stderr.count("\n") == 1, second.stderr
            assert f"in use by `newsbot run` (pid {bot.proc.pid})" in second.stderr
            assert "REDIS_URL" in second.stderr
        assert bot.proc.poll() is None and bot.record() == record
        assert bot.stop() == 0, bot.stderr()


def test_the_record_of_a_killed_bot_is_ignored_and_replaced(tmp_path: Path) -> None:
    """A SIGKILLed bot leaves its record and its server (which still answers PING); the next
    command sees the bot is gone, stops that server, starts its own and removes the record when
    it is done: the data, including a rule added through the dead bot's server, is kept."""
    env = _env(tmp_path)
    data = tmp_path / "data"
    with running(env) as bot:
        record = bot.started()
        assert _newsbot("chat", "/rule add 朝鲜 + 派兵", env=env).returncode == 0
        bot.stop(signal.SIGKILL)
    assert json.loads((data / "valkey" / OWNER_FILE).read_text()) == record  # left behind
    assert _pings(record["url"])  # its server is still up
    rules = _newsbot("chat", "/rules", env=env)
    assert rules.returncode == 0 and "#1  朝鲜 + 派兵" in rules.stdout, rules.stdout + rules.stderr
    assert not (data / "valkey" / OWNER_FILE).exists()
    assert EmbeddedValkey(data).orphans() == set()


def test_commands_without_a_running_bot_take_turns(tmp_path: Path) -> None:
    """Three `newsbot chat` at once on a directory no bot runs on: each waits for the one
    holding the directory (none may fail but with the one-line "in use" error), every rule
    added is kept once, and no server is left running."""
    env = _env(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "chat",
                               f"/rule add 朝鲜 + 派兵 + 第{n}"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for n in range(3)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    added = []
    for n, (code, out, err) in enumerate(results):
        if code == 0:
            assert "added" in out, out + err
            added.append(f"朝鲜 + 派兵 + 第{n}")
        else:
            assert code == 2 and err.count("\n") == 1 and "in use by" in err, (code, out, err)
    assert added, results
    listed = _newsbot("chat", "/rules", env=env)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split("  ", 1)[1] for line in listed.stdout.splitlines()
                  if line.startswith("#")) == sorted(added)
    assert EmbeddedValkey(tmp_path / "data").orphans() == set()


def test_a_bot_and_a_command_started_together_both_work(tmp_path: Path) -> None:
    """`newsbot run` and `newsbot chat` started at once: whichever takes the directory first,
    the other waits for it or joins it; the command exits 0 and the bot comes up."""
    env = _env(tmp_path)
    with running(env) as bot:
        chat = _newsbot("chat", "/rule add 朝鲜 + 派兵", env=env)
        assert chat.returncode == 0 and "Rule #1 added" in chat.stdout, chat.stderr
        record = bot.started()
        rules = _newsbot("chat", "/rules", env=env)
        assert rules.returncode == 0 and "#1  朝鲜 + 派兵" in rules.stdout, rules.stderr
        assert bot.record() == record
        assert bot.stop() == 0, bot.stderr()
