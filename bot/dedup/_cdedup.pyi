"""Types of the C core (bot/dedup/_cdedup.c): bot.dedup.features, fingerprints and scoring
call it and keep their Python paths."""

from collections.abc import Mapping, Set
from typing import Any

def cosine(a: Mapping[str, float], b: Mapping[str, float], /) -> float | None: ...
def minhash(hashes: Set[int], /) -> tuple[int, ...] | None: ...
def fits(vector: Mapping[str, float], language: str, day: int | None, time: float | None,
         window: float, profiles: list[Any],
         constants: tuple[float, float, float, float, float, int, int, str], /
         ) -> list[tuple[float, float, float, float, float, int, float, str | None]] | None: ...
