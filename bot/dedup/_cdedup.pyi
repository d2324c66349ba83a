"""Types of the C core (bot/dedup/_cdedup.c): bot.dedup.features and bot.dedup.fingerprints
call it and keep their Python paths."""

from collections.abc import Mapping, Set

def cosine(a: Mapping[str, float], b: Mapping[str, float], /) -> float | None: ...
def minhash(hashes: Set[int], /) -> tuple[int, ...] | None: ...
