"""Log lines: JSON objects with snake_case keys or key=value text, never a token in either."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.logs import JsonFormatter, Progress, redact, setup_logging, snake_case
from bot.store import Store
from tests.conftest import REPO, SEEDS
from tests.telegram_server import BotApiServer

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger's handlers and levels back after a test that sets logging up."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "telegram", "aiohttp")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_lines_carry_ts_level_logger_msg_and_snake_case_fields(
        restore_logging: None) -> None:
    """A record with fields becomes one JSON object: the four fixed keys, then its fields."""
    stream = io.StringIO()
    setup_logging("INFO", fmt="json", stream=stream)
    logging.getLogger("bot.feeds.poll").warning("feeds: poll failed", extra={"kv": {
        "feed_id": "ab12", "errorsInARow": 3, "Feed URL": "https://www.dw.com/rss",
        "msg": "a field named like a fixed key", "ratio": 0.5, "ok": False, "when": None}})
    [line] = _lines(stream)
    entry = json.loads(line)
    assert list(entry)[:4] == ["ts", "level", "logger", "msg"]
    assert entry["level"] == "warning" and entry["logger"] == "bot.feeds.poll"
    assert entry["msg"] == "feeds: poll failed" and entry["msg_"].startswith("a field")
    assert entry["feed_id"] == "ab12" and entry["errors_in_a_row"] == 3
    assert entry["feed_url"] == "https://www.dw.com/rss"
    assert entry["ratio"] == 0.5 and entry["ok"] is False and entry["when"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    assert all(SNAKE.match(key) for key in entry)


def test_json_lines_keep_the_traceback_and_non_ascii_text(restore_logging: None) -> None:
    """An exception's traceback goes in `exc_info`; Chinese text stays readable, one line."""
    stream = io.StringIO()
    setup_logging("DEBUG", fmt="json", stream=stream)
    try:
        raise RuntimeError("朝鲜\nsecond line")
    except RuntimeError:
        logging.getLogger("bot.test").exception("pipeline: 朝鲜 failed",
                                                extra={"kv": {"obj": Path("/x")}})
    [line] = _lines(stream)
    entry = json.loads(line)
    assert entry["msg"] == "pipeline: 朝鲜 failed" and "朝鲜" in line
    assert "RuntimeError: 朝鲜" in entry["exc_info"] and entry["obj"] == "/x"


def test_text_lines_keep_the_key_value_format(restore_logging: None) -> None:
    """The default format is `<time> <LEVEL> <logger>: <msg> key=value`, quoting spaces."""
    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    logging.getLogger("bot.x").info("delivery: failed", extra={"kv": {
        "chat": "telegram:1", "error": "Bad Request: x"}})
    [line] = _lines(stream)
    assert line.endswith('INFO bot.x: delivery: failed chat=telegram:1 error="Bad Request: x"')


def test_tokens_and_url_passwords_are_masked_in_both_formats(restore_logging: None) -> None:
    """Telegram and Slack tokens, URL userinfo and secret query parameters never reach a log
    line."""
    token = "123456:TEST-token_abcdefghijklmnopqrstuvw"
    secret = (f"POST https://api.telegram.org/bot{token}/getUpdates via "
              "redis://:hunter2pass@redis:6379/0 with xoxb-1234-5678-abcdefghijkl from "
              "http://reader:s3cretPW@127.0.0.1:8080/f.xml?page=2&token=tok9&apiKey=key9")
    for fmt in ("text", "json"):
        stream = io.StringIO()
        setup_logging("INFO", fmt=fmt, stream=stream)
        logging.getLogger("bot.x").warning(secret, extra={"kv": {"url": secret}})
        out = stream.getvalue()
        for hidden in (token, "hunter2pass", "xoxb-1234", "reader", "s3cretPW", "tok9", "key9"):
            assert hidden not in out, out
        assert "redis://***@redis:6379/0" in out and "/bot***/getUpdates" in out
        assert "http://***@127.0.0.1:8080/f.xml?page=2&token=***&apiKey=***" in out
    assert redact("feed_id=abc123 at 1729500000.5") == "feed_id=abc123 at 1729500000.5"


@pytest.mark.parametrize(("shown", "expected"), [
    ("https://www.dw.com/rss?page=2&keyword=x", "https://www.dw.com/rss?page=2&keyword=x"),
    ("HTTP 404 Not Found from http://user:feedpass123@h.org/x",
     "HTTP 404 Not Found from http://***@h.org/x"),
    ("https://h.org/f?sig=a&signature=b&secret=c&password=d&api_key=e&access_token=f&auth=g",
     "https://h.org/f?sig=***&signature=***&secret=***&password=***&api_key=***"
     "&access_token=***&auth=***"),
    ("https://h.org/f?X-Amz-Signature=a&%74oken=b#access_token=c",
     "https://h.org/f?X-Amz-Signature=***&%74oken=***#access_token=***"),
    ("'https://t@h.org/a' (see https://h.org/?key=k)", "'https://***@h.org/a' (see "
     "https://h.org/?key=***)"),
])
def test_redact_masks_userinfo_and_secret_parameters(shown: str, expected: str) -> None:
    """redact masks a URL's userinfo and secret-looking parameters wherever the URL sits."""
    assert redact(shown) == expected


_SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~",
                  min_size=6, max_size=20).map(lambda s: f"S3{s}")


@settings(max_examples=200, deadline=None)
@given(user=_SECRET, password=_SECRET, value=_SECRET,
       name=st.sampled_from(["token", "key", "sig", "signature", "secret", "password",
                             "api_key", "access_token", "auth", "apiKey", "X-Amz-Signature"]),
       host=st.sampled_from(["127.0.0.1:8080", "www.dw.com", "[::1]:80", "xn--ls8h.la"]),
       before=st.sampled_from(["", "HTTP 404 Not Found from ", "url='", "(", "feed_url="]),
       after=st.sampled_from(["", "'", ")", " and more", ".", ","]))
def test_redact_never_lets_a_url_secret_through(user: str, password: str, value: str, *,
                                                name: str, host: str, before: str,
                                                after: str) -> None:
    """Whatever the userinfo, the secret parameter and the text around the URL, redact shows
    neither the user, the password nor the parameter's value, and keeps the host and path."""
    url = f"https://{user}:{password}@{host}/feed.xml?page=2&{name}={value}&lang=zh"
    shown = redact(f"{before}{url}{after}")
    assert user not in shown and password not in shown and value not in shown
    assert f"https://***@{host}/feed.xml?page=2&{name}=***&lang=zh" in shown


def test_http_client_loggers_stay_at_warning_even_at_debug(restore_logging: None) -> None:
    """At DEBUG the bot's loggers speak, but httpx and telegram (URLs with tokens) do not."""
    stream = io.StringIO()
    setup_logging("DEBUG", fmt="json", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot1:x")
    logging.getLogger("telegram.ext").debug("polling")
    logging.getLogger("bot.app").debug("wired")
    assert [json.loads(line)["logger"] for line in _lines(stream)] == ["bot.app"]


def test_an_unknown_format_is_refused() -> None:
    """NEWSBOT_LOG_FORMAT other than text or json is an error naming the choices."""
    with pytest.raises(ValueError, match="text, json"):
        setup_logging("INFO", fmt="xml")


@pytest.mark.parametrize(("key", "expected"), [
    ("feed_id", "feed_id"), ("feedId", "feed_id"), ("Feed-URL", "feed_url"),
    ("errors in a row", "errors_in_a_row"), ("HTTPStatus", "http_status"), ("__", "field")])
def test_snake_case(key: str, expected: str) -> None:
    """Field names become snake_case whatever their spelling."""
    assert snake_case(key) == expected


def test_json_formatter_stands_alone() -> None:
    """The formatter works on a bare record (no `kv`), e.g. from a third-party logger."""
    record = logging.LogRecord("aiohttp.access", logging.WARNING, __file__, 1, "slow %s",
                               ("request",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "slow request" and entry["logger"] == "aiohttp.access"


def test_progress_draws_onlyon_a_terminal() -> None:
    """The progress bar writes to a terminal and stays silent when stderr is redirected."""
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    piped, tty = io.StringIO(), Terminal()
    for stream in (piped, tty):
        with Progress("importing", total=3, stream=stream) as bar:
            for _ in range(3):
                bar.advance()
    assert piped.getvalue() == ""
    assert "importing [" in tty.getvalue() and "3/3" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[2K")  # the bar is erased at the end
    later = Terminal()
    with Progress("reading", total=0, stream=later) as bar:  # the total comes with updates
        bar.update(2, 2)
    assert "reading [" + "#" * Progress.WIDTH + "] 2/2" in later.getvalue()


def on_a_terminal(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `newsbot <args>` with stderr on a pseudo-terminal: (status, stdout, stderr)."""
    import pty
    import subprocess

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the process closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = proc.stdout.read() if proc.stdout else ""
    return proc.wait(timeout=120), stdout, b"".join(chunks).decode(errors="replace")


def test_long_cli_work_shows_a_progress_baron_a_terminal(tmp_path: Path) -> None:
    """`rules test --path` draws a bar over the files read when stderr is a terminal, and
    erases it, leaving stdout as it would be without one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    code, stdout, stderr = on_a_terminal("rules", "test", "朝鲜 + 派兵", "--path", str(SEEDS),
                                          env=env)
    files = len([p for p in SEEDS.iterdir() if p.is_file()])
    assert code == 0 and "4 of 5 articles match" in stdout
    assert f"] {files}/{files}" in stderr and "reading " in stderr and "\x1b[2K" in stderr


async def test_the_service_logs_json_at_debug_without_the_bot_token(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """`newsbot run` with NEWSBOT_LOG_FORMAT=json at DEBUG, Telegram on: every stderr line is a
    JSON object with snake_case keys, and the bot token appears in none of them."""
    async with BotApiServer() as api:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - path: {SEEDS}\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
        env |= {"NEWSBOT_LOG_FORMAT": "json", "NEWSBOT_LOG_LEVEL": "DEBUG",
                "NEWSBOT_HTTP_PORT": "0", "NEWSBOT_FEEDS": str(feeds),
                "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
                "REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
                "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=REPO, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(60):
                while not any('"scheduler: started"' in line for line in lines):
                    line = (await proc.stderr.readline()).decode()
                    assert line, "\n".join(lines)
                    lines.append(line.rstrip("\n"))
                await api.wait_for_calls("getUpdates", 1)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, rest = await asyncio.wait_for(proc.communicate(), 60)
        lines += rest.decode().splitlines()
    assert proc.returncode == 0, "\n".join(lines[-30:])
    entries = [json.loads(line) for line in lines if line]
    assert any(e["msg"] == "scheduler: stopped" for e in entries)
    assert any(e["msg"] == "http: listening" and e["port"] > 0 for e in entries)
    assert all(SNAKE.match(key) for e in entries for key in e)
    assert all(api.token not in line and api.token.split(":")[1] not in line for line in lines)
