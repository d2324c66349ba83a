"""The world's countries and territories by name, for telling whose an event is (`日本 + 地震`).

A rule that names a place beside something that happens somewhere (the `events` of
`rules/senses.yaml`: a quake, a flood) means that it happens there, not in another country
that the place only reacts to: a quake in Myanmar to which Japan sends a rescue team is no
Japanese quake. The compiler (`bot.rules.compiler`) therefore keeps the event's occurrences
that no other country is bound to (named right before or beside it in its clause: 缅甸强震,
`a quake struck off Taiwan`); a report whose every occurrence is another country's does not
count. An occurrence bound to no country at all still does: reports place a quake by its
province or town (能登, Ishikawa), which no list of countries holds.

The names are CLDR's (the `babel` package) in English, Simplified and Traditional Chinese
(`Myanmar (Burma)` gives both) and the short names news use beside them (`ALSO`: Britain,
Hong Kong, Turkey), with the English people and adjective forms the dictionary builds for them
(`bot.rules.names`: Filipino, Pakistani). Codes that are no country (the EU,
the UN, the eurozone, unknown and outlying regions) are left out.
"""

from __future__ import annotations

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
# a dictionary sense that says a place (not a surname or a person)
_PLACE_RE = re.compile(r"\b(?:city|county|province|prefecture|district|island|islands|town|"
                       r"region|state|capital|village|port|peninsula|place name|area|"
                       r"municipality|township|ward)\b")
_LEADING_NAME_RE = re.compile(r"^(?:[A-Z][\w'’-]*)(?: [A-Z][\w'’-]*)*")


@dataclass(frozen=True, slots=True)
class Country:
    """A country's names (English, Simplified, Traditional, its people and adjective) and the
    dictionary's places in it, all folded."""

    names: tuple[str, ...]
    places: tuple[str, ...] = ()


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
    return tuple(Country(names_, inside.get(i, ())) for i, names_ in enumerate(out))


@cache
def elsewhere(here: frozenset[str]) -> Entity:
    """Every country but those with a name among `here` (folded aliases of the places a rule
    names), by its names and places, as one entity."""
    kept = [n for c in countries() if not here & {*c.names, *c.places}
            for n in (*c.names, *c.places)]
    return Entity(name="~elsewhere-" + "-".join(sorted(here))[:200], kind=TERM,
                  label="other countries", aliases=tuple(dict.fromkeys(kept)))


@cache
def within(here: frozenset[str]) -> Entity | None:
    """The places in the countries with a name among `here`, as one entity (None: none)."""
    kept = [n for c in countries() if here & set(c.names) for n in c.places]
    return Entity(name="~within-" + "-".join(sorted(here))[:200], kind=TERM,
                  label="places in it", aliases=tuple(dict.fromkeys(kept))) if kept else None


def known(here: frozenset[str]) -> bool:
    """Whether one of `here` names a country or a place in one."""
    return not here.isdisjoint(_every_name())


@cache
def _every_name() -> frozenset[str]:
    return frozenset(n for c in countries() for n in (*c.names, *c.places))


def folded(aliases: Iterable[str]) -> frozenset[str]:
    """The aliases as `elsewhere` and `within` compare them."""
    return frozenset(key(a) for a in aliases)


def _unmarked(name: str) -> str:
    """`name` without its accents (Kyōto -> Kyoto, as English news write it)."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _inside(countries: list[tuple[str, ...]]) -> dict[int, tuple[str, ...]]:
    """The dictionary's places in each country (index into `countries`): a proper noun whose
    first sense says a place and names one country last (`Hualien, city and county on the
    east coast of Taiwan`, `Kagoshima, Japanese island prefecture`), by its Chinese name and
    the capitalized English name its sense opens with; not one the dictionary also gives as
    a common word (和平 is peace before it is a district)."""
    by_name = {n: i for i, names_ in enumerate(countries) for n in names_
               if n.isascii() and len(n) > 3}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, by_name), key=len,
                                                    reverse=True)) + r")\b")
    named_already = {n for names_ in countries for n in names_}
    out: dict[int, list[str]] = {}
    common: set[str] = set()  # words the dictionary also gives as no name (和平 "peace")
    for entry in cedict.entries():
        if not entry.proper:
            common.add(entry.simplified)
            continue
        sense = entry.senses[0] if entry.senses else ""
        if not _PLACE_RE.search(sense) or "surname" in sense:
            continue
        named = pattern.findall(sense.lower())
        if not named or key(entry.simplified) in named_already:
            continue
        found = out.setdefault(by_name[named[-1]], [])
        found.append(entry.simplified)
        if (english := _LEADING_NAME_RE.match(sense)) and key(english.group(0)) not in by_name:
            found.append(_unmarked(english.group(0)))
    return {i: tuple(dict.fromkeys(key(n) for n in found if n not in common))
            for i, found in out.items()}
