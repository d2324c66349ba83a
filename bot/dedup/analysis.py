"""An article in the language-neutral vocabulary that every report of an event shares.

A Simplified, Traditional or English report of one event should come out close, so every
article is written in one vocabulary:

- English words as Snowball stems (`summoned` -> `summon`);
- Chinese words (segmented by rjieba, Traditional folded to Simplified) as the stems of their
  English glosses from CC-CEDICT (`召见` -> `summon`, `call`, `interview`), each sharing the
  word's weight; a word the dictionary lacks (most transliterated names) stays as written, and
  NATIVE_SHARE of each glossed word's weight stays on the word itself, so two Chinese reports
  also meet on their own wording;
- names the dictionary lacks that the segmenter glued to a neighbouring character (默茨料,
  由默茨) as the name, where the article also writes it alone (默茨);
- Latin names that Chinese reports print in parentheses (`季诺维也夫(Georgy Zinoviev)`) as stems;
- catalog entities (`@dprk` for 朝鲜, 北韓, North Korea), numbers (`#1500` for `1,500`, `1500名`,
  `一千五百`) and calendar days (`~10-21` for `10月21日`, `Oct. 21`) from `bot.dedup.neutral`.

`sources` keeps, for each glossed or neutral term, the words it was read from, so that
`newsbot stories explain` can show the evidence in the reader's terms (`召见 -> summon`).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

from bot.dedup import lexicon
from bot.dedup.background import Background
from bot.dedup.eventday import event_day
from bot.dedup.features import (
    LEAD_CHARS,
    SHORT_LEAD,
    TITLE_BOOST,
    URL_BOOST,
    strip_boilerplate,
    tagged_terms,
    url_words,
)
from bot.dedup.neutral import EntityFinder, Mention, days, numbers
from bot.models import Article
from bot.rules.entities import Entities, gap_parts, key, shipped_entities
from bot.text import fold, language_of

NATIVE_SHARE = 0.5
ENTITY_WEIGHT = 0.5  # actors recur across a region's stories: they may not outweigh the event
NUMBER_WEIGHT = 2.0
DAY_WEIGHT = 2.0
HEADLINE_PAIRS = 0.5  # word pairs of a headline-only article, as a share of a word


_CHINESE_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")  # a word's first character


@dataclass(frozen=True, slots=True)
class Analysis:
    """An article's term weights in the neutral vocabulary (already sublinear), its cleaned
    lead, its language ("zh" or "en") and the words each glossed or neutral term was read
    from."""

    raw: dict[str, float]
    lead: str
    language: str
    sources: dict[str, str] = field(default_factory=dict)
    event_day: int | None = None  # the day its event happened, as stated (bot.dedup.eventday)


class Analyzer:
    """Writes articles in the neutral vocabulary; holds the entity catalog and the background
    frequencies it was built with."""

    def __init__(self, entities: Entities | None = None) -> None:
        self.entities = entities or Entities()
        self._finder = EntityFinder(self.entities)
        self.background = Background({"@" + e.name: [key(a) for a in e.aliases
                                                     if gap_parts(a) is None]
                                      for e in self.entities})

    def analyse(self, article: Article) -> Analysis:
        """The article's terms: the title counted TITLE_BOOST more than the cleaned lead, and
        for a headline-only article (lead under SHORT_LEAD characters) its URL slug's words
        and the pairs of adjacent Latin words (a headline is too short for single words to
        tell `Titanfall review` from `Titanfall launch`)."""
        lead = strip_boilerplate(article.text)[:LEAD_CHARS]
        title = fold(article.title)
        texts = [(title, 1.0 + TITLE_BOOST), (lead, 1.0)]
        short = len(lead) < SHORT_LEAD
        if short:
            texts.append((url_words(article.url), URL_BOOST))
        counts: dict[str, float] = defaultdict(float)  # words and neutral terms, weighted
        sources: dict[str, str] = {}
        for text, boost in texts:
            words, entities = self._finder.mask(text)
            for word, weight in tagged_terms(words, pairs=HEADLINE_PAIRS * short):
                counts[word] += weight * boost
            for mention, weight in self._mentions(text, entities):
                counts[mention.term] += weight * boost
                sources.setdefault(mention.term, mention.text)
        _unglued(counts)
        return Analysis(raw=_neutral(counts, sources), lead=lead,
                        language=language_of(title + "\n" + lead), sources=sources,
                        event_day=event_day(article))

    @staticmethod
    def _mentions(text: str, entities: list[Mention]) -> Iterator[tuple[Mention, float]]:
        """The `entities` found in folded `text`, and its numbers and days, with weights."""
        for mention in entities:
            yield mention, ENTITY_WEIGHT
        for mention in numbers(text):
            yield mention, NUMBER_WEIGHT
        for mention in days(text):
            yield mention, DAY_WEIGHT


def _unglued(counts: dict[str, float]) -> None:
    """Names the dictionary lacks that the segmenter glued to a character beside them (卡尼为,
    由默茨, 默茨料) counted as the name, where the article also writes the name alone."""
    chinese, knows = _CHINESE_RE.match, lexicon.knows
    unknown = {w for w in counts if chinese(w) and not knows(w)}
    for word in sorted((w for w in unknown if len(w) >= 3), key=lambda w: (-len(w), w)):
        for name in (word[:-1], word[1:]):
            if name in unknown and name in counts:
                counts[name] += counts.pop(word)
                break


def _neutral(counts: dict[str, float], sources: dict[str, str]) -> dict[str, float]:
    """Term weights in the neutral vocabulary: each word's weight made sublinear, then a
    Chinese word's spread over the stems of its glosses (NATIVE_SHARE kept on the word), each
    stem noting the word it came from."""
    raw: dict[str, float] = defaultdict(float)
    chinese, log = _CHINESE_RE.match, math.log
    for word, count in counts.items():
        weight = 1.0 + log(count) if count >= 1.0 else count  # sublinear: 1 + ln(w) from 1 up
        glosses = lexicon.gloss(word) if chinese(word) else ()
        if not glosses:
            raw[word] += weight
            continue
        for term, part in glosses:
            raw[term] += weight * part
            sources.setdefault(term, word)
        if NATIVE_SHARE:
            raw[word] += weight * NATIVE_SHARE
    return dict(raw)


@cache
def shipped_analyzer() -> Analyzer:
    """An Analyzer with the shipped entity catalog (`rules/entities.yaml`)."""
    return Analyzer(shipped_entities())
