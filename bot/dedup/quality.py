"""Measuring a grouping against labels: B-cubed scores and a replay through a StoryIndex.

Used by the test of the labelled development set and by bench/stories_quality.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.dedup.index import Placement, StoryIndex
from bot.models import Article


@dataclass(frozen=True, slots=True)
class Scores:
    """B-cubed precision, recall and F1 of a grouping."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def bcubed(predicted: Sequence[str], gold: Sequence[str]) -> Scores:
    """B-cubed precision and recall (Bagga and Baldwin 1998) of item-aligned cluster labels."""
    if len(predicted) != len(gold) or not gold:
        raise ValueError("bcubed: need two non-empty label lists of one length")
    by_pred, by_gold = Counter(predicted), Counter(gold)
    both = Counter(zip(predicted, gold, strict=True))
    precision = sum(n * n / by_pred[p] for (p, _), n in both.items()) / len(gold)
    recall = sum(n * n / by_gold[g] for (_, g), n in both.items()) / len(gold)
    return Scores(precision, recall)


async def replay(index: StoryIndex, articles: Sequence[Article], *, now: datetime
                 ) -> list[Placement]:
    """Place `articles` one by one, in the order given; copies count as their story."""
    return [await index.place(article, now=now) for article in articles]
