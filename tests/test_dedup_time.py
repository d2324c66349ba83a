"""Time in the same-story score: across languages, reports a day or more away from a story
need more to join."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.dedup.features import Features
from bot.dedup.index import StoryIndex
from bot.dedup.scoring import LATE_WEIGHT, TIME_WEIGHT, Profile, evaluate
from bot.feeds.dating import date_articles
from bot.feeds.seeds import read_seed_folder
from bot.pipeline import replay_order
from bot.store import Store
from tests.conftest import REPO

WINDOW = 72 * 3600
HOUR = 3600.0
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _feats(language: str = "en") -> Features:
    return Features(vector={"arrest": 0.8, "court": 0.6}, salient=("arrest", "court"), lead="",
                    language=language)


@pytest.mark.parametrize(("hours", "late_days"), [(0, 0.0), (12, 0.0), (24, 0.0), (36, 0.5),
                                                  (60, 1.5)])
def test_past_a_day_every_hour_costs_more_across_languages(hours: float, late_days: float
                                                           ) -> None:
    """Within one language only the window-wide slope counts, however late (the cosine tells
    a rewrite from a follow-up); against the reports of another language, LATE_WEIGHT per day
    more past the first day, on either side of the story's span."""
    story = Profile.of(_feats("zh"), time=0.0).add(_feats("zh"), time=2 * HOUR)
    slope = TIME_WEIGHT * hours / 72
    for language, penalty in (("zh", slope), ("en", slope + LATE_WEIGHT * late_days)):
        later = evaluate(_feats(language), story, time=2 * HOUR + hours * HOUR, window=WINDOW)
        earlier = evaluate(_feats(language), story, time=-hours * HOUR, window=WINDOW)
        for evidence in (later, earlier):
            assert evidence.penalty == pytest.approx(penalty)
            assert evidence.score == pytest.approx(1.0 - penalty)
        assert f"time {penalty:.2f}" in later.reason(0.3)


async def test_a_new_development_two_days_later_is_a_new_story(store: Store) -> None:
    """Imran Khan's arrest (9 May 2023, three reports) and the court's order to free him two
    days later (three reports, which recall the arrest): replayed as the service dates them,
    no story mixes the two, though the ruling's reports share the arrest's names and words."""
    folder = REPO / "tests" / "data" / "heldout2"
    reports = [a for a in read_seed_folder(folder, feed_id="heldout2")[0]
               if Path(a.path or "").name.startswith(("ho2_imranarrest_", "ho2_imranfree_"))]
    assert len(reports) == 6
    index = StoryIndex(store, window_seconds=WINDOW, seen_seconds=30 * 86_400)
    stories: dict[str, set[str]] = {}
    for article in replay_order(date_articles(reports, seen=NOW)):
        placed = await index.place(article, now=NOW)
        stories.setdefault(placed.story_id, set()).add(Path(article.path or "").name.split("_")[1])
    assert all(len(events) == 1 for events in stories.values()), stories
