"""Numbered stories for delivery tests: `story(3, at=T0, outlets=("DW", "VOA"))` is "Story
number 3 breaks", one report an outlet, a minute apart, version = the number of reports; and
`put_matched`, a story stored as the pipeline leaves it, for tests that queue its alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.models import Story, StoryArticle
from bot.store import Store, story_to_json

MATCH_TTL = 86_400


def headline(n: int) -> str:
    """The headline of story `n`."""
    return f"Story number {n} breaks"


def numbered_story(n: int, *, at: datetime, outlets: tuple[str, ...] = ("DW",)) -> Story:
    """Story `s<n>`, first seen `at`, with one report from each of `outlets`."""
    articles = tuple(StoryArticle(outlet=o, title=f"{headline(n)} ({o})",
                                  url=f"https://www.{o.lower()}.com/{n}",
                                  time=at + timedelta(minutes=k))
                     for k, o in enumerate(outlets))
    return Story(id=f"s{n}", headline=headline(n), first_seen=at, updated=at,
                 version=len(articles), articles=articles)


async def put_matched(store: Store, story: Story, rule: str, terms: Sequence[str]) -> Story:
    """`story` stored as the index stores it, with its matched record saying `rule` matched
    on `terms` (as the pipeline writes it: `Store.merge_matched`)."""
    await store.redis.set(store.keys.story(story.id), story_to_json(story, event_time=None))
    await store.merge_matched({story.id: {rule: tuple(terms)}}, ttl=MATCH_TTL)
    return story
