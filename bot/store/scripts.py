"""Lua scripts the store runs by SHA (EVALSHA), loaded on first use and again when the server
has lost them (a restart, SCRIPT FLUSH): a script the server did not have never ran, so it
is simply run again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.exceptions import NoScriptError

from bot.store.base import Records, RecordsOf, done


class Scripts(RecordsOf):
    """Named Lua scripts with no keys declared (they build their key names from arguments:
    bot/dedup/scripts.py)."""

    def __init__(self, store: Records, sources: Mapping[str, str]) -> None:
        super().__init__(store)
        self._sources = dict(sources)
        self._shas: dict[str, str] = {}

    async def run(self, name: str, args: list[Any]) -> list[Any]:
        """The reply of script `name` run with `args`."""
        for _ in range(2):
            sha = self._shas.get(name)
            if sha is None:
                sha = self._shas[name] = await self.redis.script_load(self._sources[name])
            try:
                reply: Any = await done(self.redis.evalsha(sha, 0, *args))
            except NoScriptError:
                self._shas.pop(name, None)
                continue
            return list(reply)
        raise NoScriptError(f"script {name} was lost again as soon as it was loaded")
