"""Logging set-up and terminal progress: one line per event on stderr, text or JSON.

Log calls pass their fields as `extra={"kv": {"feed_id": ..., "error": ...}}`, with snake_case
keys. NEWSBOT_LOG_FORMAT chooses the line:

    text (default)
        2026-11-22 10:00:00,123 WARNING bot.feeds.poll: feeds: poll failed feed_id=ab12 kind=timeout
    json
        {"ts": "2026-11-22T10:00:00.123Z", "level": "warning", "logger": "bot.feeds.poll",
         "msg": "feeds: poll failed", "feed_id": "ab12", "kind": "timeout"}

JSON lines are one object each; keys are the four above, then the record's fields (made
snake_case; a field named like one of the four gets a trailing underscore), then `exc_info`
with the traceback when there is one. Either way `redact` masks chat-platform tokens (Telegram
`123:AbC...`, Slack `xoxb-...`/`xapp-...`) and the secrets of URLs (userinfo, and the values of
query parameters named like `token`, `key`, `sig`, `secret`, `password`, `auth`), and the HTTP
client libraries (httpx, httpcore, which log request URLs that carry the Telegram token) stay at
WARNING or above. `redact` is also what every reply, listing and stored feed error uses to show
a feed URL (bot/commands/, bot/cli.py, bot/feeds/).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Collection
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import unquote

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "telegram", "slack_bolt", "slack_sdk",
                 "aiohttp", "hpack")
RESERVED = ("ts", "level", "logger", "msg")
MASK = "***"

_SECRETS = re.compile(
    r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}"       # a Telegram bot token (also in /bot<token>/)
    r"|\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{8,}"  # Slack bot, user, app-level tokens
)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>`]+", re.IGNORECASE)
_AUTHORITY_END = re.compile(r"[/?#]")
_PARAM = re.compile(r"(?P<head>[?&;#](?P<name>[^=&;#\s]+)=)(?P<value>[^&;#\s)\]]*)")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Query parameter names (or their words: `api_key`, `X-Amz-Signature`, `accessToken`) that
# carry secrets.
SECRET_PARAMS = frozenset((
    "token", "key", "sig", "signature", "secret", "password", "passwd", "pwd", "pass", "auth",
    "authorization", "credential", "credentials", "apikey", "session", "sessionid", "jwt",
    "hmac", "otp", "ticket", "jsessionid", "phpsessid"))
_NOT_SNAKE = re.compile(r"[^0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def redact(text: str) -> str:
    """`text` (a URL, an error, a log line) with chat-platform tokens and the secrets of every
    URL in it (userinfo, secret-looking query parameters) replaced by ***."""
    return _URL.sub(_redact_url, _SECRETS.sub(MASK, text))


def _redact_url(match: re.Match[str]) -> str:
    """One URL with its userinfo and the values of its secret-looking parameters masked."""
    scheme, _, rest = match.group(0).partition("://")
    end = _AUTHORITY_END.search(rest)
    authority, tail = (rest[:end.start()], rest[end.start():]) if end else (rest, "")
    if "@" in authority:
        authority = f"{MASK}@{authority.rpartition('@')[2]}"
    return f"{scheme}://{authority}{_PARAM.sub(_redact_param, tail)}"


def _redact_param(match: re.Match[str]) -> str:
    """`token=abc` -> `token=***` for a parameter whose name (or a word of it) is secret."""
    name = unquote(match.group("name"))
    words = {w.lower() for w in _WORD.findall(name)} | {re.sub(r"[\W_]+", "", name.lower())}
    return f"{match.group('head')}{MASK}" if words & SECRET_PARAMS else match.group(0)


def snake_case(key: str) -> str:
    """`feedUrl`, `Feed-URL`, `feed url` -> `feed_url`; `HTTPStatus` -> `http_status`."""
    return _NOT_SNAKE.sub("_", _CAMEL.sub("_", key).lower()).strip("_") or "field"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "kv", None)
    return dict(fields) if isinstance(fields, dict) else {}


class KeyValueFormatter(logging.Formatter):
    """`<time> <LEVEL> <logger>: <message> key=value ...` with the record's `kv` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(f"{snake_case(k)}={_quote(v)}" for k, v in _fields(record).items())
        return redact(f"{line} {pairs}" if pairs else line)


def _quote(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ms), level, logger, msg, the `kv` fields, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage()}
        for key, value in _fields(record).items():
            name = snake_case(str(key))
            entry[f"{name}_" if name in RESERVED else name] = _jsonable(value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, ensure_ascii=False))


def _jsonable(value: Any) -> Any:
    """Numbers, booleans, None and strings as they are; anything else as its str()."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def setup_logging(level: str, *, fmt: str = "text", stream: IO[str] | None = None,
                  summarised: Collection[str] = ()) -> None:
    """Log to stderr (or `stream`) at `level` in `fmt` ("text" or "json"); quiet the
    libraries that are chatty or that log URLs carrying tokens. Records whose message is in
    `summarised` are left out: the command sums them up itself (`run --once` and its
    unreachable feeds)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter(TEXT_FORMAT))
    if summarised:
        left_out = frozenset(summarised)
        handler.addFilter(lambda record: record.msg not in left_out)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class Progress:
    """A one-line progress bar on stderr for long CLI work, drawn only when it is a terminal.

        with Progress("importing", total=len(items)) as bar:
            for item in items:
                ...
                bar.advance()

    `update(done, total)` suits callbacks that learn the total as they go (`total=0` first).
    """

    WIDTH = 30
    EVERY = 0.1  # seconds between redraws

    def __init__(self, label: str, *, total: int, stream: IO[str] | None = None) -> None:
        self.label = label
        self.total = max(0, total)
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = _is_terminal(self.stream)
        self._drawn = 0.0

    def __enter__(self) -> Self:
        self._draw(force=True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.enabled and self._drawn:  # leave the terminal as it was: erase the bar
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def advance(self, count: int = 1) -> None:
        """Count `count` more items done and redraw (at most every EVERY seconds)."""
        self.done = min(self.total, self.done + count)
        self._draw(force=self.done == self.total)

    def update(self, done: int, total: int) -> None:
        """Set how many of how many items are done, and redraw (at most every EVERY s)."""
        self.total = max(0, total)
        self.done = min(self.total, max(0, done))
        self._draw(force=self.done == self.total)

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or not self.total or (not force and now - self._drawn < self.EVERY):
            return
        self._drawn = now
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False
