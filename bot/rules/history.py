"""When a report's events happen: now (news), or years before it was published (history).

`朝鲜 + 派兵` is a promise to tell an analyst when North Korea sends troops; a feature on the
Korean War (中国人民志愿军出兵朝鲜) has both words and is not news. This module reads the
time references in a report's title and lead and weighs those that point years back against
those that point to the days around its publication:

- back: years at least HISTORY_YEARS before publication (`1894年`, `1949年7月`, `in 1950`,
  `the 2019 strikes`, `the 1990s`, `50年代`), counts of years (`50年前`, `fifty years ago`,
  `半个世纪前`, `上世纪`), anniversaries (`70周年`, `anniversary`), and the events of
  `rules/history.yaml` (the Korean War, 抗美援朝, ...);
- now: the publication year and the one before, days of the week and relative days (`周一`,
  `今天`, `this week`), days of the month without a year (`10月21日`, `Oct. 21`).

A headline that asks what would happen (a question with one of the `hypothetical` words of
`rules/history.yaml`: `Would Kim Jong Un ever send troops ...?`, `如果台海生变，朝鲜会派兵吗？`)
is about no event at all and counts as history: it points nowhere in time that is news.

A reference weighs TITLE_WEIGHT in the title, FIRST_WEIGHT in the lead's first sentence and 1
further on. A report is historical when its title or first sentence points back and what
points back outweighs what points to now: a 2024 report that quotes a 1961 treaty still says
"on Monday", or names the treaty only further on, and stays news.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import ahocorasick
import yaml

from bot.errors import ConfigError
from bot.models import Article
from bot.text import fold, fold_key, is_cjk

HISTORY_FILE = "history.yaml"
HISTORY_YEARS = 2  # events at least this many years before publication are history
TITLE_WEIGHT = 3.0
FIRST_WEIGHT = 2.0
LEAD_CHARS = 600
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9, "十": 10, "半": 0}
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
          "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
_ZH_YEAR_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)\s*年(?!代)")
_ZH_DECADE_RE = re.compile(r"(?<!\d)(?:(1[5-9]|20)?(\d)0)\s*年代")
_ZH_AGO_RE = re.compile(r"(\d{1,3}|[一二两三四五六七八九十半]{1,3})\s*(?:多)?(?:个)?(年|世纪)"
                        r"\s*(?:前|以前|之前)")
_ZH_BACK_RE = re.compile(r"上(?:个)?世纪|数十年前|几十年前|半个世纪|百年前"
                         r"|(\d{1,3}|[一二三四五六七八九十]{1,3})\s*周年")
_EN_YEAR_RE = re.compile(
    r"\b(?:in|since|during|from|until|till|by|of|the|early|late|mid|spring|summer|autumn|fall|"
    r"winter|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\s+\d{1,2},)?)"
    r"\s+(1[5-9]\d\d|20\d\d)\b|\b(1[5-9]\d\d|20\d\d)\s*[-–]\s*(?:1[5-9]|20)?\d\d\b(?![-:])")
_EN_DECADE_RE = re.compile(r"\b(?:the\s+)?(1[5-9]\d0|20[0-2]0)s\b")
_EN_AGO_RE = re.compile(r"(?<!\bin )(?<!\bfor )(?<!\bfirst )\b(\d{1,3}|[a-z]+)\s+years?\s+"
                        r"(?:ago|earlier|before|since)\b")  # not "the first time in 70 years since"
_EN_BACK_RE = re.compile(r"\b(?:decades|a century|half a century|centuries)\s+(?:ago|since)\b|"
                         r"\b(?:a century|half a century)\s+after\b|"
                         r"\banniversary\b|\bin the last century\b")
_ZH_NOW_RE = re.compile(r"(?:本|这|上|今)?(?:周|週|星期|礼拜)[一二三四五六日天]|今[天日晨早晚]"
                        r"|昨[天日晚]|本周|这周|本月|目前|当地时间"
                        r"|(?<!\d)\d{1,2}\s*月\s*\d{1,2}\s*日|日前|近日|周末")
_EN_NOW_RE = re.compile(
    r"\b(?:on\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b(?:today|yesterday|tonight|this week|last week|this month|on \w+day)\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b(?!,?\s*\d{4})")
_ANY_YEAR_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_SENTENCE_END_RE = re.compile(r"[。！？!?]|\.\s")


@dataclass(frozen=True, slots=True)
class HistoricalEvent:
    """A well-known event: its span and its names in any script."""

    name: str
    years: tuple[int, int]
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventTime:
    """When a report's events happen, as its text tells: `historical` when they lie years
    before its publication; `year` the earliest year it points back to (None when it points
    to none); `evidence` the words that decided."""

    historical: bool
    year: int | None = None
    evidence: str = ""


@dataclass(frozen=True, slots=True)
class _Reference:
    back: bool
    weight: float
    year: int | None
    text: str


class History:
    """Reads reports' event times against a list of historical events."""

    def __init__(self, events: Iterable[HistoricalEvent] = (),
                 hypothetical: Iterable[str] = ()) -> None:
        self.events = tuple(events)
        self.hypothetical = tuple(fold_key(w) for w in hypothetical)
        self._automaton: ahocorasick.Automaton = ahocorasick.Automaton()
        for event in self.events:
            for name in event.names:
                if folded := fold_key(name):
                    self._automaton.add_word(folded, (folded, event))
        self._ready = len(self._automaton) > 0
        if self._ready:
            self._automaton.make_automaton()

    def event_time(self, article: Article, *, now: datetime | None = None,
                   folded: tuple[str, str] | None = None) -> EventTime:
        """The report's event time: historical or news, with the evidence. An undated report
        is read as published in the latest year it names (else `now`'s). `folded`: the
        article's title and text already folded (`bot.text.fold`), when the caller has them."""
        title, first, rest, published = _parts(article, now=now, folded=folded)
        if asked := self.asks(title):
            return EventTime(True, None, f"a hypothetical question: {asked}")
        return _decide([*self._references(title, published, TITLE_WEIGHT),
                        *self._references(first, published, FIRST_WEIGHT),
                        *self._references(rest, published, 1.0)])

    def asks(self, title: str) -> str:
        """The hypothetical word of a folded headline that is a question ("" for none)."""
        if "?" not in title:
            return ""
        return next((w for w in self.hypothetical if w in title and _bounded(title, w)), "")

    def historical(self, article: Article, *, now: datetime | None = None,
                   folded: tuple[str, str] | None = None) -> bool:
        """`event_time(...).historical`, cheaper: a report whose title and first sentence
        point to no past time is news, whatever the rest of its lead says, so the rest is read
        only when they do (most reports are news)."""
        title, first, rest, published = _parts(article, now=now, folded=folded, latest=True)
        if self.asks(title):
            return True
        back = [*self._references(title, published, TITLE_WEIGHT, now=False),
                *self._references(first, published, FIRST_WEIGHT, now=False)]
        if not back:  # (nothing points back from the latest year it can be published in)
            return False
        if article.published is None:
            title, first, rest, published = _parts(article, now=now, folded=folded)
        return _decide([*self._references(title, published, TITLE_WEIGHT),
                        *self._references(first, published, FIRST_WEIGHT),
                        *self._references(rest, published, 1.0)]).historical

    def _references(self, text: str, published: int, weight: float, *, now: bool = True
                    ) -> Iterator[_Reference]:
        """Every time reference in folded `text`, each weighing `weight`; with `now=False`
        only those that point back."""
        if not text:
            return
        yield from self._events(text, weight)
        yield from _years(text, published, weight, now=now)
        yield from _spans(text, published, weight)
        if not now:
            return
        for pattern in ((_ZH_NOW_RE,) if is_cjk(text) else (_EN_NOW_RE,)):
            for match in pattern.finditer(text):
                yield _Reference(False, weight, None, match.group(0).strip())

    def _events(self, text: str, weight: float) -> Iterator[_Reference]:
        """The historical events `text` names."""
        if not self._ready:
            return
        seen: set[str] = set()
        for _, (name, event) in self._automaton.iter(text):
            if event.name not in seen and _bounded(text, name):
                seen.add(event.name)
                yield _Reference(True, weight, event.years[0], name)


def _parts(article: Article, *, now: datetime | None, folded: tuple[str, str] | None,
           latest: bool = False) -> tuple[str, str, str, int]:
    """A report's folded title, lead's first sentence and the rest of its lead, and the year
    it was published (an undated report: the latest year it names, else `now`'s; with
    `latest`, `now`'s: whatever points back from the year taken does from that one)."""
    title, text = folded if folded is not None else (fold(article.title),
                                                     fold(article.text[:LEAD_CHARS]))
    lead = text[:LEAD_CHARS]
    end = _SENTENCE_END_RE.search(lead)
    cut = end.end() if end else len(lead)
    if article.published is not None:
        return title, lead[:cut], lead[cut:], article.published.year
    limit = (now or datetime.now(UTC)).year
    if latest:
        return title, lead[:cut], lead[cut:], limit
    years = [int(y) for y in _ANY_YEAR_RE.findall(f"{title}\n{lead}") if int(y) <= limit]
    return title, lead[:cut], lead[cut:], max(years, default=limit)


def _decide(refs: list[_Reference]) -> EventTime:
    """Historical when what points back outweighs what points to now and some of it is in the
    title or the first sentence."""
    back = sum(r.weight for r in refs if r.back)
    ahead = sum(r.weight for r in refs if not r.back)
    lead_back = any(r.back and r.weight >= FIRST_WEIGHT for r in refs)
    if back <= ahead or not lead_back:
        now_refs = [r.text for r in refs if not r.back][:2]
        return EventTime(False, evidence=", ".join(now_refs))
    years = [r.year for r in refs if r.back and r.year is not None]
    evidence = ", ".join(dict.fromkeys(r.text for r in sorted(
        (r for r in refs if r.back), key=lambda r: -r.weight)))[:80]
    return EventTime(True, min(years, default=None), evidence)


def _bounded(text: str, name: str) -> bool:
    """A Latin name matched on word boundaries; Chinese names as substrings."""
    if is_cjk(name):
        return True
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text) is not None


def _years(text: str, published: int, weight: float, *, now: bool = True
           ) -> Iterator[_Reference]:
    """Explicit years and decades: back when at least HISTORY_YEARS before publication (with
    `now=False`, only those). Each pattern runs only where the words it needs occur: `in`
    costs far less than a scan."""
    found: list[tuple[int, str, int]] = []  # (year, text, years before publication that count)
    for pattern in (_ZH_YEAR_RE, _EN_YEAR_RE) if "年" in text else (_EN_YEAR_RE,):
        for match in pattern.finditer(text):
            year = int(next(g for g in match.groups() if g))
            if year <= published + 1:
                found.append((year, match.group(0).strip(), HISTORY_YEARS))
    for match in _EN_DECADE_RE.finditer(text) if "0s" in text else ():
        found.append((int(match.group(1)), match.group(0), HISTORY_YEARS + 9))
    for match in _ZH_DECADE_RE.finditer(text) if "年代" in text else ():
        century = int(match.group(1)) if match.group(1) else 19
        found.append((century * 100 + int(match.group(2)) * 10, match.group(0),
                      HISTORY_YEARS + 9))
    for year, said, span in found:
        if now or published - year >= span:
            yield _Reference(published - year >= span, weight, year, said)


def _spans(text: str, published: int, weight: float) -> Iterator[_Reference]:
    """Counts of years back (`50年前`, `fifty years ago`), centuries, anniversaries."""
    zh_back = "年" in text or "世纪" in text
    for match in _ZH_AGO_RE.finditer(text) if zh_back and "前" in text else ():
        count = _count(match.group(1)) * (100 if match.group(2) == "世纪" else 1)
        if count >= HISTORY_YEARS or match.group(1) == "半":
            yield _Reference(True, weight, published - count if count else None, match.group(0))
    for match in _EN_AGO_RE.finditer(text) if "year" in text else ():
        count = _count(match.group(1))
        if count >= HISTORY_YEARS:
            yield _Reference(True, weight, published - count, match.group(0))
    en_back = "ago" in text or "anniversary" in text or "century" in text \
        or "decades since" in text
    for pattern in (_ZH_BACK_RE,) * zh_back + (_EN_BACK_RE,) * en_back:
        for match in pattern.finditer(text):
            yield _Reference(True, weight, None, match.group(0))


def _count(text: str) -> int:
    """A small count written in digits, Chinese numerals or English words (0 if unreadable)."""
    if text.isdigit():
        return int(text)
    if text in _WORDS:
        return _WORDS[text]
    total, digit = 0, 0
    for ch in text:
        value = _NUMERALS.get(ch)
        if value is None:
            return 0
        if ch == "十":
            total += (digit or 1) * 10
            digit = 0
        else:
            digit = value
    return total + digit


def load_history(path: Path) -> History:
    """The historical events of one file; ConfigError naming file:line for a bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the historical events: {exc}") from exc
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, dict):
        raise ConfigError(f"{path}: expected a mapping under 'events'")
    found: list[HistoricalEvent] = []
    for name, entry in events.items():
        years = entry.get("years") if isinstance(entry, dict) else None
        names = entry.get("names") if isinstance(entry, dict) else None
        if not (isinstance(years, list) and len(years) == 2 and all(
                isinstance(y, int) for y in years) and isinstance(names, list) and names):
            raise ConfigError(f"{path}: event {name!r} needs `years: [start, end]` and a list "
                              "of `names`")
        found.append(HistoricalEvent(str(name), (years[0], years[1]),
                                     tuple(str(n) for n in names)))
    hypothetical = data.get("hypothetical", [])
    if not (isinstance(hypothetical, list) and all(isinstance(w, str) and w.strip()
                                                    for w in hypothetical)):
        raise ConfigError(f"{path}: `hypothetical` must be a list of words")
    return History(found, hypothetical)


@cache
def shipped_history() -> History:
    """The shipped `rules/history.yaml`, or no events when it is missing."""
    from bot.rules.entities import shipped_path

    path = shipped_path().with_name(HISTORY_FILE)
    return load_history(path) if path.is_file() else History()
