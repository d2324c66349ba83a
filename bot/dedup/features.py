"""Words of articles and term vectors for same-story scoring, words weighted by what they are.

Chinese text is segmented with rjieba (jieba's dictionary and part-of-speech tags); Latin text
is split into words and stemmed (Snowball English, PyStemmer). Names, places and organisations
weigh most, common nouns and verbs less, function words, relative times and cited agencies
nothing, so two outlets' rewrites of one event score high on what they share (季诺维也夫, 召见)
rather than on grammar; numbers, days and catalog entities are read by `bot.dedup.neutral`,
and `bot.dedup.analysis` writes it all in the language-neutral vocabulary.
Boilerplate (datelines, outlet prefixes, date lines, photo captions) is removed first, and only
the lead is read: the event is in the first paragraphs, the rest is background that many
stories share. A headline-only article (no lead) also counts the words of its URL slug, which
outlets write as a second, often longer headline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from operator import itemgetter, mul
from urllib.parse import unquote, urlsplit

import rjieba

from bot.dedup.stems import stem
from bot.text import fold, is_cjk

try:
    from bot.dedup import _cdedup
except ImportError:  # installed without a C compiler: the Python paths run instead
    _cdedup = None  # type: ignore[assignment]
# A core built before these has none: the Python path.
_c_ranked: Callable[..., tuple[list[str], list[str]] | None] | None = getattr(
    _cdedup, "ranked_terms", None)
_c_vectorize: Callable[..., dict[str, float] | None] | None = getattr(_cdedup, "vectorize", None)

# Part-of-speech tag (jieba's tag set) -> weight of a word with that tag.
POS_WEIGHTS: Mapping[str, float] = {
    "nr": 3.0, "nrt": 3.0, "nrfg": 3.0, "ns": 3.0, "nt": 3.0, "nz": 2.5, "eng": 2.0,
    "j": 2.5, "m": 2.0, "n": 1.5, "vn": 1.2, "v": 1.0, "l": 1.0, "i": 1.0, "an": 1.0,
}
# Words that say who reported or when, never what happened: news agencies cited in the text
# (Chinese as written, English as stems) and relative times (上周五, 今天下午, on Monday).
ATTRIBUTIONS = frozenset(
    "美联社 美聯社 路透社 法新社 新华社 新華社 中央社 共同社 韩联社 韓聯社 德新社 塔斯社 彭博社 "
    "美国之音 德国之声 法广 自由亚洲电台 英国广播公司 联合早报 俄新社 国际文传电讯社 "
    "reuter afp ap yonhap kyodo xinhua bloomberg tass dpa ria interfax "
    "monday tuesday wednesday thursday friday saturday sunday yesterday tomorrow".split())
_TIME_WORD_RE = re.compile(
    r"^(?:[上下本这前后今昨明当去每]|星期|礼拜|[周天日年月晚早晨午夜点时分末初底旬]"
    r"|[一二三四五六七八九十])+$")
# URL path words that are never a headline's.
_URL_STOP = frozenset("html htm php aspx shtml cms story article news index dot".split())
TITLE_BOOST = 2.0
URL_BOOST = 2.0  # slug words of a headline-only article, against 1 + TITLE_BOOST for the title
SHORT_LEAD = 100  # a cleaned lead shorter than this: a headline-only article
MAX_TERMS = 100
SALIENT_TERMS = 16
NATIVE_SALIENT = 3
LEAD_CHARS = 1200

# Boilerplate: date-only lines, datelines ("华盛顿 —"), outlet prefixes ("(德国之声中文网)").
_DATE_LINE_RE = re.compile(
    r"^\s*(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s*)?[\d\s:/.,tz+-]*"
    r"(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[\d\s:/.,tz+-]*)?"
    r"(?:gmt|utc)?\s*$")
_DATELINE_RE = re.compile(
    r"^(?:[^\s,.。,:;—–-]{1,12}\s*(?:—{1,2}|–|\s-{1,2}\s)"
    r"|[a-z .]{0,30}\((?:reuters|ap|afp|bloomberg|dpa)\)\s*[—–-]*)\s*")
_OUTLET_PREFIX_RE = re.compile(
    r"^[(\[【](?:[^()\[\]【】]{0,12}(?:中文网|中文部|网|社|台|电|讯|报道|记者[^()\[\]【】]{0,8}))"
    r"[)\]】]\s*")
_CAPTION_RE = re.compile(r"^(?:资料照片|图片|图像|照片|file photo)|^\d{4}年\d{1,2}月\d{1,2}日[,,]")
_CAPTION_MAX = 80
_LATIN_WORD_RE = re.compile(r"[a-z0-9]+")
_SLUG_WORD_RE = re.compile(r"[a-z]+")
_CHINESE_START = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True, slots=True)
class Features:
    """A unit term vector, the terms that best identify the article, its cleaned lead, its
    language and the words each neutral term was read from (see bot.dedup.analysis)."""

    vector: dict[str, float]
    salient: tuple[str, ...]
    lead: str
    language: str = "en"
    sources: Mapping[str, str] = field(default_factory=dict)
    event_day: int | None = None  # the day its event happened, as stated (bot.dedup.eventday)


def strip_boilerplate(text: str) -> str:
    """The folded body without date lines, datelines, outlet prefixes and photo captions."""
    lines = [line.strip() for line in fold(text).splitlines()]
    kept: list[str] = []
    for line in lines:
        if not line or _DATE_LINE_RE.fullmatch(line):
            continue
        if not kept and len(line) <= _CAPTION_MAX and _CAPTION_RE.match(line):
            continue  # a photo caption above the first paragraph
        body = _OUTLET_PREFIX_RE.sub("", line, count=1)
        kept.append(_DATELINE_RE.sub("", body, count=1) if not kept else body)
    return "\n".join(kept)


def latin_terms(text: str, *, pairs: float = 0.0) -> Iterator[tuple[str, float]]:
    """(stem, weight) for the words of folded Latin `text` (hyphens and apostrophes
    split words; numbers are left to `bot.dedup.neutral`), and with `pairs` > 0 each pair of
    adjacent stems (`titanfal_review`) at that share of a word's weight."""
    weight = POS_WEIGHTS["eng"]
    previous = ""
    for term in map(_latin_term, _LATIN_WORD_RE.findall(text)):
        if term:
            yield term, weight
            if pairs and previous:
                yield f"{previous}_{term}", weight * pairs
        previous = term


@lru_cache(maxsize=131_072)
def _latin_term(word: str) -> str:
    """The stem `latin_terms` counts for a word, "" for none (one cache hit a word)."""
    term = "" if word.isdigit() else stem(word)
    return "" if term in ATTRIBUTIONS else term


def tagged_terms(text: str, *, pairs: float = 0.0) -> Iterable[tuple[str, float]]:
    """(word, weight) for each counted word of already-folded `text`: Chinese words
    as written, Latin words (also inside Chinese text) as stems; numbers, relative times and
    cited news agencies are left out. With
    `pairs`, Latin text also yields its word pairs (see `latin_terms`)."""
    if not is_cjk(text):
        yield from latin_terms(text, pairs=pairs)
        return
    for token, tag in rjieba.tag(text):
        if counted := _counted(token, tag):
            yield counted


@lru_cache(maxsize=131_072)
def _counted(token: str, tag: str) -> tuple[str, float] | None:
    """(term, weight) for one segmented token with its part of speech, or None when it does
    not count: a Latin word as its stem, a Chinese word as written."""
    word = token.strip()
    if tag == "eng":  # a Latin word inside Chinese text: a name, an acronym (COVID-19)
        term = "" if word.isdigit() else stem(word)
        return (term, POS_WEIGHTS["eng"]) if term and term not in ATTRIBUTIONS else None
    weight = POS_WEIGHTS.get(tag) if tag != "m" and len(word) >= 2 else None
    if not weight or word in ATTRIBUTIONS or _TIME_WORD_RE.match(word):
        return None
    return word, weight


def url_words(url: str | None) -> str:
    """The words of a URL's slug (its wordiest path segment), or "" when it has fewer than 3."""
    if not url:
        return ""
    segments = unquote(urlsplit(url).path).casefold().split("/")
    best: list[str] = []
    for segment in segments:
        words = _SLUG_WORD_RE.findall(segment)
        if len(words) > len(best):
            best = words
    best = [w for w in best if w not in _URL_STOP]
    return " ".join(best) if len(best) >= 3 else ""


def vectorize(raw: Mapping[str, float], idf: Mapping[str, float] | None = None
              ) -> dict[str, float]:
    """IDF-weighted, unit-length vector of the MAX_TERMS strongest terms (of weights already
    made sublinear by the analysis; the C core, when built, gives the same dict to the bit)."""
    if _c_vectorize is not None and (done := _c_vectorize(raw, idf or None, MAX_TERMS)
                                     ) is not None:
        return done
    return python_vectorize(raw, idf)


def python_vectorize(raw: Mapping[str, float], idf: Mapping[str, float] | None = None
                     ) -> dict[str, float]:
    """`vectorize` without the C core."""
    idf = idf or {}
    vector = {t: w * idf.get(t, 1.0) for t, w in raw.items()}
    return unit(vector)


def unit(vector: Mapping[str, float]) -> dict[str, float]:
    """The MAX_TERMS strongest terms of `vector`, scaled to unit length."""
    if len(vector) > MAX_TERMS:
        vector = dict(sorted(vector.items(), key=itemgetter(1), reverse=True)[:MAX_TERMS])
    values = list(vector.values())
    scale = 1.0 / (math.sqrt(sum(map(mul, values, values))) or 1.0)
    return dict(zip(vector, map(mul, values, repeat(scale)), strict=True))


def salient_terms(raw: Mapping[str, float], count: int | None = None, *,
                  idf: Mapping[str, float] | None = None) -> tuple[str, ...]:
    """The terms an article is indexed under: the heaviest (times IDF, when known: a word
    every story uses finds no story in particular) of the language-neutral vocabulary, where
    reports in every language meet, then the NATIVE_SALIENT heaviest Chinese words as written
    (names the dictionary lacks find the Chinese reports of a story)."""
    neutral, native = ranked_terms(raw, idf=idf)
    return (*neutral[:count or SALIENT_TERMS], *native[:NATIVE_SALIENT])


def ranked_terms(raw: Mapping[str, float], *, idf: Mapping[str, float] | None = None
                 ) -> tuple[list[str], list[str]]:
    """The terms of `raw`, heaviest (times IDF) first (ties in code point order): those of
    the neutral vocabulary, and the Chinese words as written (the C core, when built, gives
    the same lists)."""
    if _c_ranked is not None and (done := _c_ranked(raw, idf or None)) is not None:
        return done
    return python_ranked_terms(raw, idf=idf)


def python_ranked_terms(raw: Mapping[str, float], *, idf: Mapping[str, float] | None = None
                        ) -> tuple[list[str], list[str]]:
    """`ranked_terms` without the C core."""
    idf = idf or {}
    neutral: list[str] = []
    native: list[str] = []
    for _, term in sorted((-w * idf.get(t, 1.0), t) for t, w in raw.items()):
        (native if _CHINESE_START.match(term) else neutral).append(term)
    return neutral, native


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two unit vectors held as sparse dicts (an exactly rounded sum: the same
    vectors give the same bits whatever order a process's hashing puts the terms in; the C
    core, when built, sums by math.fsum's algorithm and returns the same bits)."""
    if _cdedup is not None and (exact := _cdedup.cosine(a, b)) is not None:
        return exact
    return python_cosine(a, b)


def python_cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """`cosine` without the C core."""
    return math.fsum([a[t] * b[t] for t in a.keys() & b.keys()])


def merge(centroid: Mapping[str, float], vector: Mapping[str, float], count: int
          ) -> dict[str, float]:
    """The unit centroid after adding `vector` to a story of `count` articles."""
    merged = dict(zip(centroid, map(mul, centroid.values(), repeat(count)), strict=True))
    for term, value in vector.items():
        merged[term] = merged.get(term, 0.0) + value
    return unit(merged)
