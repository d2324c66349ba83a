"""English words reduced to Snowball stems (PyStemmer), stop words dropped: the vocabulary of
the language-neutral view that Latin text and glossed Chinese text share."""

from __future__ import annotations

from functools import lru_cache

import Stemmer

STOP_WORDS = frozenset(
    "the a an and or of to in on for with at by from as is are was were be been has have had "
    "it its this that these those he she they we you i his her their our not no but if than "
    "then so said says say will would can could may might also after before over into about "
    "more most new one two three up out who what when where which while just how why all "
    "your my get gets got now first last year years us amp via report reports here there "
    "s t don isn ll re ve d m know need thing things everything watch video photo photos "
    "update updates latest today tonight week day time look way make take big top best "
    "still back down off like vs could should must being do does did doing going go".split()
)
STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The Snowball English stem of a folded word, or "" for a stop word or a single letter."""
    if len(word) < 2 or word in STOP_WORDS:
        return ""
    stemmed: str = STEMMER.stemWord(word)
    return "" if stemmed in STOP_WORDS else stemmed
