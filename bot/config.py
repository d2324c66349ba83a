"""Settings from the environment and an optional `.env` file, read once at start."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot import __version__
from bot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_URL = "https://github.com/newsbot"
"""Named in the default User-Agent when NEWSBOT_CONTACT_URL is unset."""
MAX_USER_AGENT = 256
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_HEADER_TEXT = re.compile(r"[\x20-\x7e]+")


def default_user_agent(contact_url: str = PROJECT_URL) -> str:
    """`newsbot/<version> (+<contact_url>)`: the User-Agent of feed and WebSub requests when
    NEWSBOT_USER_AGENT is unset (the `+URL` comment is the crawler convention for "who to ask
    about these requests")."""
    return f"newsbot/{__version__} (+{contact_url})"


def _default_path(name: str) -> Path:
    """`name` in the working directory if it exists there, else beside the package."""
    local = Path(name)
    if local.exists() or not (REPO_ROOT / name).exists():
        return local
    return REPO_ROOT / name


class Settings(BaseSettings):
    """Every setting of newsbot; secrets are SecretStr so they never show in logs or reprs."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True,
                                      populate_by_name=True)

    redis_url: SecretStr | None = Field(default=None, alias="REDIS_URL")
    data_dir: Path = Field(default=Path("data"), alias="NEWSBOT_DATA_DIR")
    feeds_file: Path = Field(default_factory=lambda: _default_path("feeds.yaml"),
                             alias="NEWSBOT_FEEDS")
    rules_dir: Path = Field(default_factory=lambda: _default_path("rules"),
                            alias="NEWSBOT_RULES_DIR")
    http_port: int = Field(default=8080, ge=0, le=65535, alias="NEWSBOT_HTTP_PORT")
    metrics_host: str = Field(default="127.0.0.1", alias="NEWSBOT_METRICS_HOST")
    """Address `/metrics` (and a second `/healthz`) listen on: an IP address or a host name.
    Loopback by default so the metrics are not public beside the webhooks on
    NEWSBOT_HTTP_PORT; `0.0.0.0` (or `::`) when Prometheus scrapes from another host or
    container (docker-compose.yml sets that)."""
    metrics_port: int = Field(default=9464, ge=0, le=65535, alias="NEWSBOT_METRICS_PORT")
    """Port of `/metrics` and `/healthz` on NEWSBOT_METRICS_HOST (9464, Prometheus' port for
    exporters); `0` picks a free port, logged as `metrics: listening port=...`. Must differ
    from NEWSBOT_HTTP_PORT. When it is taken (a second worker on one host) the service runs on
    without it and logs an error: metrics never stop alerts."""
    log_level: str = Field(default="INFO", alias="NEWSBOT_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", alias="NEWSBOT_LOG_FORMAT")
    health_max_poll_age: float | None = Field(default=None, gt=0,
                                              alias="NEWSBOT_HEALTH_MAX_POLL_AGE")
    key_prefix: str = Field(default="newsbot:", alias="NEWSBOT_KEY_PREFIX")
    window_hours: float = Field(default=72.0, gt=0, alias="NEWSBOT_WINDOW_HOURS")
    seen_days: float = Field(default=30.0, gt=0, alias="NEWSBOT_SEEN_DAYS")
    fetch_timeout: float = Field(default=20.0, gt=0, alias="NEWSBOT_FETCH_TIMEOUT")
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, gt=0, alias="NEWSBOT_MAX_FEED_BYTES")
    max_items_per_feed: int = Field(default=500, gt=0, alias="NEWSBOT_MAX_ITEMS_PER_FEED")
    fetch_connect_timeout: float = Field(default=10.0, gt=0,
                                         alias="NEWSBOT_FETCH_CONNECT_TIMEOUT")
    poll_min_interval: float = Field(default=60.0, gt=0, alias="NEWSBOT_POLL_MIN_INTERVAL")
    poll_max_interval: float = Field(default=3600.0, gt=0, alias="NEWSBOT_POLL_MAX_INTERVAL")
    poll_concurrency: int = Field(default=64, ge=1, le=10_000, alias="NEWSBOT_POLL_CONCURRENCY")
    poll_per_host: int = Field(default=4, ge=1, alias="NEWSBOT_POLL_PER_HOST")
    poll_lease: float = Field(default=120.0, ge=5, alias="NEWSBOT_POLL_LEASE")
    poll_max_failures: int = Field(default=15, ge=1, alias="NEWSBOT_POLL_MAX_FAILURES")
    poll_backoff_base: float = Field(default=60.0, gt=0, alias="NEWSBOT_POLL_BACKOFF_BASE")
    poll_backoff_max: float = Field(default=86_400.0, gt=0, alias="NEWSBOT_POLL_BACKOFF_MAX")
    admins: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="NEWSBOT_ADMINS")
    public_url: str | None = Field(default=None, alias="NEWSBOT_PUBLIC_URL")
    contact_url: str = Field(default=PROJECT_URL, alias="NEWSBOT_CONTACT_URL")
    """Where feed publishers can reach whoever runs this bot: an http(s) URL or a `mailto:`
    address, named in the default User-Agent (`newsbot/<version> (+<this>)`); the project's
    URL when unset."""
    user_agent: str | None = Field(default=None, alias="NEWSBOT_USER_AGENT")
    """The whole User-Agent of feed fetches and WebSub requests, replacing the default
    `newsbot/<version> (+<NEWSBOT_CONTACT_URL>)`: printable ASCII, at most 256 characters."""
    websub_lease: int = Field(default=864_000, ge=60, alias="NEWSBOT_WEBSUB_LEASE")

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(default=None,
                                                      alias="TELEGRAM_WEBHOOK_SECRET")
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        """Accept `telegram:1,slack:U2` as well as a list."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Every admin id is platform-qualified, like `telegram:12345`."""
        for admin in value:
            platform, _, user = admin.partition(":")
            if platform not in ("telegram", "slack", "console") or not user:
                raise ValueError(f"admin {admin!r} must look like telegram:12345 or slack:U0123")
        return value

    @model_validator(mode="after")
    def _check_poll_bounds(self) -> Self:
        """The poll interval and backoff bounds are in order."""
        if self.poll_min_interval > self.poll_max_interval:
            raise ValueError(f"NEWSBOT_POLL_MIN_INTERVAL ({self.poll_min_interval}) is above "
                             f"NEWSBOT_POLL_MAX_INTERVAL ({self.poll_max_interval})")
        if self.poll_backoff_base > self.poll_backoff_max:
            raise ValueError(f"NEWSBOT_POLL_BACKOFF_BASE ({self.poll_backoff_base}) is above "
                             f"NEWSBOT_POLL_BACKOFF_MAX ({self.poll_backoff_max})")
        return self

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        """An absolute http(s) URL without query or fragment; kept without a trailing `/`."""
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or (
                parts.query or parts.fragment):
            raise ValueError(f"NEWSBOT_PUBLIC_URL must be an http(s) URL such as "
                             f"https://bot.example.org, not {value!r}")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _check_metrics_port(self) -> Self:
        """/metrics has a port of its own (0, a free port, always differs)."""
        if self.metrics_port and self.metrics_port == self.http_port:
            raise ValueError(f"NEWSBOT_METRICS_PORT ({self.metrics_port}) is also "
                             f"NEWSBOT_HTTP_PORT: /metrics needs a port of its own")
        return self

    @field_validator("metrics_host")
    @classmethod
    def _check_metrics_host(cls, value: str) -> str:
        """An IPv4 or IPv6 address (brackets allowed) or a host name; no port, no scheme."""
        host = value.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        if len(host) > 253 or not _HOST_NAME.fullmatch(host):
            raise ValueError("must be an IP address such as 127.0.0.1 or 0.0.0.0, or a host "
                             "name (no port: that is NEWSBOT_METRICS_PORT)")
        return host

    @field_validator("contact_url")
    @classmethod
    def _check_contact_url(cls, value: str) -> str:
        """An absolute http(s) URL or a mailto: address, printable ASCII without spaces or
        parentheses (it stands inside the User-Agent's comment)."""
        url = value.strip()
        if not _VISIBLE_ASCII.fullmatch(url) or "(" in url or ")" in url:
            raise ValueError("must be printable ASCII without spaces or parentheses "
                             "(percent-encode them)")
        parts = urlsplit(url)
        if parts.scheme == "mailto":
            if "@" not in parts.path:
                raise ValueError("a mailto: contact needs an address, like "
                                 "mailto:ops@example.org")
        elif parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://example.org/bot, or "
                             "mailto:ops@example.org")
        return url

    @field_validator("user_agent")
    @classmethod
    def _check_user_agent(cls, value: str | None) -> str | None:
        """Printable ASCII (an HTTP header value: no line breaks), 1 to 256 characters."""
        if value is None:
            return None
        agent = value.strip()
        if not agent:
            raise ValueError("must not be blank (unset it for the default)")
        if not _HEADER_TEXT.fullmatch(agent):
            raise ValueError("must be printable ASCII on one line")
        if len(agent) > MAX_USER_AGENT:
            raise ValueError(f"must be at most {MAX_USER_AGENT} characters")
        return agent

    @field_validator("rules_dir")
    @classmethod
    def _check_rules_dir(cls, value: Path) -> Path:
        """A rules directory that was set must exist (an empty one means no shared topics)."""
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        """The data directory may not exist yet, but it may not be a file."""
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        """One of the standard logging level names."""
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        """`JSON` and `json` alike."""
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def telegram_enabled(self) -> bool:
        """Telegram starts when its token is set."""
        return self.telegram_bot_token is not None

    @property
    def slack_enabled(self) -> bool:
        """Slack starts when its bot token is set."""
        return self.slack_bot_token is not None

    @property
    def websub_enabled(self) -> bool:
        """WebSub (subscribing to the hubs feeds advertise) is on when NEWSBOT_PUBLIC_URL is
        set: hubs must reach the bot's HTTP server there."""
        return self.public_url is not None

    @property
    def http_user_agent(self) -> str:
        """The User-Agent of feed fetches and WebSub requests: NEWSBOT_USER_AGENT, else
        `newsbot/<version> (+<NEWSBOT_CONTACT_URL>)`."""
        return self.user_agent or default_user_agent(self.contact_url)

    @property
    def max_poll_age(self) -> float:
        """`/healthz` fails when no feed was polled successfully for this long (seconds):
        NEWSBOT_HEALTH_MAX_POLL_AGE, by default twice NEWSBOT_POLL_MAX_INTERVAL."""
        return self.health_max_poll_age or 2 * self.poll_max_interval

    @property
    def window_seconds(self) -> int:
        """The story window in seconds."""
        return int(self.window_hours * 3600)


def load_settings(**overrides: object) -> Settings:
    """Read the settings once (environment, then `.env`); CLI flags come in as overrides.

    Raises ConfigError with one line per bad setting, naming the setting and the rule it
    breaks, and never a value (a value may be a secret, and the model-wide checks would
    otherwise print every setting at once).
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError("\n".join(_problem(error) for error in exc.errors())) from None
    except SettingsError as exc:
        cause = exc.__cause__
        reason = type(cause).__name__ if cause is not None else "unreadable value"
        raise ConfigError(f"settings: {_without_values(str(exc))} ({reason})") from None


def _problem(error: Any) -> str:
    """`SETTING: rule` for one validation error (its message without the input value)."""
    names = [_ALIASES.get(str(part), str(part)) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{'.'.join(names) or 'settings'}: {message}"


def _without_values(text: str) -> str:
    """A settings-source message cut before any quoted value it carries."""
    return text.split('"', 1)[0].split("'", 1)[0].strip().rstrip(":") or "invalid setting"


_ALIASES = {name: field.alias or name for name, field in Settings.model_fields.items()}
