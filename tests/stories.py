"""Numbered stories for delivery tests: `story(3, at=T0, outlets=("DW", "VOA"))` is "Story
number 3 breaks", one report an outlet, a minute apart, version = the number of reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import Story, StoryArticle


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
