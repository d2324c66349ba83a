"""Settings from the environment: defaults, parsing, validation and secret hiding."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import REPO_ROOT, Settings

_VARS = ("REDIS_URL", "NEWSBOT_DATA_DIR", "NEWSBOT_FEEDS", "NEWSBOT_RULES_DIR",
         "NEWSBOT_HTTP_PORT", "NEWSBOT_LOG_LEVEL", "NEWSBOT_ADMINS", "TELEGRAM_BOT_TOKEN",
         "TELEGRAM_API_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
         "SLACK_API_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts from an empty environment in an empty directory (no .env)."""
    for var in _VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    """Unset variables take the documented defaults."""
    s = Settings()
    assert s.redis_url is None and s.data_dir == Path("data") and s.http_port == 8080
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.feeds_file == REPO_ROOT / "feeds.yaml" and s.rules_dir == REPO_ROOT / "rules"
    assert not s.telegram_enabled and not s.slack_enabled and s.admins == ()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable is read from the environment with its type."""
    monkeypatch.setenv("NEWSBOT_HTTP_PORT", "9000")
    monkeypatch.setenv("NEWSBOT_ADMINS", "telegram:12345, slack:U0123ABC")
    monkeypatch.setenv("NEWSBOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    s = Settings()
    assert s.http_port == 9000 and s.log_level == "DEBUG" and s.telegram_enabled
    assert s.admins == ("telegram:12345", "slack:U0123ABC")


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    """A .env file in the working directory supplies settings."""
    (tmp_path / ".env").write_text("NEWSBOT_DATA_DIR=/srv/newsbot\nSLACK_BOT_TOKEN=xoxb-1\n")
    s = Settings()
    assert s.data_dir == Path("/srv/newsbot") and s.slack_enabled


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty variable (as compose passes `${X:-}`) leaves the default in place."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("NEWSBOT_HTTP_PORT", "")
    s = Settings()
    assert not s.telegram_enabled and s.http_port == 8080


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens and the Redis URL (which may hold a password) are hidden in repr and str."""
    secrets = {"TELEGRAM_BOT_TOKEN": "123:tg-secret", "SLACK_BOT_TOKEN": "xoxb-sl-secret",
               "SLACK_SIGNING_SECRET": "sign-secret", "SLACK_APP_TOKEN": "xapp-secret",
               "REDIS_URL": "redis://:pw-secret@host:6379/0"}
    for var, value in secrets.items():
        monkeypatch.setenv(var, value)
    s = Settings()
    shown = repr(s) + str(s) + str(s.model_dump())
    assert not any(value in shown for value in secrets.values())
    assert s.telegram_bot_token and s.telegram_bot_token.get_secret_value() == "123:tg-secret"


@pytest.mark.parametrize(("var", "value"), [
    ("NEWSBOT_HTTP_PORT", "http"), ("NEWSBOT_HTTP_PORT", "70000"),
    ("NEWSBOT_LOG_LEVEL", "loud"), ("NEWSBOT_ADMINS", "12345"),
    ("NEWSBOT_ADMINS", "irc:me"),
])
def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch, var: str,
                                     value: str) -> None:
    """A malformed value fails at start with a message naming the variable."""
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError, match=var):
        Settings()
