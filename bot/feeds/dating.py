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

An undated item whose link carries its day (`/2024/03/26/`, `-2024-11-30/`, `/2024/mar/26/`,
`/20240326`, `story20250909-`, `202306200018.aspx`: many outlets put it there) is read against
that day rather than its mates': the link says the year and month its `19日` or `on Tuesday`
belongs to, which a feed or folder spanning years cannot; a statement not within NEAR before the
link's day is not its own, and the link's day stands.

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
the reference. The forms and their readers are in bot/feeds/dating_grammar.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.feeds.dating_grammar import EXPLICIT, Reading, Statement, link_day
from bot.models import Article

MAX_AGE = timedelta(days=400)
BACKGROUND = timedelta(days=31)
NEAR = timedelta(days=2)  # a stated date this close before a mate's time is that mate's year
MATE_DAYS = 400  # a feed's mates' days tried as references for one undated article
SLACK_DAYS = 4  # days either side of a mate's UTC day where a date it could fit may fall


@dataclass(frozen=True, slots=True)
class StatedTime:
    """The time an article's text states (aware UTC) and the words it was read from."""

    time: datetime
    evidence: str
    anchored: bool = False  # the words name a month, a year, or a weekday with its day
    consistent: bool = True  # a weekday given with the day falls on it


def stated_time(article: Article, *, reference: datetime) -> StatedTime | None:
    """The publication or event time the title and lead state, read relative to `reference`
    (roughly when the article appeared); None if none is stated or it is out of range."""
    return _stated(Reading.of(article), reference)


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
    """`article` dated by what its text states relative to its link's day or its mates' times
    (`references`, newest first), else by `seen`. The lead is matched once; each mate only
    reads it again."""
    reading = Reading.of(article)
    day = link_day(article.url, latest=_as_utc(seen).date() + timedelta(days=1))
    if day is not None:
        return _by_link(article, reading, day, seen=seen)
    found = _stated(reading, references[0])
    if (found.anchored and (references[0] - found.time > NEAR or not found.consistent))\
            if found is not None else len(references) > 1 and _names_a_month(reading,
                                                                             references[0]):
        near = _near_days(reading, references[1:])
        for mate in references[1:]:  # read past the mate's day: a mate only gives the year
            reference = mate + NEAR  # (for every mate: at the calendar's end it raises as it did)
            if mate.tzinfo is not None and _as_utc(mate).toordinal() not in near:
                continue  # no anchored statement can fit this mate (a naive one is read)
            again = _stated(reading, reference)
            if again is not None and again.anchored and again.consistent \
                    and -timedelta(days=1) <= mate - again.time <= NEAR:
                found = replace(again, time=min(again.time, references[0]))
                break
    if found is None:
        return replace(article, published=seen, time_source="seen")
    return replace(article, published=found.time, time_source="text",
                   time_evidence=found.evidence)


def _by_link(article: Article, reading: Reading, day: date, *, seen: datetime) -> Article:
    """`article` dated by its text read against its link's `day` (the end of that day where
    the text counts days), else at that day's last minute."""
    reference = min(datetime.combine(day, time(23, 59), reading.zone).astimezone(UTC),
                    _as_utc(seen))
    found = _stated(reading, reference)
    if found is not None and reference - found.time <= NEAR + timedelta(days=1):
        return replace(article, published=found.time, time_source="text",
                       time_evidence=f"{found.evidence} (link: {day.isoformat()})")
    return replace(article, published=reference, time_source="text",
                   time_evidence=f"link: {day.isoformat()}")


def _near_days(reading: Reading, mates: Sequence[datetime]) -> set[int]:
    """The ordinals of the UTC days of mates that an anchored statement of `reading` could fit
    (land between a day after and NEAR before the mate, on its weekday): a superset, as every
    anchored date has its mention's day, month and year where stated, a consistent one its
    weekday, and a fitting one is within a day or two of the mate's UTC day in any zone. The
    mates of other days need not be read: `_dated` would not take them."""
    if not mates or not (anchors := set(reading.anchors())):
        return set()
    years = [_as_utc(mate).year for mate in mates if mate.tzinfo is not None] or [2000]
    span = range(max(min(years) - 1, 1), min(max(years) + 1, 9999) + 1)
    near: set[int] = set()
    for year, month, day, weekday in anchors:
        for y in [year] if year is not None else span:
            for m in [month] if month is not None else range(1, 13):
                try:
                    stated = date(y, m, day)
                except ValueError:  # no such day: the mention reads as no date
                    continue
                if weekday is None or stated.weekday() == weekday:  # else not consistent
                    ordinal = stated.toordinal()
                    near.update(range(ordinal - SLACK_DAYS, ordinal + SLACK_DAYS + 1))
    return near


def _names_a_month(reading: Reading, reference: datetime) -> bool:
    """True if the lead states a month, a year or a weekday with its day anywhere (whether
    or not it was kept)."""
    try:
        return any(s.anchored for s in reading.statements(_as_utc(reference).date()))
    except (ValueError, OverflowError):
        return False


def _as_utc(when: datetime) -> datetime:
    """`when` as aware UTC; a naive time is taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _stated(reading: Reading, reference: datetime) -> StatedTime | None:
    """stated_time from the reading; None also for dates at the ends of the calendar."""
    try:
        reference = _as_utc(reference)
        best = _choose(reading, reference.astimezone(reading.zone).date())
        if best is None:
            return None
        when = _time_of(best.day, reference=reference, zone=reading.zone)
    except (ValueError, OverflowError):
        return None
    if reference - when > MAX_AGE:
        return None
    return StatedTime(time=when, evidence=best.evidence, anchored=best.anchored,
                      consistent=best.consistent)


def _choose(reading: Reading, ref_day: date) -> Statement | None:
    """The article's own date among those the lead states, skipping background and future."""
    limit = ref_day + timedelta(days=1)
    found = [s for s in reading.statements(ref_day) if s.day <= limit
             and not (s.key[0] == EXPLICIT and ref_day - s.day > BACKGROUND)]
    return min(found, key=lambda s: s.key, default=None)


def _time_of(day: date, *, reference: datetime, zone: tzinfo) -> datetime:
    """The reference itself on the reference's day, else that day's last minute; never later."""
    if day == reference.astimezone(zone).date():
        return reference
    return min(datetime.combine(day, time(23, 59), zone).astimezone(UTC), reference)
