"""The world's countries and the places in them, for telling where an event is (`日本 + 地震`).

A rule that names a place beside something that happens somewhere (the `events` of
`rules/senses.yaml`: a quake, a flood) means that it happens there, not in another country
that the place only reacts to: a quake in Myanmar to which Japan sends a rescue team is no
Japanese quake. The compiler (`bot.rules.compiler`) therefore counts a place in the rule's
country as the country (`within`: 鹿兒島縣 for 日本) and keeps the event's occurrences that
no other country or place in one is bound to (`elsewhere`: named right before or beside it in
its clause, 缅甸强震, `a quake struck off Taiwan`, `台风在福建登陆`); where the headline says
the event, one of its headline occurrences must be kept. An occurrence bound to no place at
all still counts: reports place a quake by a town no list holds (能登).

Countries are CLDR's (the `babel` package) in English, Simplified and Traditional Chinese
(`Myanmar (Burma)` gives both) with the short names news use beside them (`ALSO`: Britain,
Hong Kong, Turkey) and the English people and adjective forms the dictionary builds for them
(`bot.rules.names`: Filipino, Pakistani); codes that are no country (the EU, the UN, the
eurozone, unknown and outlying regions) are left out. Places are CC-CEDICT's (`_inside`),
an island among them where the dictionary names it alone (`Luzon Island, north Philippines`:
吕宋岛, and Luzon as English reports say it); their English names count for the rule's own
country only (`Country.english`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from babel import Locale

from bot import cedict
from bot.rules import names
from bot.rules.entities import Entity, key

LOCALES = ("en", "zh_Hans", "zh_Hant")
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})
# the short names news use where CLDR gives a long or a new one
ALSO = {"GB": ("Britain", "British", "UK"), "HK": ("Hong Kong", "香港"), "MO": ("Macau", "澳门"),
        "PS": ("Palestine", "巴勒斯坦"), "TR": ("Turkey", "Turkish"), "US": ("U.S.", "USA"),
        "CD": ("DR Congo", "刚果民主共和国"), "CG": ("Congo", "刚果")}
TERM = "term"
_PARTS_RE = re.compile(r"\s*\(([^()]*)\)\s*")
_ISLAND_RE = re.compile(r"^([A-Z][a-z]+) Island\b")  # an island named alone: `Luzon Island`
RARE_ZIPF = 3.0  # an island's name alone counts when general English seldom uses it (not South)
_LEADING_NAME_RE = re.compile(r"^(?:[A-Z][\w'’-]*)(?: [A-Z][\w'’-]*)*")
# a dictionary sense that says a place (not a surname or a person)
_PLACE_RE = re.compile(r"\b(?:city|county|province|prefecture|district|island|islands|town|"
                       r"region|state|capital|village|port|peninsula|place name|area|"
                       r"municipality|township|ward)\b")


@dataclass(frozen=True, slots=True)
class Country:
    """A country's names (English, Simplified, Traditional, its people and adjective) and the
    dictionary's places in it (Chinese; and their English names, which count only for the
    country's own rules: the pinyin of a county is too often a typhoon's or a person's name
    to say that an event is elsewhere, Typhoon Haiyan is no Haiyan county), all folded."""

    names: tuple[str, ...]
    places: tuple[str, ...] = ()
    english: tuple[str, ...] = ()


@cache
def countries() -> tuple[Country, ...]:
    """Every CLDR country with its names and places."""
    tables = [Locale.parse(code).territories for code in LOCALES]
    out: list[tuple[str, ...]] = []
    for code in sorted(tables[0]):
        if not (len(code) == 2 and code.isalpha()) or code in NOT_COUNTRIES:
            continue
        english = tables[0][code]
        plain = _PARTS_RE.sub(" ", english).strip()
        found = [plain, *_PARTS_RE.findall(english), *(t[code] for t in tables[1:] if code in t),
                 *ALSO.get(code, ())]
        if chinese := tables[1].get(code):
            found += names.english_forms(chinese, plain)
        out.append(tuple(dict.fromkeys(key(n) for n in found if n)))
    inside = _inside(out)
    return tuple(Country(names_, *inside.get(i, ((), ()))) for i, names_ in enumerate(out))


@cache
def elsewhere(here: frozenset[str]) -> Entity:
    """Every country but those with a name among `here` (folded aliases of the places a rule
    names), by its names and places, as one entity."""
    kept = [n for c in countries() if not here & {*c.names, *c.places}
            for n in (*c.names, *c.places)]
    return Entity(name="~elsewhere-" + _digest(here), kind=TERM, label="other countries",
                  aliases=tuple(dict.fromkeys(kept)))


@cache
def within(here: frozenset[str]) -> Entity | None:
    """The places in the countries with a name among `here`, as one entity (None: none)."""
    kept = [n for c in countries() if here & set(c.names) for n in (*c.places, *c.english)]
    return Entity(name="~within-" + _digest(here), kind=TERM, label="places in it",
                  aliases=tuple(dict.fromkeys(kept))) if kept else None


def known(here: frozenset[str]) -> bool:
    """Whether one of `here` names a country or a place in one."""
    return not here.isdisjoint(_every_name())


@cache
def _every_name() -> frozenset[str]:
    return frozenset(n for c in countries() for n in (*c.names, *c.places, *c.english))


def _digest(here: frozenset[str]) -> str:
    """A name for the entity made from `here` (the compiler caches leaves by entity name)."""
    return hashlib.sha1("\n".join(sorted(here)).encode()).hexdigest()[:16]


def folded(aliases: Iterable[str]) -> frozenset[str]:
    """The aliases as `elsewhere` and `within` compare them."""
    return frozenset(key(a) for a in aliases)


def _inside(countries: list[tuple[str, ...]]
            ) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The dictionary's places in each country (index into `countries`), Chinese and English:
    a proper noun whose first sense says a place and names one country last (`Hualien, city
    and county on the east coast of Taiwan`, `Kagoshima, Japanese island prefecture`), by its
    Chinese name and the capitalized English name its sense opens with; not one the
    dictionary also gives as a common word (和平 is peace before it is a district)."""
    by_name = {n: i for i, names_ in enumerate(countries) for n in names_
               if n.isascii() and len(n) > 3}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, by_name), key=len,
                                                    reverse=True)) + r")\b")
    named_already = {n for names_ in countries for n in names_}
    out: dict[int, tuple[list[str], list[str]]] = {}
    common: set[str] = set()  # words the dictionary also gives as no name (和平 "peace")
    for entry in cedict.entries():
        if not entry.proper:
            common.add(entry.simplified)
            continue
        sense = entry.senses[0] if entry.senses else ""
        island = _ISLAND_RE.match(sense) if len(entry.simplified) > 2 \
            and entry.simplified.endswith("岛") else None  # `Luzon Island, north Philippines`
        if not (_PLACE_RE.search(sense) or island) or "surname" in sense:
            continue
        named = pattern.findall(sense.lower())
        if not named or key(entry.simplified) in named_already:
            continue
        chinese, english = out.setdefault(by_name[named[-1]], ([], []))
        chinese.append(entry.simplified)
        if (name := _LEADING_NAME_RE.match(sense)) and key(name.group(0)) not in by_name:
            english.append(_unmarked(name.group(0)))
        if island and _rare_english(island.group(1)):  # English reports say Luzon alone
            english.append(_unmarked(island.group(1)))
    return {i: (tuple(dict.fromkeys(key(n) for n in chinese if n not in common)),
                tuple(dict.fromkeys(key(n) for n in english)))
            for i, (chinese, english) in out.items()}


def _rare_english(word: str) -> bool:
    """Whether general English seldom uses the word (wordfreq): a name, not `south`."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") < RARE_ZIPF


def _unmarked(name: str) -> str:
    """`name` without its accents (Kyōto -> Kyoto, as English news write it)."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
