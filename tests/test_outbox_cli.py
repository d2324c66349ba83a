"""`newsbot outbox`: pending depth and dead letters, and `outbox retry` putting them back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.app import App
from bot.config import Settings
from bot.outbox import MAX_ATTEMPTS
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.telegram_server import BotApiServer

CHAT = 1001


def _newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


async def test_dead_letters_are_listed_and_retried_until_delivered(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """Alerts the Bot API refuses MAX_ATTEMPTS times become dead letters that `newsbot
    outbox` lists with their error and headline; `outbox retry 1` then `--all` queue them
    again and the next delivery sends each one once."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {SEEDS}\n")
    async with BotApiServer() as api:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
        env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
                "NEWSBOT_FEEDS": str(feeds), "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
                "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root}
        settings = Settings(**{k: v for k, v in env.items()  # type: ignore[arg-type]
                               if k.startswith(("NEWSBOT_", "TELEGRAM_", "REDIS_"))})
        api.fail_next("sendMessage", 2 * MAX_ATTEMPTS, code=400,
                      description="Bad Request: chat is being migrated")
        async with App(settings) as app:
            dead_before = app.metrics.value("newsbot_dead_letters_total")
            await app.chats.subscribe(f"telegram:{CHAT}", "dprk-troops")
            assert await app.run_once() == 0  # both alerts given up on
            entries = await store.redis.llen(app.outbox.dead)  # one per outbox entry
        assert app.metrics.value("newsbot_dead_letters_total") - dead_before == entries >= 2
        assert api.calls_of("sendMessage") == []

        shown = _newsbot("outbox", env=env)
        assert shown.returncode == 0, shown.stderr
        assert "pending: 0 deliveries" in shown.stdout and "dead letters: 2" in shown.stdout
        assert shown.stdout.count(f"telegram:{CHAT}") == 2
        assert shown.stdout.count("Chat is being migrated") == 2
        listed = json.loads(_newsbot("outbox", "--json", env=env).stdout)
        assert listed["pending"] == 0 and [d["n"] for d in listed["dead"]] == [1, 2]
        assert all(d["headline"] and d["chat"] == f"telegram:{CHAT}" for d in listed["dead"])
        assert sum(d["entries"] for d in listed["dead"]) == entries
        assert all(d["rules"] for d in listed["dead"])

        usage = _newsbot("outbox", "retry", env=env)
        assert usage.returncode == 2 and "numbers or --all" in usage.stderr
        wrong = _newsbot("outbox", "retry", "3", env=env)
        assert wrong.returncode == 2 and "no dead letter 3 (there are 2)" in wrong.stderr

        one = _newsbot("outbox", "retry", "1", env=env)
        assert one.returncode == 0 and "queued 1 dead letter" in one.stdout, one.stderr
        after_one = json.loads(_newsbot("outbox", "--json", env=env).stdout)
        assert after_one["pending"] == 1
        assert [d["story"] for d in after_one["dead"]] == [listed["dead"][1]["story"]]

        rest = _newsbot("outbox", "retry", "--all", env=env)
        assert rest.returncode == 0 and "queued 1 dead letter" in rest.stdout, rest.stderr
        async with App(settings) as app:
            assert await app.outbox.depth() == 2
            assert await app.deliverer.drain() == 2
            assert await app.outbox.depth() == 0
        sent = api.calls_of("sendMessage")
        assert [int(p["chat_id"]) for p in sent] == [CHAT, CHAT]
        assert sum("3 outlets" in p["text"] for p in sent) == 1
    emptied = _newsbot("outbox", env=env)
    assert "dead letters: 0" in emptied.stdout
