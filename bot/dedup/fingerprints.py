"""MinHash fingerprints of an article's cleaned lead, and LSH bands to find copies in Redis.

One-permutation MinHash (Li, Owen, Zhang 2012) with rotation densification: each shingle is
hashed once and falls into one of SIGNATURE_SIZE bins, the minimum per bin is the signature
value. Shingles are 3 characters of Chinese text (it has no spaces) and 3 words of other text
(as many shingles as words, not as letters: five times fewer to hash than character 5-grams,
and the same verdicts on copies). Two copies of one report (a republication, a new dateline, a
changed title) agree on most positions; rewrites by another outlet agree on almost none.
LSH_BANDS bands of LSH_ROWS values become Redis hash fields, so a copy is found with one HMGET,
not a scan.

Shingle hashes are CPython's hash of a tuple of integers (code points, or CRC-32s of words):
deterministic across processes (integer hashing is not salted), fast (the loop runs in C).
Signatures stored by one Python version are compared by the same version in practice; they
expire with the window anyway.

The shingles' hashes, the bins and their densification run in the optional C core
(bot/dedup/_cdedup.c) when it was built, with the same result as the Python path
(tests/test_dedup_native.py runs both).
"""

from __future__ import annotations

import re
import struct
import zlib
from functools import lru_cache
from itertools import repeat
from operator import and_, rshift

from bot.text import is_cjk

try:
    from bot.dedup import _cdedup
    if not all(hasattr(_cdedup, name) for name in ("shingle_minhash", "band_fields")):
        raise ImportError("bot.dedup._cdedup was built from an older _cdedup.c: pip install -e .")
except ImportError:  # installed without a C compiler (or not rebuilt): the Python path runs
    _cdedup = None  # type: ignore[assignment]

SIGNATURE_SIZE = 64
LSH_BANDS = 16
LSH_ROWS = SIGNATURE_SIZE // LSH_BANDS
FINGERPRINT_CHARS = 800
MIN_SHINGLES = 40  # character 3-grams: about 40 characters of Chinese
MIN_WORD_SHINGLES = 12  # word 3-grams: about 14 words
_MASK64 = (1 << 64) - 1
_BIN_BITS = 6  # log2(SIGNATURE_SIZE)
_NON_WORD_RE = re.compile(r"[\W_]+")
_WORD_RE = re.compile(r"[^\W_]+")
_PACK = struct.Struct(f">{SIGNATURE_SIZE}I")


def shingle_hashes(text: str) -> set[int]:
    """64-bit hashes of the shingles of folded `text`: character 3-grams of Chinese text,
    word 3-grams of other text."""
    return _hashes(_units(text)[0])


def _hashes(units: list[int]) -> set[int]:
    """The 64-bit hashes of the 3-unit shingles of `units`."""
    grams = zip(units, units[1:], units[2:], strict=False)
    return set(map(and_, map(hash, grams), repeat(_MASK64)))


def _units(text: str) -> tuple[list[int], int]:
    """The units shingles are made of (code points of Chinese text, numbers of the words of
    other text), and how many distinct shingles a signature needs."""
    snippet = text[:FINGERPRINT_CHARS]
    if is_cjk(snippet[:200]):
        return list(map(ord, _NON_WORD_RE.sub("", snippet))), MIN_SHINGLES
    return list(map(_word_id, _WORD_RE.findall(snippet))), MIN_WORD_SHINGLES


@lru_cache(maxsize=65_536)
def _word_id(word: str) -> int:
    """A process-independent number for a word."""
    return zlib.crc32(word.encode())


def signature(text: str) -> tuple[int, ...] | None:
    """The one-permutation MinHash of `text`'s shingles, or None when it is too short."""
    units, minimum = _units(text)
    if _cdedup is not None and (sig := _cdedup.shingle_minhash(units, minimum)) is not None:
        return sig or None
    hashes = _hashes(units)
    if len(hashes) < minimum:
        return None
    if _cdedup is not None and (sig := _cdedup.minhash(hashes)) is not None:
        return sig
    return python_minhash(hashes)


def python_minhash(hashes: set[int]) -> tuple[int, ...]:
    """The densified one-permutation MinHash of 64-bit `hashes` (the C core's `minhash`
    returns the same)."""
    ordered = sorted(hashes, reverse=True)
    # bin -> the value of its smallest hash: later (smaller) hashes overwrite, all in C
    bins = map(and_, ordered, repeat(SIGNATURE_SIZE - 1))
    values = map(and_, map(rshift, ordered, repeat(_BIN_BITS)), repeat(0xFFFFFFFF))
    smallest = dict(zip(bins, values, strict=True))
    if len(smallest) == SIGNATURE_SIZE:
        return tuple(map(smallest.__getitem__, range(SIGNATURE_SIZE)))
    return _densified(list(map(smallest.get, range(SIGNATURE_SIZE))))


def _densified(mins: list[int | None]) -> tuple[int, ...]:
    """Empty bins filled by rotation: bin i takes the nearest filled bin to its right (i + j,
    around the circle), mixed with j, so unrelated sparse texts do not agree on empty bins."""
    out = [0] * SIGNATURE_SIZE
    carry, gap = 0, 0
    for k in range(2 * SIGNATURE_SIZE - 1, -1, -1):  # right to left, twice round
        value = mins[k % SIGNATURE_SIZE]
        if value is not None:
            carry, gap = value, 0
        else:
            gap += 1
        if k < SIGNATURE_SIZE:
            out[k] = carry ^ (gap * 0x9E3779B1 & 0xFFFFFFFF) if gap else carry
    return tuple(out)


def band_fields(sig: tuple[int, ...]) -> list[str]:
    """One hash-field name per LSH band: `b<band>:<hash of the band's values>` (the C core's
    `band_fields` gives the same)."""
    if (_cdedup is not None and len(sig) == SIGNATURE_SIZE
            and (fields := _cdedup.band_fields(sig, LSH_ROWS)) is not None):
        return fields
    return [f"b{band}:{hash(sig[band * LSH_ROWS:(band + 1) * LSH_ROWS]) & 0xFFFFFFFFFFFF:x}"
            for band in range(LSH_BANDS)]


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / SIGNATURE_SIZE


def encode(sig: tuple[int, ...]) -> str:
    """The signature as fixed-width hex (8 digits a value), for storage."""
    return _PACK.pack(*sig).hex()


def decode(text: str) -> tuple[int, ...]:
    """The signature from `encode`'s hex."""
    return _PACK.unpack(bytes.fromhex(text))
