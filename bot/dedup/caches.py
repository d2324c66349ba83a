"""The client's caches of story placement (bot.dedup.index): document frequencies of terms
(`DfCache`), story profiles parsed from the store (`ProfileCache`) and stories as stored
after this client's writes (`StoryCache`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.dedup.scoring import Profile
from bot.models import Story

if TYPE_CHECKING:
    from bot.dedup.rounds import Probe

_c_lookup: Callable[..., tuple[list[str], dict[str, int]] | None] | None
try:  # the C core's lookup (the same lists); a core built before it has none
    from bot.dedup import _cdedup
    _c_lookup = getattr(_cdedup, "df_lookup", None)
except ImportError:  # pragma: no cover - built wherever a C compiler is present
    _c_lookup = None

DF_REFRESH = 0.1
DF_CACHE = 200_000


@dataclass(slots=True)
class DfCache:
    """Document frequencies of terms over one range of days, with the article count then."""

    days: tuple[str, ...] = ()
    total: int = 0
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # term -> (df, total)

    def lookup(self, raw: Mapping[str, float], days: tuple[str, ...]
               ) -> tuple[list[str], dict[str, int]]:
        """The terms of `raw` a read must fetch (never fetched for these days, or fetched
        when the window held DF_REFRESH more or fewer articles), and the counts of the rest."""
        if days != self.days:
            return list(raw), {}
        if _c_lookup is not None and (done := _c_lookup(raw, self.counts, self.total,
                                                        DF_REFRESH)) is not None:
            return done
        return self.python_lookup(raw)

    def python_lookup(self, raw: Mapping[str, float]) -> tuple[list[str], dict[str, int]]:
        """`lookup` for the days held, without the C core (which gives the same)."""
        total, counts = self.total, self.counts
        fetch: list[str] = []
        known: dict[str, int] = {}
        for term in raw:
            entry = counts.get(term)
            if entry is None or abs(total - entry[1]) > DF_REFRESH * max(entry[1], 20):
                fetch.append(term)
            else:
                known[term] = entry[0]
        return fetch, known

    def update(self, probe: Probe, fetched: dict[str, int], total: int) -> None:
        """Keep what a read fetched for the latest range of days seen."""
        if probe.df_days > self.days:  # a later range of days: start over
            self.days, self.counts = probe.df_days, {}
        if probe.df_days != self.days:  # an older range (a replay): used once, not kept
            return
        self.total = total
        if len(self.counts) > DF_CACHE:
            self.counts.clear()
        for term, count in fetched.items():
            self.counts[term] = (count, total)


class ProfileCache:
    """Story profiles parsed from the store, kept by story id and version (a changed story is
    parsed again), the least recently stored dropped past `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: dict[str, tuple[str, Profile]] = {}  # story id -> (version, profile)

    def parse(self, story_id: str, stored: str) -> tuple[Profile, int] | None:
        """The parsed profile and version of a candidate from its stored "version\\nJSON"
        (from the cache when that version was parsed before)."""
        cached = self._kept.get(story_id)
        if cached is not None and stored.startswith(f"{cached[0]}\n"):  # that version: no split
            return cached[1], int(cached[0])
        version, _, raw = stored.partition("\n")
        if not version.isdigit():
            return None  # stored by an earlier version of the index: left to age out
        profile = Profile.from_json(raw)
        self.remember(story_id, version, profile)
        return profile, int(version)

    def remember(self, story_id: str, version: str, profile: Profile) -> None:
        """Keep `profile` as the story's at `version`."""
        self._kept.pop(story_id, None)
        if len(self._kept) >= self.size:  # drop the least recently stored
            del self._kept[next(iter(self._kept))]
        self._kept[story_id] = (version, profile)


class StoryCache:
    """Stories as stored after this client's writes, kept by id with their version and time
    of update (as a float: the write script compares its text), the least recently stored
    dropped past `size`: a join of a version held here is sent no story JSON back (the
    member is appended here: `landed`), so a join no longer costs the size of its story in
    the reply and in parsing it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: dict[str, tuple[Story, float]] = {}

    def get(self, story_id: str, version: int) -> tuple[Story, float] | None:
        """The story at `version` and its time of update, if held."""
        held = self._kept.get(story_id)
        return held if held is not None and held[0].version == version else None

    def keep(self, story: Story, updated: float) -> None:
        """Hold `story` (as `story_from_json` reads it) updated at `updated`."""
        self._kept.pop(story.id, None)
        if len(self._kept) >= self.size:
            del self._kept[next(iter(self._kept))]
        self._kept[story.id] = (story, updated)
