"""The pair word of two countries a rule names together (`泰国 + 柬埔寨 + 冲突`: 泰柬边境交火).

Chinese reports name two sides at once by their one-character abbreviations (泰柬, 中美, 俄乌,
印巴, 美伊), most of them in no dictionary. In an AND that names two or more countries, each
one is also named by its pair words with the others: its abbreviation and one of theirs, in
either order. A country's abbreviations are read from its own forms: the `X` of its side `X方`
(中方, 泰方; the catalog's aliases, or a bare term's expansion, `bot.rules.names`), so a
country without such a form (伊朗: 伊方 is no word reports use) gets none.

A pair word the dictionary gives another sense (中巴 "minibus", 美德 "virtue", 日中 "noon",
中欧 "Central Europe") is not built. Where a pair sits inside a longer word it does not count:
a dictionary word that names one thing (中美洲 "Central America"), a common word ending with
the first character (所以 + 巴, 今日 + 美, 其中 + 美), a number before 日 (23日 + 美韩), or,
after a first character that is a common word of its own, a common word starting with the
second (日 + 美国, 以 + 巴不得): like the role forms' guards, these err toward no match where
both readings exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache

from bot import cedict
from bot.rules import names
from bot.rules.entities import Entity, key

SIDE = "方"  # `X方`: the side X (中方, 泰方), whose X abbreviates the country
DATE_UNITS = "日"  # an abbreviation that is also a date's unit after a number (Japan: 23日)
COMMON_ZIPF = 4.0  # a common Chinese word a pair may sit inside (wordfreq's Zipf scale)


def abbreviations(entity: Entity) -> tuple[str, ...]:
    """The characters that abbreviate a country: the `X` of its `X方` forms."""
    return tuple(dict.fromkeys(k[0] for a in entity.plain
                               if len(k := key(a)) == 2 and k[1] == SIDE and k[0] != SIDE))


@lru_cache(maxsize=4096)
def pair_entity(one: Entity, others: tuple[Entity, ...]) -> Entity | None:
    """`one` as the pair words that name it with one of `others` (None: no pair word), with
    the longer words they do not count inside as its `exclude`."""
    mine = abbreviations(one)
    words = [w for other in others if other is not one for b in abbreviations(other)
             for a in mine if a != b for w in (a + b, b + a)]
    words = [w for w in dict.fromkeys(words) if _pair_word(w)]
    if not words:
        return None
    return Entity(name=f"~pair:{one.name}:" + ",".join(sorted({o.name for o in others})),
                  aliases=tuple(words), kind="pair", label=one.label or one.name,
                  exclude=tuple(dict.fromkeys(g for w in words for g in _guards(w))))


def _pair_word(word: str) -> bool:
    """Whether a built pair can name the two places: not a dictionary word of another sense."""
    senses = _dictionary()[0].get(word)
    return senses is None or all(names.names_several(s) for s in senses)


def _guards(word: str) -> Iterable[str]:
    """The longer words `word` sits inside without naming the pair (see the module)."""
    first, second = word[0], word[1]
    yield from (longer for longer in _dictionary()[1] if word in longer)
    if first in DATE_UNITS:  # a date's day: 23日美韩联合军演 is no Japan
        yield from (digit + word for digit in "0123456789")
    for common in _common().get(("end", first), ()):
        yield common + second
    if first in names.common_chars():
        for common in _common().get(("start", second), ()):
            yield first + common


@cache
def _dictionary() -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """In one pass over the dictionary: two-character words -> the first sense of each of
    their entries; and the longer words whose first sense names one thing (中美洲 "Central
    America"; not 中日韩 "China, Japan and Korea")."""
    two: dict[str, tuple[str, ...]] = {}
    longer: dict[str, None] = {}
    for entry in cedict.entries(min_length=2):
        if not entry.senses:
            continue
        if len(entry.simplified) == 2:
            two[entry.simplified] = (*two.get(entry.simplified, ()), entry.senses[0])
        elif not names.names_several(entry.senses[0]):
            longer[entry.simplified] = None
    return two, tuple(longer)


@cache
def _common() -> dict[tuple[str, str], tuple[str, ...]]:
    """Common two-character Chinese words by their first (`start`) and last (`end`)
    character."""
    from wordfreq import get_frequency_dict

    floor = 10 ** (COMMON_ZIPF - 9)
    out: dict[tuple[str, str], list[str]] = {}
    for word, freq in get_frequency_dict("zh", wordlist="large").items():
        if freq >= floor and len(word) == 2 and word[0] != word[1]:
            out.setdefault(("start", word[0]), []).append(word)
            out.setdefault(("end", word[1]), []).append(word)
    return {k: tuple(words) for k, words in out.items()}
