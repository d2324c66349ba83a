"""Term vectors of articles for same-story scoring: segmented words weighted by what they are.

Chinese text is segmented with rjieba (jieba's dictionary and part-of-speech tags); Latin text
is split into words. Names, places, organisations and multi-digit numbers weigh most, common
nouns and verbs less, function words nothing, so two outlets' rewrites of one event score high
on what they share (季诺维也夫, 1500, 召见) rather than on grammar.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import rjieba

from bot.models import Article
from bot.text import fold

# Part-of-speech tag (jieba's tag set) -> weight of a word with that tag.
POS_WEIGHTS: Mapping[str, float] = {
    "nr": 3.0, "nrt": 3.0, "nrfg": 3.0, "ns": 3.0, "nt": 3.0, "nz": 2.5, "eng": 2.0,
    "j": 2.5, "m": 2.0, "n": 1.5, "vn": 1.2, "v": 1.0, "l": 1.0, "i": 1.0, "an": 1.0,
}
_NUMBER_RE = re.compile(r"\d{3,}")
_LATIN_STOP = frozenset(
    "the a an and or of to in on for with at by from as is are was were be been has have had "
    "it its this that these those he she they we you i his her their our not no but if than "
    "then so said says say will would can could may might also after before over into about "
    "more most new one two three up out who what when where which while".split()
)
TITLE_BOOST = 2.0
MAX_TERMS = 200
SALIENT_TERMS = 24


@dataclass(frozen=True, slots=True)
class Features:
    """A unit-length term vector and the terms that best identify the article."""

    vector: dict[str, float]
    salient: tuple[str, ...]


def weighted_terms(text: str) -> dict[str, float]:
    """Raw term weights of `text`: POS weight summed over occurrences."""
    counts: dict[str, float] = defaultdict(float)
    for token, tag in rjieba.tag(fold(text)):
        word = token.strip()
        if tag == "eng":
            if len(word) > 1 and word not in _LATIN_STOP:
                counts[word] += POS_WEIGHTS["eng"]
        elif tag == "m":
            if _NUMBER_RE.fullmatch(word):
                counts[word] += POS_WEIGHTS["m"]
        elif len(word) >= 2 and (weight := POS_WEIGHTS.get(tag)):
            counts[word] += weight
    return counts


def features(article: Article, *, idf: Mapping[str, float] | None = None) -> Features:
    """The article's vector: sublinear weights, optional IDF, title counted twice."""
    raw = weighted_terms(article.text)
    for term, weight in weighted_terms(article.title).items():
        raw[term] += weight * TITLE_BOOST
    idf = idf or {}
    vector = {t: (1.0 + math.log(w)) * idf.get(t, 1.0) for t, w in raw.items() if w > 0}
    top = sorted(vector.items(), key=lambda kv: kv[1], reverse=True)[:MAX_TERMS]
    norm = math.sqrt(sum(v * v for _, v in top)) or 1.0
    unit = {t: v / norm for t, v in top}
    return Features(vector=unit, salient=tuple(t for t, _ in top[:SALIENT_TERMS]))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two unit vectors held as sparse dicts."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def merge(centroid: Mapping[str, float], vector: Mapping[str, float], count: int
          ) -> dict[str, float]:
    """The unit centroid after adding `vector` to a story of `count` articles."""
    merged = {t: v * count for t, v in centroid.items()}
    for term, value in vector.items():
        merged[term] = merged.get(term, 0.0) + value
    top = sorted(merged.items(), key=lambda kv: kv[1], reverse=True)[:MAX_TERMS]
    norm = math.sqrt(sum(v * v for _, v in top)) or 1.0
    return {t: v / norm for t, v in top}
