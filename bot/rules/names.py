"""A place a bare rule term names, in the forms reports use beside its name (`bot.rules.expand`).

Chinese reports shorten a country to one character once it has been named: the side (菲方,
巴方), its forces (印军), the country (巴国), its media (菲媒), its nationals (菲籍), and the
pair of two countries (印巴 "India and Pakistan"). English reports name its people and say
its adjective (Filipino, Philippine; Pakistani; Indian). From the dictionary, for any place
it knows:

- the term's abbreviations are the single characters whose senses say `abbr. for` the term
  (in Chinese, `abbr. for 印度`, or by its English name, `abbr. for Pakistan`); each one
  followed by one of `ROLES` is a form;
- a pair word is a two-character word made of abbreviations whose sense names the place
  (`印巴` "India and Pakistan", not `中巴` "minibus" nor `巴西` "Brazil");
- its capital, which reports name for its government (`Bangkok accuses Phnom Penh`,
  曼谷): a proper noun whose first sense is only `<Name>, capital of <the place>` (not a
  former or a province's capital), by its Chinese word (not one the dictionary also gives
  as a common word; nor inside a longer word that names something else: 都柏林 is no 柏林)
  and its English name (not one that is a common word's sense: Phoenix, Providence);
- the adjective English takes from its language where the dictionary names the language
  after the place (泰语 "Thai"; not a word English also uses: to polish);
- the people and the adjective are the forms English builds from the name (`-i`, `-n`,
  `-ian`, `-ese`, a plural name without its `s`), kept when general English uses them often
  (wordfreq), with the dictionary's word for its people (`菲律宾人` "Filipino"); built
  forms only for a place the dictionary abbreviates or names a people of, or one of CLDR's
  territories (the `babel` package: Sudan, Venezuela), that is a country, not a person:
  `Marcos` gives no `Marco`.

A role form inside a longer common word does not count (以方便, 越来越方便, 新媒体): the guard
reads the abbreviation with the word after it, and errs toward no match where both readings
exist (see `guards`). An abbreviation that stands for several places (巴: Pakistan and
Palestine) gives its forms to each: the rule's other terms tell them apart, and a chat drops
one with `-"巴方"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bot import cedict

ROLES = ("方", "军", "国", "媒", "籍")
MIN_ZIPF = 3.0  # how often general English must use a built form (wordfreq's Zipf scale)
COMMON_ZIPF = 4.0  # a common Chinese word a role form may sit inside
COMMON_CHAR_ZIPF = 5.0  # an abbreviation this common is a word of its own first
_ABBR_RE = re.compile(r"\babbr\. for\b|\(abbr\.\)")
_HANZI_RE = re.compile(r"[^\x00-\x7f]+(?:\|[^\x00-\x7f]+)?|\[[^\]]*\]|\([^)]*\)")
_NOTE_RE = re.compile(r"\([^()]*\)")
_LIST_RE = re.compile(r"^[A-Z]\w*(?: [A-Z]\w*)*(?:, [A-Z]\w*(?: [A-Z]\w*)*)+,? and [A-Z]\w*")
_PAIR_RE = re.compile(r"^[A-Z][\w.]*(?: [A-Z]\w*)*(?:-| and )[A-Z][\w.]*(?: [A-Z]\w*)*$")
# `Bangkok, capital of Thailand`, `Kyiv or Kiev, capital of Ukraine`, `... (Tw)`: nothing more
_CAPITAL_RE = re.compile(r"^(?P<names>[A-Z][\w'’. -]*?(?: or [A-Z][\w'’. -]*?)?), capital of "
                         r"(?P<place>(?:the )?[A-Z][\w'’. -]*?)(?: \(Tw\))?$")
_LANGUAGE_RE = re.compile(r"\s+language\b.*$", re.I)  # "Hungarian language" -> Hungarian
_PEOPLE_RE = re.compile(r"\((?:person|people)\)|\b(?:person|people)\b|\bor\b|^an? ", re.I)


def chinese_forms(term: str, english: str) -> tuple[str, ...]:
    """The term's abbreviation followed by a role, and the pair words that name it."""
    abbreviations = _abbreviations(term, english)
    if not abbreviations:
        return ()
    forms = [a + role for a in abbreviations for role in ROLES]
    for word, senses in _tables().pairs:
        if set(word) & set(abbreviations) and any(_names(s, english) for s in senses):
            forms.append(word)
    return tuple(f for f in dict.fromkeys(forms) if f != term)


def guards(forms: tuple[str, ...]) -> tuple[str, ...]:
    """Longer words a role form sits inside without meaning the place: the abbreviation
    before a common word that starts with the role (以 + 方便, 新 + 媒体, 越 + 方向; `方` and
    `媒` always, `国` and `军` after an abbreviation that is itself a common word, 新 + 国家,
    since after a rarer one the form reads on: 巴国 + 境内, 印军 + 方面): an occurrence inside
    one does not count (`Expansion.exclude`)."""
    starting, common = _common_by_first(), common_chars()
    return tuple(dict.fromkeys(form[:-1] + word for form in forms
                               if len(form) == 2 and form[-1] in ROLES
                               and (form[-1] in "方媒" or form[0] in common)
                               for word in starting.get(form[-1], ())))


@cache
def _common_by_first() -> dict[str, tuple[str, ...]]:
    """Common Chinese words of two characters that start with a role character."""
    from wordfreq import get_frequency_dict

    floor = 10 ** (COMMON_ZIPF - 9)
    out: dict[str, list[str]] = {}
    for word, freq in get_frequency_dict("zh", wordlist="large").items():
        if freq >= floor and len(word) == 2 and word[0] in ROLES:
            out.setdefault(word[0], []).append(word)
    return {first: tuple(words) for first, words in out.items()}


@cache
def common_chars() -> frozenset[str]:
    """Characters general Chinese uses very often as words of their own (新, 以, 加, 日)."""
    from wordfreq import get_frequency_dict

    floor = 10 ** (COMMON_CHAR_ZIPF - 9)
    return frozenset(w for w, f in get_frequency_dict("zh", wordlist="large").items()
                     if len(w) == 1 and f >= floor)


def english_forms(term: str, english: str) -> tuple[str, ...]:
    """Its people and adjective: the dictionary's word for its people, and the forms built
    from the name that general English uses (`Pakistani`, `Philippine`)."""
    from wordfreq import zipf_frequency

    name = english.lower()
    people = _people(term)
    out = [word for word in people if word != name]
    abbreviations = _abbreviations(term, name) if " " not in name else ()
    if " " not in name and (people or abbreviations or name in _territories()):  # a country
        out += [form for form in (*_built(name), *_language(term, name, abbreviations))
                if form != name and zipf_frequency(form, "en") >= MIN_ZIPF]
    return tuple(dict.fromkeys(out))


@cache
def _territories() -> frozenset[str]:
    """CLDR's English names of countries and territories, lower case (`sudan`, `venezuela`)."""
    from babel import Locale

    return frozenset(n.lower() for code, n in Locale.parse("en").territories.items()
                     if code.isalpha())


def _language(term: str, name: str, abbreviations: tuple[str, ...]) -> tuple[str, ...]:
    """The adjective English takes from the place's language, where the dictionary names the
    language after the place (泰语 "Thai (language)" for Thailand, 波兰语 "Polish"; not 菲律宾语
    "Tagalog" nor 缅甸语 "Burmese", which do not begin like the place's name)."""
    words = (term + "语", *(a + "语" for a in abbreviations))
    for word in words:
        for sense in _tables().languages.get(word, ())[:1]:
            said = _LANGUAGE_RE.sub("", _NOTE_RE.sub("", sense)).strip()
            if said.isalpha() and said[:1].isupper() and said[:3].lower() == name[:3] \
                    and not {said.lower(), "to " + said.lower()} & _tables().common_senses:
                return (said.lower(),)  # not a word English also uses (to polish)
    return ()


def _built(name: str) -> tuple[str, ...]:
    stem = name[:-1] if name.endswith(("a", "e", "o", "y")) else name
    return (name + "i", name + "n", name + "an", name + "ian", stem + "ian", stem + "an",
            name + "ese",
            stem + "ese", name[:-1] if name.endswith("s") else name)


def names_several(sense: str) -> bool:
    """Whether a dictionary sense names two or more places (`China-USA`, `North and South
    Korea`, `China, Japan and Korea`, `China-Pakistan (relations)`), not one thing."""
    plain = _NOTE_RE.sub("", sense).strip()
    return _PAIR_RE.match(plain) is not None or _LIST_RE.match(plain) is not None


def _names(sense: str, english: str) -> bool:
    return re.search(rf"\b{re.escape(english)}", sense, re.I) is not None


def _abbreviations(term: str, english: str) -> tuple[str, ...]:
    """The characters that abbreviate the term: their sense names it alone, in Chinese right
    after `abbr. for` or in English as the whole of what follows (`abbr. for Pakistan`,
    `abbr. for 伊拉克, Iraq`, `Taiwan (abbr.)`); not `abbr. for east Sichuan or Chongqing`
    for Sichuan, nor 竺 "abbr. for 天竺 India (esp. in Tang or Buddhist context)"."""
    out = []
    for char, sense in _tables().abbreviations:
        head, _, tail = sense.partition("abbr. for")
        said = tail if tail else head.replace("(abbr.)", "")
        named = re.findall(r"([^\x00-\x7f|]+)\[", said)  # the Chinese names it gives
        if named and term not in named:
            continue
        if named or (english and any(
                part.strip().removeprefix("the ") == english
                for part in re.split(r",| or ", _HANZI_RE.sub(" ", said).lower()))):
            out.append(char)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class Capital:
    """A place's capital as a rule term's forms: its Chinese words, its English names (none
    that the dictionary gives as a common word's whole sense: phoenix, providence), and the
    longer dictionary words its Chinese words sit in without naming it (都柏林 Dublin is no
    柏林 Berlin, 罗马尼亚 no Rome)."""

    chinese: tuple[str, ...] = ()
    english: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Tables:
    """What this module reads of the dictionary, in one pass over it."""

    abbreviations: tuple[tuple[str, str], ...]  # (character, a sense saying it abbreviates)
    pairs: tuple[tuple[str, tuple[str, ...]], ...]  # two abbreviations naming two places
    people: dict[str, tuple[str, ...]]  # `<place>人` -> its senses
    languages: dict[str, tuple[str, ...]]  # `<place>语` -> its senses
    common_senses: frozenset[str]  # the senses of common (not proper) words, lower case
    capitals: dict[str, Capital]  # a place's English name (lower case) -> its capital


@cache
def _tables() -> _Tables:
    """The single characters' senses that say they abbreviate; the two-character words made
    of two of them that name a pair of places in every entry (`印巴` "India and Pakistan"; not
    `美德`, also "virtue", nor `反日` "anti-Japan"); the words for a place's people; capitals."""
    abbreviations: list[tuple[str, str]] = []
    two: dict[str, list[tuple[str, ...]]] = {}
    people: dict[str, tuple[str, ...]] = {}
    languages: dict[str, tuple[str, ...]] = {}
    capitals: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    common: set[str] = set()  # words the dictionary also gives as no name
    senses: set[str] = set()  # the senses of those words (`phoenix`, `to polish`)
    longer: list[tuple[str, str]] = []  # words of 3+ characters, with their first sense
    for entry in cedict.entries(min_length=1):
        word = entry.simplified
        if not entry.proper:
            common.add(word)
            senses.update(entry.senses)
        elif entry.senses and (capital := _CAPITAL_RE.match(entry.senses[0])):
            place = capital.group("place").lower().removeprefix("the ")
            found = tuple(n.strip() for n in capital.group("names").split(" or "))
            capitals.setdefault(place, []).append((word, found))
        if len(word) == 1:
            abbreviations += ((word, sense) for sense in entry.senses if _ABBR_RE.search(sense))
        elif len(word) == 2:
            if word[0] != word[1]:
                two.setdefault(word, []).append(entry.senses)
            if word.endswith("语"):
                languages.setdefault(word, entry.senses)
        else:
            longer.append((word, entry.senses[0] if entry.senses else ""))
            if word.endswith("人"):
                people[word] = entry.senses
            elif word.endswith("语"):
                languages.setdefault(word, entry.senses)
    chars = {char for char, _ in abbreviations}
    pairs = tuple((word, tuple(s for senses in entries for s in senses))
                  for word, entries in two.items() if set(word) <= chars
                  and all(_PAIR_RE.match(_NOTE_RE.sub("", senses[0]).strip())
                          for senses in entries))
    common_senses = frozenset(sense.strip().lower() for sense in senses)
    return _Tables(tuple(abbreviations), pairs, people, languages, common_senses,
                   _capitals(capitals, common, common_senses, longer))


def _capitals(found: dict[str, list[tuple[str, tuple[str, ...]]]], common: set[str],
              senses: frozenset[str], longer: list[tuple[str, str]]) -> dict[str, Capital]:
    """Each place's `Capital` from the dictionary's `<Name>, capital of <place>` entries."""
    words = {word for entries in found.values() for word, _ in entries if word not in common}
    inside: dict[str, list[tuple[str, str]]] = {}
    firsts = {word[0] for word in words}
    for word, sense in longer:
        if firsts.isdisjoint(word):
            continue
        for part in {word[i:j] for i in range(len(word) - 1)
                     for j in range(i + 2, len(word) + 1)} & words - {word}:
            inside.setdefault(part, []).append((word, sense.lower()))
    out: dict[str, Capital] = {}
    for place, entries in found.items():
        chinese = tuple(dict.fromkeys(w for w, _ in entries if w not in common))
        english = tuple(dict.fromkeys(n for _, names_ in entries for n in names_
                                      if n.lower() not in senses))
        said = (place, *(n.lower() for n in english))
        guards = tuple(dict.fromkeys(w for c in chinese for w, sense in inside.get(c, ())
                                     if not any(s in sense for s in said)))
        if chinese or english:
            out[place] = Capital(chinese, english, guards)
    return out


def capital(english: str) -> Capital:
    """The capital of the place whose English name is `english` (`thailand`: 曼谷, Bangkok)."""
    return _tables().capitals.get(english.lower().removeprefix("the "), Capital())


def _people(term: str) -> tuple[str, ...]:
    """The dictionary's first word for the term's people (`菲律宾人` "Filipino")."""
    for sense in _tables().people.get(term + "人", ())[:1]:
        word = _PEOPLE_RE.sub(" ", sense).split()
        if len(word) == 1 and word[0][:1].isupper():
            return (word[0].lower(),)
    return ()
