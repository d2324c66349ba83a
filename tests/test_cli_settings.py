"""Bad settings through the real command line: every subcommand answers a bad setting with exit
2 and one line per bad setting on stderr that names the setting, never a traceback, never a
secret's value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import _env, _newsbot

TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SIGNING = "8f2a61c9e0b7d4a3f5e6c7b8a9d0e1f2"
SECRETS = (TOKEN, SIGNING, "GWJxfSeofSAs0K5PALDsaw", "e1f2")
COMMANDS = (("run", "--once"), ("stories",), ("feeds", "list"), ("outbox",),
            ("chat", "/help"), ("rules", "check"), ("rules", "test", "朝鲜"),
            ("stories", "explain", "x"))

# (bad settings, the setting the message must name)
BAD: list[tuple[dict[str, str], str]] = [
    ({"NEWSBOT_HTTP_PORT": "abc"}, "NEWSBOT_HTTP_PORT"),
    ({"NEWSBOT_HTTP_PORT": "70000"}, "NEWSBOT_HTTP_PORT"),
    ({"NEWSBOT_LOG_FORMAT": "xml"}, "NEWSBOT_LOG_FORMAT"),
    ({"NEWSBOT_LOG_LEVEL": "loud"}, "NEWSBOT_LOG_LEVEL"),
    ({"NEWSBOT_WINDOW_HOURS": "-1"}, "NEWSBOT_WINDOW_HOURS"),
    ({"NEWSBOT_ADMINS": "bob"}, "NEWSBOT_ADMINS"),
    ({"NEWSBOT_PUBLIC_URL": "ftp://x"}, "NEWSBOT_PUBLIC_URL"),
    ({"NEWSBOT_RULES_DIR": "/nonexistent/rules"}, "NEWSBOT_RULES_DIR"),
    ({"NEWSBOT_DATA_DIR": "/etc/passwd"}, "NEWSBOT_DATA_DIR"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_POLL_MAX_INTERVAL": "30"},
     "NEWSBOT_POLL_MAX_INTERVAL"),
    ({"SLACK_SIGNING_SECRET": SIGNING, "NEWSBOT_POLL_BACKOFF_BASE": "99999999"},
     "NEWSBOT_POLL_BACKOFF_BASE"),
]


def _check(result: object, setting: str, *, lines: int = 1) -> None:
    """Exit 2, `lines` lines on stderr naming `setting`, no traceback, no secret."""
    assert getattr(result, "returncode", None) == 2, result
    stderr: str = getattr(result, "stderr", "")
    assert "Traceback" not in stderr and "pydantic" not in stderr, stderr
    assert not any(secret in stderr for secret in SECRETS), stderr
    assert len(stderr.strip().splitlines()) == lines, stderr
    assert stderr.startswith("newsbot: ") and setting in stderr, stderr


@pytest.mark.parametrize(("bad", "setting"), BAD, ids=[s for _, s in BAD])
def test_each_bad_setting_is_one_line_naming_it(tmp_path: Path, bad: dict[str, str],
                                                setting: str) -> None:
    """`newsbot stories` with one bad setting exits 2 with one line naming the setting."""
    env = _env(**({"NEWSBOT_DATA_DIR": str(tmp_path / "data")} | bad))
    _check(_newsbot("stories", env=env, cwd=tmp_path), setting)


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_refuses_bad_settings_without_a_traceback(tmp_path: Path,
                                                                command: tuple[str, ...]) -> None:
    """Every subcommand answers two bad settings (one of them beside a secret) with exit 2 and
    one line for each."""
    env = _env(NEWSBOT_DATA_DIR=str(tmp_path / "data"), TELEGRAM_BOT_TOKEN=TOKEN,
               NEWSBOT_HTTP_PORT="http", NEWSBOT_LOG_FORMAT="xml")
    result = _newsbot(*command, env=env, cwd=tmp_path)
    _check(result, "NEWSBOT_HTTP_PORT", lines=2)
    assert "NEWSBOT_LOG_FORMAT" in result.stderr


@pytest.mark.parametrize("data_dir", ["/proc/newsbot", "/sys/kernel/newsbot", "/etc/passwd"])
@pytest.mark.parametrize("command", [("stories",), ("run", "--once"), ("feeds", "list")],
                         ids=["stories", "run --once", "feeds list"])
def test_an_unusable_data_directory_is_one_line(tmp_path: Path, data_dir: str,
                                                command: tuple[str, ...]) -> None:
    """A data directory that cannot be created or is a file: exit 2, one line naming
    NEWSBOT_DATA_DIR, for the commands that open the store."""
    env = _env(NEWSBOT_DATA_DIR=data_dir, NEWSBOT_FETCH_TIMEOUT="2")
    _check(_newsbot(*command, env=env, cwd=tmp_path), "NEWSBOT_DATA_DIR")
