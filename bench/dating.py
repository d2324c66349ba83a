"""Dating an undated report by its feed mates (`bot.feeds.dating.date_articles`): time per
undated article with MATE_DAYS dated mates, against the loop before (kept below as
`old_date_articles`: the lead re-read with `stated_time` against every mate's day), in the
same run, and the check that both give the same articles.

    .venv/bin/python bench/dating.py [--repeat 7]

Cases, each one undated report among 400 dated mates of one feed (one mate every third day,
back from 2025-06-14, so over three years and a quarter) with a long lead (three paragraphs of
~900 characters without another date):
far, no mate fits: `7月5日` in a report whose mates skip every 5 July (the old loop reads it
against all 400 mates: the worst case); far, an older mate fits: `3月28日`, the mates of late
March 2025 give the year; far in English: `BANGKOK, March 28 (Reuters) -`; a weekday that
does not fit: `周一(24日)`; near: `6月13日` (read once against the newest mate, both ways).
Each figure is the time of dating the one undated report given its feed's mates' days (the
grouping of the mates by day, once per batch, is printed apart), the least CPU time of
--repeat runs, new and old alternating; the old/new ratio is per case. Both ways must give
the same articles (checked first).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot.feeds.dating import NEAR, _dated, _days_by_feed, date_articles, stated_time
from bot.feeds.dating_grammar import Reading
from bot.models import Article

SEEN = datetime(2026, 12, 6, 8, tzinfo=UTC)
NEWEST = datetime(2025, 6, 14, 8, tzinfo=UTC)

# ---- the loop before: every mate's day a fresh stated_time (the lead matched again each time)


def old_date_articles(articles: Sequence[Article], *, seen: datetime,
                      news: datetime | None = None) -> list[Article]:
    """date_articles as it was: the far statement re-read in full against each mate's day."""
    mates = _days_by_feed(articles)
    fallback = min(news, seen) if news is not None else seen
    return [article if article.published is not None
            else _old_dated(article, mates.get(article.feed_id, [fallback]), seen)
            for article in articles]


def _old_dated(article: Article, references: Sequence[datetime], seen: datetime) -> Article:
    """bot.feeds.dating._dated before: stated_time per mate, newest first."""
    found = stated_time(article, reference=references[0])
    if (found.anchored and (references[0] - found.time > NEAR or not found.consistent))\
            if found is not None else len(references) > 1 and _old_names_a_month(article,
                                                                                 references[0]):
        for mate in references[1:]:
            again = stated_time(article, reference=mate + NEAR)
            if again is not None and again.anchored and again.consistent \
                    and -timedelta(days=1) <= mate - again.time <= NEAR:
                found = replace(again, time=min(again.time, references[0]))
                break
    if found is None:
        return replace(article, published=seen, time_source="seen")
    return replace(article, published=found.time, time_source="text",
                   time_evidence=found.evidence)


def _old_names_a_month(article: Article, reference: datetime) -> bool:
    """Any anchored statement in the lead read against the reference's UTC day."""
    day = (reference if reference.tzinfo else reference.replace(tzinfo=UTC)).astimezone(UTC)
    try:
        return any(s.anchored for s in Reading.of(article).statements(day.date()))
    except (ValueError, OverflowError):
        return False


# ---- the cases

_FILLER = ("外交部发言人在例行记者会上表示,中方一贯主张通过对话协商解决分歧,"
           "有关各方应保持冷静克制,避免采取可能导致局势升级的行动。据报道,代表团已于当天抵达,"
           "双方随后举行了会谈,就共同关心的问题深入交换意见。")


def _mates(skip: tuple[int, int] | None = None) -> list[Article]:
    """400 dated mates of feed `a`, one every third day back from NEWEST (none on `skip`)."""
    times: list[datetime] = []
    when = NEWEST
    while len(times) < 400:
        if skip is None or abs((date(when.year, *skip) - when.date()).days) > 3:
            times.append(when)
        when -= timedelta(days=3)
    return [Article(outlet="bench", title=f"Dated {n}", text="",
                    feed_id="a", published=at)
            for n, at in enumerate(times)]


def _report(title: str, opening: str) -> Article:
    """An undated report of feed `a`: `opening`, then a long lead."""
    paragraphs = [opening + _FILLER * 5, _FILLER * 6, _FILLER * 6]
    return Article(outlet="bench", title=title, text="\n".join(paragraphs), feed_id="a")


CASES: list[tuple[str, Callable[[], list[Article]]]] = [
    ("far, no mate fits (7月5日)",
     lambda: [*_mates(skip=(7, 5)), _report("议会表决", "议会7月5日表决通过法案。")]),
    ("far, an older mate fits (3月28日)",
     lambda: [*_mates(), _report("缅甸强震", "缅甸3月28日发生强震。")]),
    ("far, English dateline",
     lambda: [*_mates(), _report("Strong quake hits Myanmar",
                                 "BANGKOK, March 28 (Reuters) - A strong earthquake hit.")]),
    ("weekday that does not fit (周一(24日))",
     lambda: [*_mates(), _report("保守党黨魁", "英國前財相周一(24日)自動當選。")]),
    ("near (6月13日)",
     lambda: [*_mates(), _report("议会表决", "议会6月13日表决通过法案。")]),
]


def _best(run: Callable[[], object], repeat: int) -> float:
    """The least CPU time (this process's: on a shared machine wall time swings with the
    load) of `repeat` runs of `run`, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def _pair(new: Callable[[], object], old: Callable[[], object],
          repeat: int) -> tuple[float, float]:
    """_best of `new` and of `old`, their runs alternating so that both see the same load."""
    times = [(_best(new, 1), _best(old, 1)) for _ in range(repeat)]
    return min(t[0] for t in times), min(t[1] for t in times)


def main() -> None:
    """Print, per case, ms per undated article new and old and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    report = CASES[0][1]()[-1]
    parse = _best(lambda: Reading.of(report), args.repeat)
    mates = CASES[0][1]()
    grouping = _best(lambda: _days_by_feed(mates), args.repeat)
    print(f"one match of the long lead {parse * 1000:.2f} ms; grouping 400 mates by day "
          f"{grouping * 1000:.2f} ms (once per batch, not in the figures below)")
    for name, build in CASES:
        articles = build()
        dated = date_articles(articles, seen=SEEN)
        assert dated == old_date_articles(articles, seen=SEEN), name
        report, references = articles[-1], _days_by_feed(articles)["a"]
        new, old = _pair(lambda r=report, refs=references: _dated(r, references=refs, seen=SEEN),
                         lambda r=report, refs=references: _old_dated(r, refs, SEEN), args.repeat)
        print(f"{name:<40} new {new * 1000:7.2f} ms  old {old * 1000:8.2f} ms  "
              f"old/new {old / new:6.1f}x  -> {dated[-1].published} {dated[-1].time_evidence!r}")

if __name__ == "__main__":
    main()
