"""Settings from the environment: defaults, parsing, validation and secret hiding."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot import __version__
from bot.config import PROJECT_URL, REPO_ROOT, Settings, load_settings
from bot.errors import ConfigError

_VARS = ("REDIS_URL", "NEWSBOT_DATA_DIR", "NEWSBOT_FEEDS", "NEWSBOT_RULES_DIR",
         "NEWSBOT_HTTP_PORT", "NEWSBOT_LOG_LEVEL", "NEWSBOT_ADMINS", "TELEGRAM_BOT_TOKEN",
         "TELEGRAM_API_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
         "SLACK_API_URL", "NEWSBOT_METRICS_HOST", "NEWSBOT_METRICS_PORT", "NEWSBOT_CONTACT_URL",
         "NEWSBOT_USER_AGENT")


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


def test_ops_defaults() -> None:
    """/metrics on loopback port 9464; the User-Agent names the project, its version and its
    URL."""
    s = Settings()
    assert (s.metrics_host, s.metrics_port) == ("127.0.0.1", 9464)
    assert s.contact_url == PROJECT_URL and s.user_agent is None
    assert s.http_user_agent == f"newsbot/{__version__} (+{PROJECT_URL})"


def test_the_user_agent_names_the_contact_url_unless_set_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSBOT_CONTACT_URL (http(s) or mailto:) goes into the default User-Agent;
    NEWSBOT_USER_AGENT replaces it whole (trimmed)."""
    monkeypatch.setenv("NEWSBOT_CONTACT_URL", " mailto:ops@example.org ")
    assert Settings().http_user_agent == f"newsbot/{__version__} (+mailto:ops@example.org)"
    monkeypatch.setenv("NEWSBOT_CONTACT_URL", "https://ops.example.org/bot?who=desk")
    assert Settings().http_user_agent.endswith("(+https://ops.example.org/bot?who=desk)")
    monkeypatch.setenv("NEWSBOT_USER_AGENT", "  DeskAlerts/2.0 (+https://desk.example)  ")
    assert Settings().http_user_agent == "DeskAlerts/2.0 (+https://desk.example)"
    monkeypatch.setenv("NEWSBOT_USER_AGENT", "")  # empty: unset, the default again
    assert Settings().http_user_agent.startswith("newsbot/")


@pytest.mark.parametrize(("value", "expected"), [
    ("0.0.0.0", "0.0.0.0"), ("::", "::"), ("[::1]", "::1"), (" 10.0.0.5 ", "10.0.0.5"),
    ("localhost", "localhost"), ("metrics.internal.example", "metrics.internal.example"),
])
def test_metrics_host_takes_addresses_and_names(monkeypatch: pytest.MonkeyPatch, value: str,
                                                expected: str) -> None:
    """NEWSBOT_METRICS_HOST is an IPv4 or IPv6 address (brackets dropped) or a host name."""
    monkeypatch.setenv("NEWSBOT_METRICS_HOST", value)
    assert Settings().metrics_host == expected


def test_metrics_port_zero_and_other_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """0 (a free port) is allowed beside any NEWSBOT_HTTP_PORT, 0 included."""
    monkeypatch.setenv("NEWSBOT_HTTP_PORT", "0")
    monkeypatch.setenv("NEWSBOT_METRICS_PORT", "0")
    assert (Settings().http_port, Settings().metrics_port) == (0, 0)
    monkeypatch.setenv("NEWSBOT_METRICS_PORT", "9100")
    assert Settings().metrics_port == 9100


@pytest.mark.parametrize(("env", "complaint"), [
    ({"NEWSBOT_METRICS_PORT": "70000"}, "NEWSBOT_METRICS_PORT"),
    ({"NEWSBOT_METRICS_PORT": "-1"}, "NEWSBOT_METRICS_PORT"),
    ({"NEWSBOT_METRICS_PORT": "8080"}, "NEWSBOT_METRICS_PORT (8080) is also NEWSBOT_HTTP_PORT"),
    ({"NEWSBOT_METRICS_PORT": "9000", "NEWSBOT_HTTP_PORT": "9000"}, "a port of its own"),
    ({"NEWSBOT_METRICS_HOST": "127.0.0.1:9464"}, "NEWSBOT_METRICS_HOST"),
    ({"NEWSBOT_METRICS_HOST": "http://0.0.0.0"}, "NEWSBOT_METRICS_HOST"),
    ({"NEWSBOT_METRICS_HOST": "bad host"}, "NEWSBOT_METRICS_HOST"),
    ({"NEWSBOT_CONTACT_URL": "ops.example.org"}, "NEWSBOT_CONTACT_URL"),
    ({"NEWSBOT_CONTACT_URL": "ftp://ops.example.org"}, "NEWSBOT_CONTACT_URL"),
    ({"NEWSBOT_CONTACT_URL": "mailto:"}, "NEWSBOT_CONTACT_URL"),
    ({"NEWSBOT_CONTACT_URL": "https://ops.example.org/a b"}, "NEWSBOT_CONTACT_URL"),
    ({"NEWSBOT_CONTACT_URL": "https://ops.example.org/(x)"}, "NEWSBOT_CONTACT_URL"),
    ({"NEWSBOT_CONTACT_URL": "https://ops.example.org/é"}, "NEWSBOT_CONTACT_URL"),
    ({"NEWSBOT_USER_AGENT": "Desk\r\nX-Injected: 1"}, "NEWSBOT_USER_AGENT"),
    ({"NEWSBOT_USER_AGENT": "Desk/1 é"}, "NEWSBOT_USER_AGENT"),
    ({"NEWSBOT_USER_AGENT": "x" * 257}, "at most 256"),
    ({"NEWSBOT_USER_AGENT": "   "}, "NEWSBOT_USER_AGENT: must not be blank"),
], ids=lambda v: str(v)[:40])
def test_invalid_ops_settings_name_the_setting_not_the_value(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], complaint: str) -> None:
    """Each bad ops setting stops the start with one line naming the setting and the rule."""
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert complaint in str(caught.value)
    assert "X-Injected" not in str(caught.value) and "a b" not in str(caught.value)
