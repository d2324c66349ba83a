"""MinHash fingerprints of an article's cleaned lead, and LSH bands to find copies in Redis.

One-permutation MinHash (Li, Owen, Zhang 2012) with rotation densification: each character
shingle is hashed once and falls into one of SIGNATURE_SIZE bins, the minimum per bin is the
signature value. Two copies of one report (a republication, a new dateline, a changed title)
agree on most positions; rewrites by another outlet agree on almost none. LSH_BANDS bands of
LSH_ROWS values become Redis hash fields, so a copy is found with one HMGET, not a scan.

Shingle hashes are CPython's hash of a tuple of code points: deterministic across processes
(integer hashing is not salted), fast (the loop runs in C). Signatures stored by one Python
version are compared by the same version in practice; they expire with the window anyway.
"""

from __future__ import annotations

import re

from bot.text import is_cjk

SIGNATURE_SIZE = 64
LSH_BANDS = 16
LSH_ROWS = SIGNATURE_SIZE // LSH_BANDS
FINGERPRINT_CHARS = 800
MIN_SHINGLES = 40
_MASK64 = (1 << 64) - 1
_BIN_BITS = 6  # log2(SIGNATURE_SIZE)
_NON_WORD_RE = re.compile(r"[\W_]+")


def shingle_hashes(text: str) -> set[int]:
    """64-bit hashes of character shingles (3 for CJK text, 5 otherwise) of `text`."""
    compact = _NON_WORD_RE.sub("", text[:FINGERPRINT_CHARS])
    codes = list(map(ord, compact))
    size = 3 if is_cjk(compact[:200]) else 5
    grams = zip(*(codes[i:] for i in range(size)), strict=False)
    return {h & _MASK64 for h in map(hash, grams)}


def signature(text: str) -> tuple[int, ...] | None:
    """The one-permutation MinHash of `text`'s shingles, or None when it is too short."""
    hashes = shingle_hashes(text)
    if len(hashes) < MIN_SHINGLES:
        return None
    mins: list[int | None] = [None] * SIGNATURE_SIZE
    for h in sorted(hashes):
        slot = h & (SIGNATURE_SIZE - 1)
        if mins[slot] is None:
            mins[slot] = (h >> _BIN_BITS) & 0xFFFFFFFF
    filled = [m for m in mins if m is not None]
    if len(filled) < SIGNATURE_SIZE:  # densify: an empty bin borrows its right neighbour's
        for i in range(SIGNATURE_SIZE):
            if mins[i] is None:
                j = next(k for k in range(1, SIGNATURE_SIZE) if mins[(i + k) % SIGNATURE_SIZE]
                         is not None)
                mins[i] = (mins[(i + j) % SIGNATURE_SIZE] or 0) ^ (j * 0x9E3779B1 & 0xFFFFFFFF)
    return tuple(m or 0 for m in mins)


def band_fields(sig: tuple[int, ...]) -> list[str]:
    """One hash-field name per LSH band: `b<band>:<hash of the band's values>`."""
    return [f"b{band}:{hash(sig[band * LSH_ROWS:(band + 1) * LSH_ROWS]) & 0xFFFFFFFFFFFF:x}"
            for band in range(LSH_BANDS)]


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / SIGNATURE_SIZE


def encode(sig: tuple[int, ...]) -> str:
    """The signature as fixed-width hex, for storage."""
    return "".join(f"{v:08x}" for v in sig)


def decode(text: str) -> tuple[int, ...]:
    """The signature from `encode`'s hex."""
    return tuple(int(text[i:i + 8], 16) for i in range(0, len(text), 8))
