"""The day an article states its event happened, for telling one actor's successive events apart.

Reports of one event usually say its day in the title or lead (`10月7日`, `周一(10月21日)`,
`on Friday, Oct. 11`); two events of one actor a week apart (two quakes in one province, a
verdict and its sentencing) say different days even when their words agree. Only a dating
statement that names its day for certain counts (`StatedTime.anchored`: a month, a year, or a
weekday with its day, read relative to the article's published time): a bare `on Sunday` read
at the wrong instant would name the wrong day. An article stamped before its event (every report
of a backlog at one time) reads a later month and day in the year before, where a weekday given
with it may not fall: days are therefore compared as days of the year, and such a statement
still counts though not `consistent`. The story profile keeps its members' event days
(bot.dedup.scoring.Profile), and an article whose event day lies more than EVENT_SLACK_DAYS from
all of them is scored down (scoring.EVENT_WEIGHT); nothing happens when either side states none.
"""

from __future__ import annotations

from bot.feeds.dating import stated_time
from bot.models import Article

DAY_SECONDS = 86_400
EVENT_SLACK_DAYS = 2
YEAR_DAYS = 365


def event_day(article: Article) -> int | None:
    """The article's event day (days since the epoch, UTC) as its title and lead state it,
    read relative to its published time; None when undated or no day is named for certain."""
    if article.published is None:
        return None
    stated = stated_time(article, reference=article.published)
    if stated is None or not stated.anchored:
        return None
    return int(stated.time.timestamp() // DAY_SECONDS)


def days_apart(day: int | None, days: tuple[int, ...]) -> int:
    """How many days `day` lies beyond EVENT_SLACK_DAYS from every one of `days` (0 when it
    is within that of one, or either side has none)."""
    if day is None or not days:
        return 0
    nearest = min(_circular(day - other) for other in days)
    return nearest if nearest > EVENT_SLACK_DAYS else 0


def _circular(difference: int) -> int:
    """Days between two days of the year, whichever years they fell in: an article read at the
    wrong instant puts a month and day in the wrong year (a year apart, the same day)."""
    off = abs(difference) % YEAR_DAYS
    return min(off, YEAR_DAYS - off)
