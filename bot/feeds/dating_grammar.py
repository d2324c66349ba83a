"""The grammar of stated dates (described in bot/feeds/dating.py): the lead of an article,
the zone its days are counted in, the date forms it matches, and how each match becomes a date
against a reference day.

The text is matched once (`Reading.of`): the matches, their guards, evidence and weekdays do
not depend on the reference. Only turning a match into a date does (`statements`), and that is
calendar arithmetic, so one article is read against many references for the cost of one parse.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta, timezone, tzinfo
from itertools import islice

from bot.models import Article
from bot.text import is_cjk

LEAD_PARAGRAPHS = 3
MIN_PARAGRAPH = 16  # shorter lines (bylines, headings) are read but not counted in the lead
MAX_TEXT = 20_000
MAX_PARAGRAPH = 1_000  # a lead's date is in its first sentences; this bounds the regex work
MAX_EVIDENCE = 48
WEEKDAY_MONTHS = 12  # a weekday with a bare day (`周日(19日)`) picks among this many months
DATELINE, RELATIVE, WEEKDAY, EXPLICIT = 0, 1, 2, 3

CHINA = timezone(timedelta(hours=8))
KOREA_JAPAN = timezone(timedelta(hours=9))
_CITY_ZONES: dict[str, tzinfo] = {
    **dict.fromkeys(("首尔", "首爾", "汉城", "漢城", "平壤", "东京", "東京", "大阪"), KOREA_JAPAN),
    **dict.fromkeys(("SEOUL", "PYONGYANG", "TOKYO", "OSAKA"), KOREA_JAPAN),
    **dict.fromkeys(("BEIJING", "SHANGHAI", "HONG KONG", "TAIPEI", "SINGAPORE"), CHINA),
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?"
                r"|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_MONTH = rf"\b(?P<mon>{_MONTH_NAMES})\b\.?"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EN_WD = r"\b(?:on )?(?P<wd>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
_ZH_WD = (r"(?<![上下每隔前个個一两兩几幾数數日])(?<!日\()(?<!日 \()"  # not `上周一`, `5日(周一)`
          r"(?:本|这|這)?(?:周|週|星期|礼拜|禮拜)(?P<wd>[一二三四五六日天])(?![次十百千万萬个個])")
_ZH_WD_AFTER = r" *\(?(?:周|週|星期|礼拜|禮拜)(?P<wd>[一二三四五六日天])\)?"
_ZH_WEEKDAYS = "一二三四五六日天"
_OFFSETS = {"今": 0, "昨": -1, "today": 0, "yesterday": -1}

_ZH_DATELINE = re.compile(
    r"(?P<who>[^\s()\[\]【】,.;:!?。、\"“”'‘’]{0,20}?)(?<!\d)(?:(?P<y>\d{4})年)?"
    r"(?:(?P<mo>\d{1,2})月)?(?P<d>\d{1,2})日[电電讯訊](?![话話视視影台力网網站器脑腦邮郵池动動子梯])")
_ZH_DATELINE_NEEDS = re.compile("日[电電讯訊]")  # its lazy lead-in tries every offset
_EN_DATELINE = re.compile(
    rf"^(?P<city>[A-Z][A-Z.'\- ]{{1,30}}?)(?:, [A-Z][A-Za-z.' ]{{1,30}}?)?, {_MONTH} ?"
    r"(?P<d>\d{1,2})(?:, (?P<y>\d{4}))?(?: *\([^()]{1,30}\) *[-—–:]?| *[-—–:])", re.MULTILINE)
# A caption starts with a date or FILE, or names a photo anywhere: two patterns, since one
# alternation of both tried the anchored forms at every offset (16 us a paragraph, not 1).
_CAPTION_START = re.compile(
    rf"(?:\d{{4}}年\d{{1,2}}月\d{{1,2}}日|{_MONTH_NAMES}\.? \d{{1,2}}, \d{{4}}"
    rf"|\d{{1,2}} {_MONTH_NAMES} \d{{4}}) *[,、]|FILE *[-—–]")
_CAPTION_WORDS = re.compile(
    "资料照|資料照|资料图|資料圖|图片来源|圖片來源|FILE PHOTO|REUTERS/|AP Photo|Getty Images")
_ZH_BEFORE = re.compile(
    r"(?:上|下|每|隔|个|個|去年|前年|明年|将于|將於|将在|將在|定于|定於|预计|預計|计划|計劃|最迟|最遲"
    r"|截止|持续|持續|为期|為期|长达|長達|连续|連續|过去|過去|第|时至|時至) *$")
_ZH_AFTER = re.compile(
    r"^(?:内|內|起(?![飞飛诉訴草义義])|前(?!往)|之前|以前|后|後|以后|以後|以来|以來|事件|惨案|慘案"
    r"|运动|運動|纪念|紀念|周年|週年|生效|到期|截止)")
_EN_BEFORE = frozenset(("last", "next", "until", "till", "since", "by", "before", "after", "from",
                        "every", "coming", "following", "previous", "through", "black", "cyber",
                        "good", "super", "easter", "ash", "holy", "bloody", "palm"))
_EN_AFTER = frozenset(("attack", "attacks", "anniversary", "massacre", "incident", "uprising",
                       "movement", "deadline", "commission"))
_WORD_BEFORE = re.compile(r"([A-Za-z]+)[^A-Za-z0-9]*$")
_WORD_AFTER = re.compile(r"^[^A-Za-z0-9]*([A-Za-z]+)")

@dataclass(frozen=True, slots=True)
class _Form:
    """One grammar form: its rank, its pattern, how a match becomes a date, whether to guard."""

    rank: int
    pattern: re.Pattern[str]
    read: Callable[[re.Match[str], date], date | None]
    guarded: bool = True
    needs: re.Pattern[str] | None = None  # words a match cannot lack (a quick test first)


@dataclass(frozen=True, slots=True)
class Statement:
    """A date found in the lead, with the key that orders candidates (best first)."""

    key: tuple[int, int, int, int]
    day: date
    evidence: str
    anchored: bool
    consistent: bool


@dataclass(frozen=True, slots=True)
class _Mention:
    """A form's match in the lead, not beside background, before it is read as a date."""

    key: tuple[int, int, int, int]
    match: re.Match[str]
    read: Callable[[re.Match[str], date], date | None]
    evidence: str
    anchored: bool  # the words name a month, a year, or a weekday with its day
    weekday: int | None  # the weekday given with the day, Monday 0


@dataclass(frozen=True, slots=True)
class Reading:
    """An article's lead matched once: the zone it counts days in and its mentions in order."""

    zone: tzinfo
    mentions: tuple[_Mention, ...]

    @classmethod
    def of(cls, article: Article) -> Reading:
        """The reading of `article`'s title and lead."""
        lead = _lead(article)
        return cls(zone=_zone(lead), mentions=tuple(_mentions(lead)))

    def statements(self, ref_day: date) -> Iterator[Statement]:
        """Every date the mentions read against `ref_day`, in the order of the lead and the
        forms; may raise at the ends of the calendar."""
        for mention in self.mentions:
            day = mention.read(mention.match, ref_day)
            if day is not None:
                yield Statement(key=mention.key, day=day, evidence=mention.evidence,
                                anchored=mention.anchored,
                                consistent=mention.weekday is None
                                or day.weekday() == mention.weekday)

    def anchors(self) -> Iterator[tuple[int | None, int | None, int, int | None]]:
        """(year, month, day, weekday) of each anchored mention, None where not stated:
        whatever the reference, an anchored statement falls on a date with this day (and month
        and year, where stated), and a consistent one on its weekday."""
        for mention in self.mentions:
            if mention.anchored:
                groups = mention.match.groupdict()
                year = groups.get("y")
                yield (int(year) if year else None, _month(groups), int(groups.get("d") or 0),
                       mention.weekday)


def _lead(article: Article) -> list[str]:
    """The title and the first few non-caption paragraphs of the text, NFKC-normalized."""
    lead = [_normal(article.title)[:MAX_PARAGRAPH]]
    counted = 0
    for raw in _normal(article.text).splitlines():
        if counted >= LEAD_PARAGRAPHS:
            break
        line = raw.strip()[:MAX_PARAGRAPH]
        if line and not (_CAPTION_START.match(line) or _CAPTION_WORDS.search(line)):
            lead.append(line)
            counted += len(line) >= MIN_PARAGRAPH
    return lead


def _normal(text: str) -> str:
    """NFKC form (full-width digits and brackets folded) of the start of `text`."""
    return unicodedata.normalize("NFKC", text[:MAX_TEXT])


def _zone(lead: Sequence[str]) -> tzinfo:
    """Where the text counts days: a mapped dateline city's zone, else UTC+8 for Chinese."""
    joined = "\n".join(lead)
    dateline = (_ZH_DATELINE.search(joined) if _ZH_DATELINE_NEEDS.search(joined)
                else None) or _EN_DATELINE.search(joined)
    words = dateline.group(0) if dateline else ""
    city = next((zone for name, zone in _CITY_ZONES.items() if name in words), None)
    return city or (CHINA if is_cjk(joined) else UTC)


def _mentions(lead: Sequence[str]) -> Iterator[_Mention]:
    """Every match of any form in the lead not beside background, keyed by rank, paragraph,
    offset and form, in the order of the paragraphs, the forms and the offsets."""
    for where, text in enumerate(lead):
        if _ANY_NEEDS is not None and _ANY_NEEDS.search(text) is None:
            continue  # no form's words: one search where each form's quick test was one
        found: dict[re.Pattern[str], bool] = {}  # a quick test shared by forms runs once
        for order, form in enumerate(_FORMS):
            if form.needs is not None:
                if (has := found.get(form.needs)) is None:
                    has = found[form.needs] = form.needs.search(text) is not None
                if not has:
                    continue
            for match in form.pattern.finditer(text):
                if form.guarded and _beside_background(match):
                    continue
                named = match.groupdict()
                weekday = named.get("wd") if named.get("d") else None
                yield _Mention(key=(form.rank, where, match.start(), order), match=match,
                               read=form.read, evidence=match.group(0).strip()[:MAX_EVIDENCE],
                               anchored=bool(named.get("mo") or named.get("mon")
                                             or named.get("y") or weekday),
                               weekday=_weekday(weekday) if weekday else None)


def _beside_background(match: re.Match[str]) -> bool:
    """True if a word just before or after the match marks background, deadline or a name."""
    before = match.string[max(0, match.start() - 12):match.start()]
    after = match.string[match.end():match.end() + 12]
    if _ZH_BEFORE.search(before) or _ZH_AFTER.search(after):
        return True
    word_before = _WORD_BEFORE.search(before)
    word_after = _WORD_AFTER.search(after)
    return bool((word_before and word_before.group(1).lower() in _EN_BEFORE)
                or (word_after and word_after.group(1).lower() in _EN_AFTER))



def _read_date(match: re.Match[str], ref_day: date) -> date | None:
    """The date a match names; a missing year or month from `ref_day`, a weekday checked."""
    groups = match.groupdict()
    day, month = int(groups["d"]), _month(groups)
    if groups.get("y"):
        return _safe_date(int(groups["y"]), month or 0, day)
    recent = _recent(ref_day + timedelta(days=1), month=month, day=day)
    first = next(recent, None)
    if first is None or not groups.get("wd"):
        return first
    weekday = _weekday(groups["wd"])
    choices = [first, *islice(recent, 1 if month else WEEKDAY_MONTHS - 1)]
    return next((d for d in choices if d.weekday() == weekday), first)


def _read_weekday(match: re.Match[str], ref_day: date) -> date:
    """The latest day with the match's weekday not after `ref_day`."""
    return ref_day - timedelta(days=(ref_day.weekday() - _weekday(match.group("wd"))) % 7)


def _read_relative(match: re.Match[str], ref_day: date) -> date:
    """Today or yesterday, counted from `ref_day`."""
    return ref_day + timedelta(days=_OFFSETS[match.group("rel").lower()])


def _month(groups: dict[str, str | None]) -> int | None:
    """The month a match states, as a number or an English name, if any."""
    if groups.get("mo"):
        return int(groups["mo"] or 0)
    name = groups.get("mon")
    return _MONTHS.index(name[:3].lower()) + 1 if name else None


def _weekday(name: str) -> int:
    """Monday 0 .. Sunday 6, from `一`..`日`/`天` or an English day name."""
    if name in _ZH_WEEKDAYS:
        return min(_ZH_WEEKDAYS.index(name), 6)
    return _WEEKDAYS.index(name[:3].lower())


def _recent(limit: date, *, month: int | None, day: int) -> Iterator[date]:
    """Dates with this day (and month, if given) not after `limit`, latest first."""
    if month is None:
        months = (limit.year * 12 + limit.month - 1 - back for back in range(24))
        tries = ((index // 12, index % 12 + 1) for index in months)
    else:
        tries = ((limit.year - back, month) for back in range(9))
    for year, mon in tries:
        found = _safe_date(year, mon, day)
        if found is not None and found <= limit:
            yield found


def _safe_date(year: int, month: int, day: int) -> date | None:
    """The date, or None if there is no such day."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


_ZH_WEEKDAY_DATE = _ZH_WD + r" *\((?:(?P<mo>\d{1,2})月)?(?P<d>\d{1,2})日\)"
_ZH_DATE_WEEKDAY = r"(?<![\d年])(?P<mo>\d{1,2})月(?P<d>\d{1,2})日" + _ZH_WD_AFTER
_ZH_TODAY_DATE = r"(?P<rel>[今昨])[天日]?\((?:(?P<mo>\d{1,2})月)?(?P<d>\d{1,2})日?\)日?"
_ZH_LOCAL_DATE = r"(?:当地|當地|北京)(?:时间|時間)(?:(?P<mo>\d{1,2})月)?(?P<d>\d{1,2})日"
_EN_WEEKDAY_DATE = rf"{_EN_WD}(?: *\(|,? ){_MONTH} ?(?P<d>\d{{1,2}})\b\)?"
_EN_WEEKDAY_DAY_MONTH = rf"{_EN_WD}(?: *\(|,? )(?P<d>\d{{1,2}}) {_MONTH}(?: (?P<y>\d{{4}})\b)?\)?"
_ZH_RELATIVE = (r"(?<!时至)(?<!時至)(?P<rel>[今昨])[天日晨早晚夜]"
                r"(?!俄罗斯|俄羅斯|美国|美國|头条|頭條|说法|說法|关注|關注|亚洲|亞洲)")
_EN_RELATIVE = r"(?<!USA )(?<!Russia )\b(?P<rel>[Tt]oday|[Yy]esterday)\b"
_ZH_DATE = r"(?<!\d)(?:(?P<y>\d{4})年)?(?P<mo>\d{1,2})月(?P<d>\d{1,2})[日号號]"
_EN_DATE = rf"{_MONTH} ?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (?P<y>\d{{4}})\b)?"
_EN_DAY_MONTH = rf"\b(?P<d>\d{{1,2}}) {_MONTH}(?: (?P<y>\d{{4}})\b)?"
_ZH_DAY = r"(?<![\d月./-])(?P<d>\d{1,2})日"

_EN_MONTHS = re.compile("Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec")
_ZH_WEEK = re.compile("周|週|星期|礼拜|禮拜")
_MONTH_CHAR, _DAY_CHAR, _ZH_NOW = re.compile("月"), re.compile("日"), re.compile("今|昨")
_EN_DAY = re.compile("day")
_FORMS = (  # the grammar in the module docstring; among equals, earlier forms win. `needs`:
    # words a match cannot lack (a text with none of them skips the pattern: same results)
    _Form(DATELINE, _ZH_DATELINE, _read_date, needs=_ZH_DATELINE_NEEDS),
    _Form(DATELINE, _EN_DATELINE, _read_date, needs=_EN_MONTHS),
    _Form(RELATIVE, re.compile(_ZH_WEEKDAY_DATE), _read_date, needs=_ZH_WEEK),
    _Form(RELATIVE, re.compile(_ZH_DATE_WEEKDAY), _read_date, needs=_MONTH_CHAR),
    _Form(RELATIVE, re.compile(_ZH_TODAY_DATE), _read_date, needs=_ZH_NOW),
    _Form(RELATIVE, re.compile(_ZH_LOCAL_DATE), _read_date, needs=re.compile("时间|時間")),
    _Form(RELATIVE, re.compile(_EN_WEEKDAY_DATE), _read_date, needs=_EN_DAY),
    _Form(RELATIVE, re.compile(_EN_WEEKDAY_DAY_MONTH), _read_date, needs=_EN_DAY),
    _Form(WEEKDAY, re.compile(_ZH_WD), _read_weekday, needs=_ZH_WEEK),
    _Form(WEEKDAY, re.compile(_EN_WD), _read_weekday, needs=_EN_DAY),
    _Form(WEEKDAY, re.compile(_ZH_RELATIVE), _read_relative, guarded=False, needs=_ZH_NOW),
    _Form(WEEKDAY, re.compile(_EN_RELATIVE), _read_relative, guarded=False,
          needs=_EN_DAY),  # today, yesterday
    _Form(EXPLICIT, re.compile(_ZH_DATE), _read_date, needs=_MONTH_CHAR),
    _Form(EXPLICIT, re.compile(_EN_DATE), _read_date, needs=_EN_MONTHS),
    _Form(EXPLICIT, re.compile(_EN_DAY_MONTH), _read_date, needs=_EN_MONTHS),
    _Form(EXPLICIT, re.compile(_ZH_DAY), _read_date, needs=_DAY_CHAR),
)
# Every form's `needs` in one alternation (each is an alternation of words, so joined they
# match where any of them does): a text it finds nothing in holds no form's words, so no form
# can match there. Words only, no class first (`[今昨]`): then re scans for their first
# characters, as fast as for one word.
_ANY_NEEDS = (re.compile("|".join(dict.fromkeys(form.needs.pattern for form in _FORMS
                                                if form.needs is not None)))
              if all(form.needs is not None for form in _FORMS) else None)

# a day in an item's link (see bot.feeds.dating): 2024/03/26, 2024-11-30, 2024/mar/26,
# 20240326, 2024/0326, 202306200018 (a day's number)
_LINK_YMD = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})([/_-])([0-9]{1,2})\2([0-9]{1,2})(?![0-9])")
_LINK_MONTH = re.compile(rf"(?<![0-9])((?:19|20)[0-9]{{2}})/({'|'.join(_MONTHS)})[a-z]*/"
                         r"([0-9]{1,2})(?![0-9])")
_LINK_PACKED = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})/?([0-9]{2})([0-9]{2})(?:[0-9]{4})?"
                          r"(?![0-9])")
FIRST_LINK_YEAR = 1995


def link_day(url: str | None, *, latest: date) -> date | None:
    """The day an item's link names in its path (the forms above; `bot.feeds.dating` reads an
    undated item against it), if any: the first that is a real day from FIRST_LINK_YEAR to
    `latest`."""
    if not url:
        return None
    split = url.find("//")
    path = url[url.find("/", split + 2) if split >= 0 else 0:].lower()
    if not any(c.isdigit() for c in path):
        return None
    found = [(m.start(), m.group(1), m.group(3), m.group(4)) for m in _LINK_YMD.finditer(path)]
    found += [(m.start(), m.group(1), str(_MONTHS.index(m.group(2)) + 1), m.group(3))
              for m in _LINK_MONTH.finditer(path)]
    found += [(m.start(), m.group(1), m.group(2), m.group(3)) for m in _LINK_PACKED.finditer(path)]
    for _, year, month, day in sorted(found):
        try:
            stated = date(int(year), int(month), int(day))
        except ValueError:
            continue
        if stated.year >= FIRST_LINK_YEAR and stated <= latest:
            return stated
    return None
