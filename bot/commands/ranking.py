"""Which stored stories a rule would have matched: the archive's articles of the window run
through the rule (bot/rules/backtest.py), grouped by story and ranked, for `/rule add` and
`/rule test`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.archive import Archive
from bot.models import Article, Story
from bot.routing import RuleBook
from bot.rules.backtest import backtest
from bot.store import Store

_EPOCH = datetime.fromtimestamp(0, tz=UTC)


@dataclass(slots=True)
class _Hits:
    """The archived articles of one story that a rule (or a chat's rules) matched."""

    titles: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)

    def add(self, article: Article, terms: Iterable[str], rules: Iterable[str] = ()) -> None:
        """Count one matching article."""
        self.titles.append(article.title)
        self.outlets.append(article.outlet)
        self.terms.extend(terms)
        self.rules.update(rules)


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """A matching story as listed: headline, outlets, times and the terms that matched."""

    headline: str
    outlets: tuple[str, ...]
    first_seen: datetime
    updated: datetime
    terms: tuple[str, ...]
    rules: frozenset[str] = frozenset()


class StoryRanking:
    """Backtests a rule over the archive's window and ranks the stories it matches."""

    def __init__(self, store: Store, *, archive: Archive, rules: RuleBook) -> None:
        self.store = store
        self.archive = archive
        self.rules = rules

    @property
    def window(self) -> timedelta:
        """How far back stored articles reach (the archive's time to live)."""
        return timedelta(seconds=self.archive.ttl)

    @property
    def hours(self) -> int:
        """The window in whole hours, as replies state it."""
        return round(self.window.total_seconds() / 3600)

    async def backtest(self, expression: str, *, now: datetime) -> list[Found]:
        """The stored stories `expression` matches, ranked; raises RuleError if invalid."""
        pairs = await self.archive.since(now - self.window)
        results = backtest(expression, [a for a, _ in pairs], entities=self.rules.entities)
        hits: dict[str, _Hits] = {}
        for (article, story_id), result in zip(pairs, results, strict=True):
            if result.matched:
                hits.setdefault(story_id, _Hits()).add(article, result.terms)
        return await self._ranked(hits)

    async def _ranked(self, hits: dict[str, _Hits]) -> list[Found]:
        """The stories behind `hits`, most outlets first, then most recently updated."""
        stories = await self.store.get_stories(list(hits))
        found = [_found(story, h) for story, h in zip(stories, hits.values(), strict=True)]
        return sorted(found, key=lambda f: (-len(f.outlets), -f.updated.timestamp(),
                                            f.headline))


def _found(story: Story | None, hits: _Hits) -> Found:
    terms, rules = tuple(dict.fromkeys(hits.terms)), frozenset(hits.rules)
    if story is None:  # the story record aged out before its archived articles
        return Found(headline=hits.titles[0], outlets=tuple(dict.fromkeys(hits.outlets)),
                     first_seen=_EPOCH, updated=_EPOCH, terms=terms, rules=rules)
    return Found(headline=story.headline, outlets=story.outlets,
                 first_seen=story.first_seen, updated=story.updated, terms=terms,
                 rules=rules)
