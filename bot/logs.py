"""Logging set-up: one line per event, `message key=value ...` with snake_case keys."""

from __future__ import annotations

import logging
import sys
from typing import Any


class KeyValueFormatter(logging.Formatter):
    """Appends the record's `kv` fields (passed as `extra={"kv": {...}}`) to the message."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, Any] = getattr(record, "kv", None) or {}
        pairs = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        return f"{line} {pairs}" if pairs else line


def _quote(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def setup_logging(level: str) -> None:
    """Log to stderr at `level`; quiet the chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram", "slack_bolt", "aiohttp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
