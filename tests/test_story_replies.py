"""The write script sends a join's story JSON back only to a client that does not hold the
story as it was: the story a client builds itself (its held version plus the member) is the
one stored, member for member."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.dedup import index as index_module
from bot.dedup import rounds
from bot.dedup.index import Placement, StoryIndex
from bot.dedup.rounds import Write
from bot.feeds.seeds import read_seed_folder
from bot.models import Story
from bot.store import Store, story_joined
from tests.conftest import REPO

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 72 * 3600


def _index(store: Store) -> StoryIndex:
    return StoryIndex(store, window_seconds=WINDOW, seen_seconds=30 * 86_400)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often a client built a joined story itself."""
    count: Counter[str] = Counter()

    def spy(story: Story, member: str, *, updated: float) -> Story:
        count["built"] += 1
        return story_joined(story, member, updated=updated)

    monkeypatch.setattr(rounds, "story_joined", spy)
    return count


async def _as_stored(store: Store, placed: Placement) -> Story:
    """The stored story as it was at the placement's version (one `now`: only its members
    and version changed since)."""
    assert placed.story is not None
    final = await store.get_story(placed.story_id)
    assert final is not None
    version = placed.story.version
    return replace(final, version=version, articles=final.articles[:version], matched={})


async def test_joined_stories_built_by_the_client_are_the_stored_ones(
        store: Store, built: Counter[str]) -> None:
    """The dev set in one place_many call (rounds in which a story is joined again after an
    earlier write of the round) and then again one at a time: every joined story is the one
    stored at its version, and most were built without a JSON reply."""
    articles, _ = read_seed_folder(REPO / "tests" / "data" / "dev")
    index = _index(store)
    placements = await index.place_many(articles, now=NOW)
    joined = [p for p in placements if p.kind == "joined"]
    assert len(joined) > 10 and built["built"] >= len(joined) // 2
    for placed in joined:
        assert placed.story == await _as_stored(store, placed)


async def test_a_client_without_the_story_is_sent_it(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A second client joins stories the first one wrote: each first join is sent the JSON,
    the later joins of the same story (it holds it now) are not; all equal the stored story."""
    articles, _ = read_seed_folder(REPO / "tests" / "data" / "dev")
    first = await _index(store).place_many(articles[:20], now=NOW)
    sent: list[tuple[str, bool]] = []  # joins landed by the second client: story, JSON sent

    def spy(write: Write, reply: list[Any], held: dict[str, tuple[Story, float]], *,
            now: float) -> tuple[Story, Story, float]:
        if write.kind == "joined":
            sent.append((write.story_id, len(reply) > 1))
        return rounds.landed(write, reply, held, now=now)

    monkeypatch.setattr(index_module, "landed", spy)
    other = _index(store)
    for article in articles[20:]:
        placed = await other.place(article, now=NOW)
        if placed.kind == "joined":
            assert placed.story == await _as_stored(store, placed)
    theirs = {p.story_id for p in first}
    firsts: set[str] = set()
    again = 0
    for story_id, with_json in sent:
        if story_id in theirs and story_id not in firsts:
            firsts.add(story_id)
            assert with_json, story_id
        elif story_id in firsts:
            again += 1
            assert not with_json, story_id
    assert firsts and again
