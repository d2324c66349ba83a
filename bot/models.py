"""Plain records that flow through the pipeline; this module imports nothing else from `bot`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

TimeSource = Literal["feed", "text", "seen"]
"""Where an article's time came from: its feed, a date its text states, or when it was seen."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSpec:
    """One source of articles: an HTTP(S) RSS/Atom feed or a local folder of seed files."""

    id: str
    url: str | None = None
    path: str | None = None
    outlet: str | None = None
    interval: float = 300.0
    language: str | None = None

    @property
    def location(self) -> str:
        """The URL or folder path, for logs and listings."""
        return self.url or self.path or self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """One report as read from a feed: plain text, UTC time (or None), outlet; `time_source`
    and `time_evidence` say where the time came from (see `bot.feeds.dating`)."""

    outlet: str
    title: str
    text: str
    url: str | None = None
    guid: str | None = None
    published: datetime | None = None
    language: str | None = None
    feed_id: str = ""
    path: str | None = None
    time_source: TimeSource = "feed"
    time_evidence: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryArticle:
    """An article as a member of a story; `time` came from `time_source` (its feed, a date its
    text states, as `time_evidence` quotes, or when it was first seen)."""

    outlet: str
    title: str
    url: str | None
    time: datetime
    time_source: TimeSource = "feed"
    time_evidence: str = ""
    path: str | None = None
    score: float = 1.0
    reason: str = "new story"

    @property
    def dated(self) -> bool:
        """True when the time says when it was published (from its feed or its text)."""
        return self.time_source != "seen"


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """Reports of one event from one or more outlets; `version` grows as articles join."""

    id: str
    headline: str
    first_seen: datetime
    updated: datetime
    version: int
    articles: tuple[StoryArticle, ...] = ()
    matched: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def outlets(self) -> tuple[str, ...]:
        """Distinct outlets in order of first report."""
        return tuple(dict.fromkeys(a.outlet for a in self.articles))


@dataclass(frozen=True, slots=True, kw_only=True)
class Topic:
    """A shared rule from `rules/*.yaml` that chats subscribe to."""

    name: str
    expression: str
    description: str = ""
    min_outlets: int = 1
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A compiled-rule handle: `id` is `topic:<name>` or `chat:<chat>:<n>`; `min_outlets` and
    `history` ("exclude", "any" or "only": reports about the past) come from the topic or the
    rule's own options (`outlets>=2`, `history:any`)."""

    id: str
    expression: str
    chat: str | None = None
    topic: str | None = None
    min_outlets: int = 1
    sources: tuple[str, ...] = ()
    history: str = "exclude"


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """An outbox entry: tell `chat` about the current state of `story_id`."""

    chat: str
    story_id: str
    rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SentAlert:
    """What a chat was last shown of a story: the platform message reference and version."""

    chat: str
    story_id: str
    ref: str
    version: int
    outlets: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A story as one chat should see it: what it reports, why it matched, in which language
    and time zone (see `bot.alerts` for the layout every platform renders)."""

    chat: str
    story: Story
    terms: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    summary: str = ""
    lang: str = "en"
    timezone: str = "UTC"
