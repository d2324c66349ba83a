"""What reports in any language state alike: entities of the catalog, numbers, calendar days.

- Entities: every plain alias of `rules/entities.yaml` (朝鲜, 北韓, DPRK and North Korea are all
  `@dprk`), found in folded text as the rule engine finds them (Chinese as substrings, Latin on
  word boundaries, none inside one of the entity's `exclude` words); the longest alias wins
  where two overlap. Gap aliases (`召见...大使`) are for rules and are not used here.
- Numbers: one decimal form for `1,500`, `1500名`, `1.3万`, `一万`, `8 million`, `800万`;
  values under 100 are dropped (counts of everything), percentages are kept with their sign
  (`5.2%`).
- Days of the year: `10月21日`, `Oct. 21`, `21 October` and `October 21st` become `10-21`.

Each comes back as a term of the language-neutral vocabulary: `@dprk`, `#1500`, `#5.2%`,
`~10-21`, never colliding with a word or a stem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import ahocorasick

from bot.rules.entities import Entity, gap_parts, key
from bot.text import is_cjk

MIN_NUMBER = 100
_MULTIPLIERS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000,
                "千": 1_000, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
                "mn": 1_000_000, "bn": 1_000_000_000, "trillion": 10**12}
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_GROUP_UNITS = (("亿", 100_000_000), ("万", 10_000))
_NUMBER_RE = re.compile(
    r"(?<![0-9a-z.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d])\s*"
    r"(%|万|亿|千|(?:thousand|million|billion|trillion|mn|bn)\b)?", re.IGNORECASE)
_CN_NUMBER_RE = re.compile(r"[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*")
_MONTHS = {name: n for n, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), 1) for name in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH_STEMS = tuple(name for name in _MONTHS if len(name) == 3)  # "sep" finds "sept"
_ZH_DAY_RE = re.compile(r"(?<!\d)(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_EN_DAY_RE = re.compile(
    rf"\b(?:({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b)")


@dataclass(frozen=True, slots=True)
class Mention:
    """One language-neutral term found in a text: its term and what the text said."""

    term: str
    text: str
    start: int = 0
    end: int = 0


class EntityFinder:
    """Finds the catalog's entities in folded text (one automaton over every plain alias)."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._automaton: ahocorasick.Automaton = ahocorasick.Automaton()
        for entity in entities:
            for alias in entity.aliases:  # not the name: `us` is also a pronoun
                if gap_parts(alias) is None and (folded := key(alias)):
                    self._add(folded, "@" + entity.name, excluded=False)
            for word in entity.exclude:
                if (folded := key(word)) and self._automaton.get(folded, None) is None:
                    self._add(folded, "@" + entity.name, excluded=True)
        self._ready = len(self._automaton) > 0
        if self._ready:
            self._automaton.make_automaton()

    def _add(self, folded: str, term: str, *, excluded: bool) -> None:
        """One alias (or exclusion word); one with Chinese at both ends needs no word
        boundary check."""
        chinese = is_cjk(folded[0]) and is_cjk(folded[-1])
        self._automaton.add_word(folded, (folded, term, excluded, chinese))

    def find(self, text: str) -> list[Mention]:
        """Entities named in folded `text`, in order of appearance (longest alias first where
        two overlap; an exclusion word hides the aliases inside it)."""
        if not self._ready or not text:
            return []
        spans = sorted(((end - len(word) + 1, -len(word), word, term, excluded)
                        for end, (word, term, excluded, chinese) in self._automaton.iter(text)
                        if chinese or _bounded(text, end - len(word) + 1, end + 1)))
        found: list[Mention] = []
        reach = 0
        for start, neg_len, word, term, excluded in spans:
            if start < reach:
                continue
            reach = start - neg_len
            if not excluded:
                found.append(Mention(term, word, start, reach))
        return found

    def mask(self, text: str) -> tuple[str, list[Mention]]:
        """`text` with each entity's alias blanked out, and the entities found: the words of
        an alias are not counted again as words."""
        found = self.find(text)
        if not found:
            return text, found
        parts, at = [], 0
        for mention in found:
            parts += [text[at:mention.start], " "]
            at = mention.end
        parts.append(text[at:])
        return "".join(parts), found


def _bounded(text: str, start: int, end: int) -> bool:
    """True when a match at [start, end) is not part of a longer Latin word or number."""
    if is_cjk(text[start]) and is_cjk(text[end - 1]):
        return True
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (_word_char(before) and _word_char(text[start])) and not (
        _word_char(after) and _word_char(text[end - 1]))


def _word_char(ch: str) -> bool:
    return (ch.isalnum() or ch == "_") and not is_cjk(ch)


def numbers(text: str) -> Iterator[Mention]:
    """Numbers of MIN_NUMBER or more (and percentages) in folded `text`, in one form."""
    for match in _NUMBER_RE.finditer(text):
        digits, fraction, unit = match.group(1).replace(",", ""), match.group(2) or "", (
            match.group(3) or "").lower()
        if unit == "%":
            yield Mention(f"#{_plain(digits + fraction)}%", match.group(0).strip())
            continue
        try:
            value = Decimal(digits + fraction) * _MULTIPLIERS.get(unit, 1)
        except InvalidOperation:  # pragma: no cover - the pattern only admits digits
            continue
        if value >= MIN_NUMBER and value == value.to_integral_value():
            yield Mention(f"#{int(value)}", match.group(0).strip())
    for match in _CN_NUMBER_RE.finditer(text) if is_cjk(text) else ():
        count = chinese_number(match.group(0))
        if count is not None and count >= MIN_NUMBER:
            yield Mention(f"#{count}", match.group(0))


def _plain(number: str) -> str:
    """A decimal without trailing zeros: 5.20 -> 5.2, 7.0 -> 7."""
    return number.rstrip("0").rstrip(".") if "." in number else number


def chinese_number(text: str) -> int | None:
    """The value of a number written in Chinese numerals (一万, 两千五百, 一万三千, 三亿);
    None when it is not a well-formed number (一二三 is a list, not a number)."""
    return _grouped(text, 0)


def _grouped(text: str, level: int) -> int | None:
    """The value of `text` split at the group unit of `level` (亿, then 万): the part before
    times the unit plus the part after, each read at the next level."""
    if level == len(_GROUP_UNITS):
        return _below_wan(text)
    unit, size = _GROUP_UNITS[level]
    high, sep, low = text.partition(unit)
    if unit in low:
        return None
    top = _grouped(high, level + 1) if high else (1 if sep else 0)
    rest = _grouped(low, level + 1) if low else 0
    if top is None or rest is None:
        return None
    return top * size + rest if sep else top


def _below_wan(text: str) -> int | None:
    """The value of digits and 十/百/千 (两千五百 -> 2500, 十五 -> 15)."""
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def days(text: str) -> Iterator[Mention]:
    """Calendar days named in folded `text` (month and day, any year) as `~MM-DD`."""
    for match in _ZH_DAY_RE.finditer(text) if "月" in text else ():  # a scan at every digit
        if term := _day_term(int(match.group(1)), int(match.group(2))):
            yield Mention(term, match.group(0))
    if not any(month in text for month in _MONTH_STEMS):
        return  # most texts name no month: skip the costlier pattern
    for match in _EN_DAY_RE.finditer(text):
        month = match.group(1) or match.group(4)
        day = match.group(2) or match.group(3)
        if term := _day_term(_MONTHS[month.lower()], int(day)):
            yield Mention(term, match.group(0))


def _day_term(month: int, day: int) -> str | None:
    return f"~{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None
