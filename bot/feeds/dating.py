"""A time for every report: the date an undated article's text states, else when it was seen.

Grammar, read on the NFKC form of the title and the lead (the first three non-caption
paragraphs); the best rank wins, then the earliest statement:

0. datelines: `【新华社北京10月21日电】`, `(中央社台北21日电)`, `SEOUL, Oct 21 (Reuters) -`,
   `WASHINGTON, October 21, 2024 —`;
1. statements relative to the reference that name the day: `周一(10月21日)`, `週一(21日)`,
   `今(23)日`, `今天(23日)`, `当地时间21日`, `on Monday (Oct. 21)`, `on Friday, 24 June`;
2. bare weekdays and days relative to the reference: `本周一`, `星期一`, `今天`, `昨日`,
   `on Monday` (the latest Monday not after the reference), `today`, `yesterday`;
3. explicit dates: `2024年10月21日`, `10月21日`, `21日`, `Oct. 21`, `21 October 2024`; one
   more than a month before the reference is background and skipped.

Not read: captions (a line opening with a full date and a comma, or a photo credit), dates
with a background, deadline or event-name word beside them (`上周一`, `去年10月21日`,
`将于11月1日`, `11月1日前`, `周日生效`, `last Monday`, `by Nov. 1`, `Sept. 11 attacks`), and
`10·21`, `9/11`. A missing year or month is the latest one that keeps the date not after the
reference's next day; a weekday given with a date picks the one that falls on it between this
year and the last (a month and day) or among the last WEEKDAY_MONTHS months (a bare day:
`周日(19日)` read in April is 19 January when that was the last Sunday the 19th), else the latest.
Days are counted in UTC+8 for Chinese text, UTC+9 under a Korean or Japanese dateline city,
else UTC; a day other than the reference's is dated at its last minute (a report known only
by its day does not claim to precede the reports of that day that carry a time), never after
the reference.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from itertools import islice

from bot.models import Article

LEAD_PARAGRAPHS = 3
MIN_PARAGRAPH = 16  # shorter lines (bylines, headings) are read but not counted in the lead
MAX_TEXT = 20_000
MAX_PARAGRAPH = 1_000  # a lead's date is in its first sentences; this bounds the regex work
MAX_EVIDENCE = 48
MAX_AGE = timedelta(days=400)
BACKGROUND = timedelta(days=31)
NEAR = timedelta(days=2)  # a stated date this close before a mate's time is that mate's year
MATE_DAYS = 400  # a feed's mates' days tried as references for one undated article
WEEKDAY_MONTHS = 12  # a weekday with a bare day (`周日(19日)`) picks among this many months
DATELINE, RELATIVE, WEEKDAY, EXPLICIT = 0, 1, 2, 3

CHINA = timezone(timedelta(hours=8))
KOREA_JAPAN = timezone(timedelta(hours=9))
_CITY_ZONES: dict[str, tzinfo] = {
    **dict.fromkeys(("首尔", "首爾", "汉城", "漢城", "平壤", "东京", "東京", "大阪"), KOREA_JAPAN),
    **dict.fromkeys(("SEOUL", "PYONGYANG", "TOKYO", "OSAKA"), KOREA_JAPAN),
    **dict.fromkeys(("BEIJING", "SHANGHAI", "HONG KONG", "TAIPEI", "SINGAPORE"), CHINA),
}
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

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
_EN_DATELINE = re.compile(
    rf"^(?P<city>[A-Z][A-Z.'\- ]{{1,30}}?)(?:, [A-Z][A-Za-z.' ]{{1,30}}?)?, {_MONTH} ?"
    r"(?P<d>\d{1,2})(?:, (?P<y>\d{4}))?(?: *\([^()]{1,30}\) *[-—–:]?| *[-—–:])", re.MULTILINE)
_CAPTION = re.compile(
    rf"^(?:\d{{4}}年\d{{1,2}}月\d{{1,2}}日|{_MONTH_NAMES}\.? \d{{1,2}}, \d{{4}}"
    rf"|\d{{1,2}} {_MONTH_NAMES} \d{{4}}) *[,、]|^FILE *[-—–]"
    r"|资料照|資料照|资料图|資料圖|图片来源|圖片來源|FILE PHOTO|REUTERS/|AP Photo|Getty Images")
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
class StatedTime:
    """The time an article's text states (aware UTC) and the words it was read from."""

    time: datetime
    evidence: str
    anchored: bool = False  # the words name a month, a year, or a weekday with its day
    consistent: bool = True  # a weekday given with the day falls on it


@dataclass(frozen=True, slots=True)
class _Form:
    """One grammar form: its rank, its pattern, how a match becomes a date, whether to guard."""

    rank: int
    pattern: re.Pattern[str]
    read: Callable[[re.Match[str], date], date | None]
    guarded: bool = True


@dataclass(frozen=True, slots=True)
class _Statement:
    """A date found in the lead, with the key that orders candidates (best first)."""

    key: tuple[int, int, int, int]
    day: date
    evidence: str
    anchored: bool
    consistent: bool


def stated_time(article: Article, *, reference: datetime) -> StatedTime | None:
    """The publication or event time the title and lead state, read relative to `reference`
    (roughly when the article appeared); None if none is stated or it is out of range."""
    try:
        return _stated(article, _as_utc(reference))
    except (ValueError, OverflowError):  # dates at the ends of the calendar
        return None


def date_articles(articles: Sequence[Article], *, seen: datetime,
                  news: datetime | None = None) -> list[Article]:
    """Every article with a time: its feed's, else the one its text states, else `seen`.

    The text is read relative to the newest feed time among the article's feed mates in
    `articles`, else to `news` (the newest feed time the bot has read lately, when earlier
    than `seen`: while an archive is replayed, the news are older than the clock), else to
    `seen`. A month and day (or a full date, or a weekday with its day: `周一(24日)`) that
    lands more than NEAR before the newest mate, or on another weekday than it says, is read
    again against the mates' earlier days, newest first: the first of them that it falls
    within NEAR of, on its weekday, gives the year (an archive folder spanning years dates
    its undated `3月28日` report in the year its dated mates of late March come from, not in
    the newest one; a live feed, whose mates are all recent, reads it as before)."""
    mates = _days_by_feed(articles)
    fallback = min(news, seen) if news is not None else seen
    return [article if article.published is not None
            else _dated(article, references=mates.get(article.feed_id, [fallback]), seen=seen)
            for article in articles]


def _days_by_feed(articles: Sequence[Article]) -> dict[str, list[datetime]]:
    """Each feed's dated articles' times, the newest of each UTC day, newest day first (at
    most MATE_DAYS days): they tell the undated their year."""
    newest: dict[str, dict[date, datetime]] = {}
    for article in articles:
        if (when := article.published) is not None:
            days = newest.setdefault(article.feed_id, {})
            day = _as_utc(when).date()
            if day not in days or when > days[day]:
                days[day] = when
    return {feed: sorted(days.values(), reverse=True)[:MATE_DAYS]
            for feed, days in newest.items()}


def _dated(article: Article, *, references: Sequence[datetime], seen: datetime) -> Article:
    """`article` dated by what its text states relative to its mates' times (`references`,
    newest first), else by `seen`."""
    found = stated_time(article, reference=references[0])
    if (found.anchored and (references[0] - found.time > NEAR or not found.consistent))\
            if found is not None else len(references) > 1 and _names_a_month(article,
                                                                             references[0]):
        for mate in references[1:]:  # read past the mate's day: a mate only gives the year
            again = stated_time(article, reference=mate + NEAR)
            if again is not None and again.anchored and again.consistent \
                    and -timedelta(days=1) <= mate - again.time <= NEAR:
                found = replace(again, time=min(again.time, references[0]))
                break
    if found is None:
        return replace(article, published=seen, time_source="seen")
    return replace(article, published=found.time, time_source="text",
                   time_evidence=found.evidence)


def _names_a_month(article: Article, reference: datetime) -> bool:
    """True if the lead states a month, a year or a weekday with its day anywhere (whether
    or not it was kept)."""
    try:
        return any(s.anchored for s in _statements(_lead(article), _as_utc(reference).date()))
    except (ValueError, OverflowError):
        return False


def _as_utc(when: datetime) -> datetime:
    """`when` as aware UTC; a naive time is taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _stated(article: Article, reference: datetime) -> StatedTime | None:
    """stated_time on an aware UTC reference; may raise at the ends of the calendar."""
    lead = _lead(article)
    zone = _zone(lead)
    best = _choose(lead, reference.astimezone(zone).date())
    if best is None:
        return None
    when = _time_of(best.day, reference=reference, zone=zone)
    if reference - when > MAX_AGE:
        return None
    return StatedTime(time=when, evidence=best.evidence, anchored=best.anchored,
                      consistent=best.consistent)


def _lead(article: Article) -> list[str]:
    """The title and the first few non-caption paragraphs of the text, NFKC-normalized."""
    lead = [_normal(article.title)[:MAX_PARAGRAPH]]
    counted = 0
    for raw in _normal(article.text).splitlines():
        if counted >= LEAD_PARAGRAPHS:
            break
        line = raw.strip()[:MAX_PARAGRAPH]
        if line and not _CAPTION.search(line):
            lead.append(line)
            counted += len(line) >= MIN_PARAGRAPH
    return lead


def _normal(text: str) -> str:
    """NFKC form (full-width digits and brackets folded) of the start of `text`."""
    return unicodedata.normalize("NFKC", text[:MAX_TEXT])


def _zone(lead: Sequence[str]) -> tzinfo:
    """Where the text counts days: a mapped dateline city's zone, else UTC+8 for Chinese."""
    joined = "\n".join(lead)
    dateline = _ZH_DATELINE.search(joined) or _EN_DATELINE.search(joined)
    words = dateline.group(0) if dateline else ""
    city = next((zone for name, zone in _CITY_ZONES.items() if name in words), None)
    return city or (CHINA if _CJK_RE.search(joined) else UTC)


def _choose(lead: Sequence[str], ref_day: date) -> _Statement | None:
    """The article's own date among those the lead states, skipping background and future."""
    limit = ref_day + timedelta(days=1)
    found = [s for s in _statements(lead, ref_day) if s.day <= limit
             and not (s.key[0] == EXPLICIT and ref_day - s.day > BACKGROUND)]
    return min(found, key=lambda s: s.key, default=None)


def _statements(lead: Sequence[str], ref_day: date) -> Iterator[_Statement]:
    """Every date any form reads in the lead, keyed by rank, paragraph, offset and form."""
    for where, text in enumerate(lead):
        for order, form in enumerate(_FORMS):
            for match in form.pattern.finditer(text):
                if form.guarded and _beside_background(match):
                    continue
                day = form.read(match, ref_day)
                if day is not None:
                    named = match.groupdict()
                    weekday = named.get("wd") if named.get("d") else None
                    yield _Statement(key=(form.rank, where, match.start(), order), day=day,
                                     evidence=match.group(0).strip()[:MAX_EVIDENCE],
                                     anchored=bool(named.get("mo") or named.get("mon")
                                                   or named.get("y") or weekday),
                                     consistent=not weekday
                                     or day.weekday() == _weekday(weekday))


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


def _time_of(day: date, *, reference: datetime, zone: tzinfo) -> datetime:
    """The reference itself on the reference's day, else that day's last minute; never later."""
    if day == reference.astimezone(zone).date():
        return reference
    return min(datetime.combine(day, time(23, 59), zone).astimezone(UTC), reference)


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

_FORMS = (  # the grammar in the module docstring; among equals, earlier forms win
    _Form(DATELINE, _ZH_DATELINE, _read_date),
    _Form(DATELINE, _EN_DATELINE, _read_date),
    _Form(RELATIVE, re.compile(_ZH_WEEKDAY_DATE), _read_date),
    _Form(RELATIVE, re.compile(_ZH_DATE_WEEKDAY), _read_date),
    _Form(RELATIVE, re.compile(_ZH_TODAY_DATE), _read_date),
    _Form(RELATIVE, re.compile(_ZH_LOCAL_DATE), _read_date),
    _Form(RELATIVE, re.compile(_EN_WEEKDAY_DATE), _read_date),
    _Form(RELATIVE, re.compile(_EN_WEEKDAY_DAY_MONTH), _read_date),
    _Form(WEEKDAY, re.compile(_ZH_WD), _read_weekday),
    _Form(WEEKDAY, re.compile(_EN_WD), _read_weekday),
    _Form(WEEKDAY, re.compile(_ZH_RELATIVE), _read_relative, guarded=False),
    _Form(WEEKDAY, re.compile(_EN_RELATIVE), _read_relative, guarded=False),
    _Form(EXPLICIT, re.compile(_ZH_DATE), _read_date),
    _Form(EXPLICIT, re.compile(_EN_DATE), _read_date),
    _Form(EXPLICIT, re.compile(_EN_DAY_MONTH), _read_date),
    _Form(EXPLICIT, re.compile(_ZH_DAY), _read_date),
)
