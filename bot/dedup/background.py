"""How common a term is in general text, so that IDF is right from the first article.

A window that has seen five articles calls every word rare; two reports of different events
that share 合作 and 外交部 then look alike. Term weights therefore start from background
document frequencies of general English and Chinese text (the `wordfreq` package's word lists,
maintained data from subtitles, news, Wikipedia and the web), and the window's own counts join
them as the window grows:

    idf(t) = ln((PRIOR_DOCS + N + 1) / (PRIOR_DOCS * p(t) + df(t) + 1)) + 1

where N is the number of articles in the window, df(t) how many of them contain t, and p(t) the
background probability that an article contains t: 1 - exp(-DOC_WORDS * f(t)) for a word of
frequency f(t) per word. The background counts as PRIOR_DOCS articles, so it decides at first
and the window decides once it holds many more articles than that: a word the lists do not
know (a new name, a trending term) that fills the window is known as common within a few
thousand articles, not after tens of thousands.

English words are counted by stem (every word the stemmer folds into one stem adds up); Chinese
words are looked up as written (Simplified, the form `bot.text.fold` gives). Words missing from
the lists (they list words used at least once per million) count as that rare. The neutral
terms carry their own priors: an entity of the catalog is as common as its most common alias, a
number or a calendar day has a fixed prior by kind (years are common, other numbers rare).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

_c_idf: Callable[..., dict[str, float] | None] | None
try:  # the C core's idf (the same bits); a core built before it has none: the Python path
    from bot.dedup import _cdedup
    _c_idf = getattr(_cdedup, "idf", None)
except ImportError:  # pragma: no cover - built wherever a C compiler is present
    _c_idf = None

PRIOR_DOCS = 2_000
DOC_WORDS = 300
FLOOR = 1e-6  # the lists' least frequency: unlisted words are at most this common
_YEAR_RE = re.compile(r"#(?:19|20)\d\d")
_ROUND_RE = re.compile(r"#[1-9]0+")
# Background share of articles for neutral terms that no word list counts.
YEAR_SHARE = 0.10
ROUND_SHARE = 0.01
NUMBER_SHARE = 0.002
DAY_SHARE = 0.005
ENTITY_SHARE = 0.01
SHARES_KEPT = 500_000


@cache
def english_stems() -> dict[str, float]:
    """Frequency per word of each English stem (the sum over the words it stands for)."""
    from wordfreq import get_frequency_dict

    from bot.dedup.stems import STEMMER

    freqs = get_frequency_dict("en", wordlist="small")
    words = [w for w in freqs if w.isascii() and w.isalpha()]
    table: dict[str, float] = {}
    for word, stemmed in zip(words, STEMMER.stemWords(words), strict=True):
        table[stemmed] = table.get(stemmed, 0.0) + freqs[word]
    return table


@cache
def chinese_words() -> dict[str, float]:
    """Frequency per word of each Chinese word (Simplified)."""
    from wordfreq import get_frequency_dict

    return dict(get_frequency_dict("zh", wordlist="small"))


def share(frequency: float) -> float:
    """The share of articles that contain a word of this frequency per word."""
    return 1.0 - math.exp(-DOC_WORDS * max(frequency, FLOOR))


class Background:
    """Background shares of the language-neutral terms, and IDF blended with window counts."""

    def __init__(self, entities: Mapping[str, Iterable[str]] | None = None) -> None:
        """`entities` maps an entity term (`@dprk`) to its folded aliases."""
        self._stems = english_stems()
        self._chinese = chinese_words()
        self._shares: dict[str, float] = {}  # entities, then every term asked about
        for term, aliases in (entities or {}).items():
            best = max((self._word_frequency(a) for a in aliases), default=0.0)
            self._shares[term] = share(best) if best > 0 else ENTITY_SHARE

    def _word_frequency(self, word: str) -> float:
        return self._chinese.get(word, 0.0) or self._stems.get(word, 0.0)

    def share(self, term: str) -> float:
        """The background share of articles that contain `term` (remembered: every article
        asks for a hundred terms, twice)."""
        known = self._shares.get(term)
        if known is None:
            if len(self._shares) > SHARES_KEPT:
                self._shares = {t: s for t, s in self._shares.items() if t[:1] == "@"}
            known = self._shares[term] = self._share(term)
        return known

    def _share(self, term: str) -> float:
        first = term[:1]
        if first == "#":
            if _YEAR_RE.fullmatch(term):
                return YEAR_SHARE
            return ROUND_SHARE if _ROUND_RE.fullmatch(term) else NUMBER_SHARE
        if first == "~":
            return DAY_SHARE
        if first == "@":
            return ENTITY_SHARE
        return share(self._stems.get(term, 0.0) or self._chinese.get(term, 0.0))

    def idf(self, terms: Iterable[str], doc_freq: Mapping[str, int], total: int
            ) -> dict[str, float]:
        """IDF of `terms` from the background blended with the window's counts (`total`
        articles, `doc_freq` of them containing each term)."""
        top = math.log(PRIOR_DOCS + total + 1) + 1.0
        if _c_idf is not None:
            if (done := _c_idf(terms, self._shares, doc_freq, top, PRIOR_DOCS)) is not None:
                return done
            if isinstance(terms, dict):  # a term never asked about: its share, then C again
                shares = self._shares
                for term in [t for t in terms if t not in shares]:
                    self.share(term)
                if (done := _c_idf(terms, self._shares, doc_freq, top, PRIOR_DOCS)) is not None:
                    return done
        return self.python_idf(terms, doc_freq, top)

    def python_idf(self, terms: Iterable[str], doc_freq: Mapping[str, int], top: float
                   ) -> dict[str, float]:
        """`idf` without the C core, from its `top` (log of the window's article count)."""
        shares, count, log = self._shares, doc_freq.get, math.log
        return {t: top - log(PRIOR_DOCS * (shares.get(t) or self.share(t)) + count(t, 0) + 1)
                for t in terms}
