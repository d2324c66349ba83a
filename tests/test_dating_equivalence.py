"""date_articles against the straightforward loop it replaced (bench/dating.py
`old_date_articles`: an undated report's lead read again in full with `stated_time` against
each of its feed's mates' days, newest first). `date_articles` matches the lead once and reads
only the mates whose day a stated date could fit; the articles must be identical, on generated
feeds of mates spanning years and leads stating month and day, full dates, weekdays with their
day (right and wrong), datelines and relative days in zh-Hans, zh-Hant and English.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bench.dating import old_date_articles
from bot.feeds.dating import MATE_DAYS, _days_by_feed, date_articles, stated_time
from bot.models import Article

SEEN = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
FIRST, LAST = date(2019, 1, 1), date(2026, 11, 30)
_ZONES = (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZH_DAYS = "一二三四五六日"
_FILLER = {
    "hans": "外交部发言人表示,中方一贯主张通过对话协商解决分歧,有关各方应保持冷静克制。",
    "hant": "外交部發言人表示,各方應保持冷靜克制,避免採取可能導致局勢升級的行動。",
    "en": "The ministry said talks would continue and urged all sides to show restraint.",
}


def _statement(rng: random.Random, script: str, day: date) -> str:
    """One way of stating `day` (or a weekday that may not be its own) in `script`."""
    y, m, d = day.year, day.month, day.day
    wd = day.weekday() if rng.random() < 0.7 else rng.randrange(7)  # right, mostly
    mon, month, weekday = _EN_MONTHS[m - 1][:3], _EN_MONTHS[m - 1], _EN_DAYS[wd]
    zh = {"hans": [f"{m}月{d}日", f"{y}年{m}月{d}日", f"周{_ZH_DAYS[wd]}({d}日)",
                   f"周{_ZH_DAYS[wd]}({m}月{d}日)", f"{m}月{d}日星期{_ZH_DAYS[wd]}",
                   f"【新华社北京{m}月{d}日电】", f"新华社首尔{m}月{d}日电", f"当地时间{d}日",
                   f"今({d})日", f"{d}日", "本周一", "星期二", "今天", "昨日", f"去年{m}月{d}日",
                   f"将于{m}月{d}日"],
          "hant": [f"{m}月{d}號", f"{y}年{m}月{d}日", f"週{_ZH_DAYS[wd]}（{d}日）",
                   f"（中央社台北{d}日電）", f"（中央社記者台北{m}月{d}日電）", f"今（{d}）日",
                   f"{m}月{d}日", "週三", "昨天"],
          "en": [f"{mon}. {d}", f"{month} {d}, {y}", f"{d} {month} {y}", f"{d} {month}",
                 f"on {weekday} ({mon}. {d})", f"on {weekday}, {d} {month}",
                 f"SEOUL, {mon} {d} (Reuters) -", f"WASHINGTON, {month} {d}, {y} —",
                 "on Monday", "today", "yesterday", f"last {weekday}", f"by {mon}. {d}"]}
    return rng.choice(zh[script])


def _lead(rng: random.Random, script: str, days: list[date]) -> tuple[str, str]:
    """A title and text of 1-3 paragraphs stating 0-3 dates, most near `days`."""
    def near() -> date:
        if days and rng.random() < 0.8:
            return rng.choice(days) + timedelta(days=rng.randint(-3, 2))
        return FIRST + timedelta(days=rng.randrange((LAST - FIRST).days))

    parts = [_statement(rng, script, near()) for _ in range(rng.randint(0, 3))]
    filler = _FILLER[script]
    paragraphs = [" ".join(rng.sample([*parts, filler], k=len(parts) + 1))
                  for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:  # a dateline or statement opening the report
        paragraphs[0] = _statement(rng, script, near()) + " " + paragraphs[0]
    title = _statement(rng, script, near()) + filler[:12] if rng.random() < 0.3 else filler[:20]
    return title, "\n".join(paragraphs)


def _feed(rng: random.Random, feed: str) -> list[Article]:
    """A feed's dated mates (none, a live week, or an archive over years) and undated reports."""
    shape = rng.choice(["none", "live", "archive", "archive", "dense"])
    if shape == "none":
        days: list[date] = []
    elif shape == "live":
        end = FIRST + timedelta(days=rng.randrange((LAST - FIRST).days))
        days = [end - timedelta(days=n) for n in range(rng.randint(1, 8))]
    elif shape == "dense":  # a day every day or two: MATE_DAYS of them and more
        end = LAST - timedelta(days=rng.randrange(400))
        days = [end - timedelta(days=n * rng.randint(1, 2)) for n in range(MATE_DAYS + 20)]
    else:
        days = sorted({FIRST + timedelta(days=rng.randrange((LAST - FIRST).days))
                       for _ in range(rng.randint(2, 120))})
    mates = [Article(outlet="t", title=f"{feed} {n}", text="", feed_id=feed,
                     published=datetime.combine(day, datetime.min.time(), UTC).replace(
                         hour=rng.randrange(24), minute=rng.randrange(60)).astimezone(
                         rng.choice(_ZONES)))
             for n, day in enumerate(days)]
    script = rng.choice(["hans", "hant", "en"])
    undated = [Article(outlet="t", title=title, text=text, feed_id=feed)
               for title, text in (_lead(rng, script, days) for _ in range(rng.randint(3, 12)))]
    return [*mates, *undated]


@pytest.mark.parametrize("seed", range(12))
def test_date_articles_is_the_old_loop(seed: int) -> None:
    """On generated feeds, date_articles gives exactly what re-reading every mate's day gave,
    and the loop does take an older mate's year often enough for that to mean something."""
    rng = random.Random(seed)
    articles = [a for n in range(12) for a in _feed(rng, f"f{n}")]
    rng.shuffle(articles)
    news = rng.choice([None, SEEN - timedelta(days=700), SEEN + timedelta(hours=3)])
    got = date_articles(articles, seen=SEEN, news=news)
    assert got == old_date_articles(articles, seen=SEEN, news=news)
    mates = _days_by_feed(articles)
    by_older = 0
    for before, after in zip(articles, got, strict=True):
        if before.published is None and before.feed_id in mates:
            newest = stated_time(before, reference=mates[before.feed_id][0])
            by_older += after.time_source == "text" and (
                newest is None or newest.time != after.published)
    assert by_older >= 2, by_older
