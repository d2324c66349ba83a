"""Across languages: a story with reports in the article's language judges it by those; the
lowered cross-language bar applies only to a story with none."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.dedup.features import Features
from bot.dedup.index import DEFAULT_THRESHOLD, StoryIndex
from bot.dedup.scoring import CROSS_FACTOR, Profile, evaluate
from bot.feeds.dating import date_articles
from bot.feeds.seeds import read_seed_folder
from bot.pipeline import replay_order
from bot.store import Store
from tests.conftest import REPO

WINDOW = 72 * 3600
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _feats(vector: dict[str, float], language: str) -> Features:
    return Features(vector=vector, salient=tuple(vector), lead="", language=language)


def test_the_reports_in_the_articles_language_decide() -> None:
    """An English report that misses the story's English report (cosine 0.2, under the bar)
    is not let in by the lowered bar against the story's Chinese reports (cosine 0.6, over
    it); against a story with Chinese reports only, that bar applies."""
    english = _feats({"arson": 1.0}, "en")
    chinese = _feats({"olymp": 0.6, "pari": 0.8}, "zh")
    article = _feats({"arson": 0.2, "olymp": 0.6, "pari": 0.7746}, "en")
    both = Profile.of(english, time=0.0).add(chinese, time=0.0)
    judged = evaluate(article, both, time=0.0, window=WINDOW)
    assert judged.factor == 1.0
    assert round(judged.cosine, 2) == 0.2
    assert not judged.passes(DEFAULT_THRESHOLD)
    across = evaluate(article, Profile.of(chinese, time=0.0), time=0.0, window=WINDOW)
    assert across.factor == CROSS_FACTOR
    assert across.passes(DEFAULT_THRESHOLD)
    assert "en report, zh story" in across.reason(DEFAULT_THRESHOLD)


async def test_two_events_of_one_day_with_the_same_actors_stay_apart(store: Store) -> None:
    """The rail arson in France on the morning of the Paris Olympics' opening (26 July 2024,
    four reports in English, Simplified and Traditional Chinese) and the opening ceremony
    that evening (three reports, the English one recalling the arson): replayed as the
    service dates them, no story mixes the two, and each event's reports make one story."""
    folder = REPO / "tests" / "data" / "heldout3"
    reports = [a for a in read_seed_folder(folder, feed_id="heldout3")[0]
               if Path(a.path or "").name.startswith(("ho3_sncf_", "ho3_parisopening_"))]
    assert len(reports) == 7
    index = StoryIndex(store, window_seconds=WINDOW, seen_seconds=30 * 86_400)
    stories: dict[str, set[str]] = {}
    for article in replay_order(date_articles(reports, seen=NOW)):
        placed = await index.place(article, now=NOW)
        stories.setdefault(placed.story_id, set()).add(Path(article.path or "").name.split("_")[1])
    assert sorted(map(sorted, stories.values())) == [["parisopening"], ["sncf"]], stories
