"""The JSON text of placement's script arguments and stored profiles: written by the optional
C core (`_cdedup.json_text`, the very text `json` writes, in about a third of its time) when
it was built and takes the value, else by `bot.store.json_text`."""

from __future__ import annotations

from collections.abc import Callable

from bot.store import json_text as python_json_text

_c_json: Callable[[object], str | None] | None
try:  # a core built before json_text has none: the Python path
    from bot.dedup import _cdedup
    _c_json = getattr(_cdedup, "json_text", None)
except ImportError:  # pragma: no cover - built wherever a C compiler is present
    _c_json = None


def json_text(value: object) -> str:
    """`json.JSONEncoder(ensure_ascii=False).encode(value)`."""
    if _c_json is not None and (done := _c_json(value)) is not None:
        return done
    return python_json_text(value)
