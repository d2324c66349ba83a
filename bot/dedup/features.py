"""Term vectors of articles for same-story scoring: segmented words weighted by what they are.

Chinese text is segmented with rjieba (jieba's dictionary and part-of-speech tags); Latin text
is split into words and stemmed (Snowball English, PyStemmer). Names, places, organisations and
multi-digit numbers weigh most, common nouns and verbs less, function words nothing, so two
outlets' rewrites of one event score high on what they share (季诺维也夫, 1500, 召见) rather
than on grammar.
Boilerplate (datelines, outlet prefixes, date lines, photo captions) is removed first, and only
the lead is read: the event is in the first paragraphs, the rest is background that many
stories share. A headline-only article (no lead) also counts the words of its URL slug, which
outlets write as a second, often longer headline.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import mul
from urllib.parse import unquote, urlsplit

import rjieba
import Stemmer

from bot.models import Article
from bot.text import fold, is_cjk

# Part-of-speech tag (jieba's tag set) -> weight of a word with that tag.
POS_WEIGHTS: Mapping[str, float] = {
    "nr": 3.0, "nrt": 3.0, "nrfg": 3.0, "ns": 3.0, "nt": 3.0, "nz": 2.5, "eng": 2.0,
    "j": 2.5, "m": 2.0, "n": 1.5, "vn": 1.2, "v": 1.0, "l": 1.0, "i": 1.0, "an": 1.0,
}
ENTITY_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "j"})
_NUMBER_RE = re.compile(r"\d{3,}")
_LATIN_STOP = frozenset(
    "the a an and or of to in on for with at by from as is are was were be been has have had "
    "it its this that these those he she they we you i his her their our not no but if than "
    "then so said says say will would can could may might also after before over into about "
    "more most new one two three up out who what when where which while just how why all "
    "your my get gets got now first last year years us amp via report reports here there "
    "s t don isn ll re ve d m know need thing things everything watch video photo photos "
    "update updates latest today tonight week day time look way make take big top best "
    "still back down off like vs could should must being do does did doing going go".split()
)
# URL path words that are never a headline's.
_URL_STOP = frozenset("html htm php aspx shtml cms story article news index dot".split())
TITLE_BOOST = 2.0
URL_BOOST = 2.0  # slug words of a headline-only article, against 1 + TITLE_BOOST for the title
SHORT_LEAD = 100  # a cleaned lead shorter than this: a headline-only article
MAX_TERMS = 100
SALIENT_TERMS = 10
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
_STEMMER = Stemmer.Stemmer("english")


@dataclass(frozen=True, slots=True)
class Features:
    """A unit term vector, the terms that best identify the article, its names and numbers."""

    vector: dict[str, float]
    salient: tuple[str, ...]
    entities: frozenset[str]
    lead: str


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


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The Snowball English stem of a folded word, or "" for a stop word or a single letter."""
    if len(word) < 2 or word in _LATIN_STOP:
        return ""
    stemmed: str = _STEMMER.stemWord(word)
    return "" if stemmed in _LATIN_STOP else stemmed


def latin_terms(text: str) -> Iterator[tuple[str, float, bool]]:
    """(term, weight, is_entity) for the words of folded Latin `text` (hyphens and
    apostrophes split words; numbers of three or more digits are names)."""
    weight = POS_WEIGHTS["eng"]
    for word in _LATIN_WORD_RE.findall(text):
        if word.isdigit():
            if len(word) >= 3:
                yield word, POS_WEIGHTS["m"], True
        elif term := stem(word):
            yield term, weight, False


def tagged_terms(text: str) -> Iterable[tuple[str, float, bool]]:
    """(term, weight, is_entity) for each counted word of already-folded `text`."""
    if not is_cjk(text):
        yield from latin_terms(text)
        return
    for token, tag in rjieba.tag(text):
        word = token.strip()
        if tag == "eng":  # a Latin word inside Chinese text: kept whole (COVID-19, H5N1)
            if term := stem(word):
                yield term, POS_WEIGHTS["eng"], False
        elif tag == "m":
            if _NUMBER_RE.fullmatch(word):
                yield word, POS_WEIGHTS["m"], True
        elif len(word) >= 2 and (weight := POS_WEIGHTS.get(tag)):
            yield word, weight, tag in ENTITY_TAGS


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


def analyse(article: Article) -> tuple[dict[str, float], frozenset[str], str]:
    """Raw weights (title counted TITLE_BOOST more), entities, and the cleaned lead.

    A headline-only article (lead under SHORT_LEAD characters) adds its URL slug's words.
    """
    lead = strip_boilerplate(article.text)[:LEAD_CHARS]
    raw: dict[str, float] = defaultdict(float)
    entities: set[str] = set()
    sources = [(fold(article.title), 1.0 + TITLE_BOOST), (lead, 1.0)]
    if len(lead) < SHORT_LEAD:
        sources.append((url_words(article.url), URL_BOOST))
    for text, boost in sources:
        for term, weight, is_entity in tagged_terms(text):
            raw[term] += weight * boost
            if is_entity:
                entities.add(term)
    return raw, frozenset(entities), lead


def vectorize(raw: Mapping[str, float], idf: Mapping[str, float] | None = None
              ) -> dict[str, float]:
    """Sublinear, IDF-weighted, unit-length vector of the MAX_TERMS strongest terms."""
    idf = idf or {}
    vector = {t: (1.0 + math.log(w)) * idf.get(t, 1.0) for t, w in raw.items() if w >= 1.0}
    return unit(vector)


def unit(vector: Mapping[str, float]) -> dict[str, float]:
    """The MAX_TERMS strongest terms of `vector`, scaled to unit length."""
    if len(vector) > MAX_TERMS:
        vector = dict(sorted(vector.items(), key=lambda kv: kv[1], reverse=True)[:MAX_TERMS])
    values = list(vector.values())
    scale = 1.0 / (math.sqrt(sum(map(mul, values, values))) or 1.0)
    return dict(zip(vector, map(mul, values, repeat(scale)), strict=True))


def salient_terms(raw: Mapping[str, float], count: int | None = None, *,
                  idf: Mapping[str, float] | None = None) -> tuple[str, ...]:
    """The terms an article is indexed under: the heaviest by POS weight (times IDF, when
    known: a word every story uses finds no story in particular)."""
    count = count or SALIENT_TERMS
    if idf:
        return tuple(t for _, t in sorted(((-w * idf.get(t, 1.0), t) for t, w in raw.items()
                                           ))[:count])
    return tuple(t for t, _ in sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))[:count])


def features(article: Article, *, idf: Mapping[str, float] | None = None) -> Features:
    """The article's vector, salient terms and entities."""
    raw, entities, lead = analyse(article)
    return Features(vector=vectorize(raw, idf), salient=salient_terms(raw),
                    entities=entities, lead=lead)


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two unit vectors held as sparse dicts."""
    return sum(a[t] * b[t] for t in a.keys() & b.keys())


def merge(centroid: Mapping[str, float], vector: Mapping[str, float], count: int
          ) -> dict[str, float]:
    """The unit centroid after adding `vector` to a story of `count` articles."""
    merged = {t: v * count for t, v in centroid.items()}
    for term, value in vector.items():
        merged[term] = merged.get(term, 0.0) + value
    return unit(merged)
