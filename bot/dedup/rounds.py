"""The working records of placing articles (bot.dedup.index): what one article needs that
no read changes (`Analysed`, made ahead while the server works: `Ahead`), what it needs before
its round trip (`Probe`), what its read led to (`Decision`), its planned write (`Write`), what
the earlier articles of a round will write (`Round`), the client's caches of document
frequencies (`DfCache`) and parsed story profiles (`ProfileCache`), near-copies by MinHash,
and the names of copies, stories and days."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, repeat
from typing import Any, Literal, TypeVar

from bot.dedup import fingerprints
from bot.dedup.analysis import Analysis
from bot.dedup.features import Features
from bot.dedup.jsontext import json_text
from bot.dedup.scoring import Profile
from bot.models import Article, Story
from bot.store import Keys, story_from_json, story_joined
from bot.text import canonical_url, normalized_title

T = TypeVar("T")
COPY_SIMILARITY = 0.75
MAX_CANDIDATES = 8
DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class DfAsk:
    """What one read asks of the document frequencies: these terms' counts (the others are
    `known`), and the window's article count if `count`."""

    days: tuple[str, ...]
    terms: list[str]
    known: dict[str, int]
    count: bool


@dataclass(frozen=True, slots=True)
class Analysed:
    """What placing one article needs that no read changes (its terms, at most MAX_TERMS
    of them, its fingerprint, its copy keys): computed ahead of its round."""

    article: Article
    analysis: Analysis
    raw: dict[str, float]
    sig: tuple[int, ...] | None
    when: datetime
    bands: list[str]
    copy_keys: list[str]


class Ahead:
    """The articles of a `place_many` call analysed ahead of their rounds: whenever placement
    waits for the server, the next ones are analysed meanwhile, one at a time until the reply
    is in (an analysis depends on no read, so when it runs changes nothing)."""

    def __init__(self, articles: Sequence[Article], analyse: Callable[[Article], Analysed]
                 ) -> None:
        self._articles, self._analyse = articles, analyse
        self._done: list[Analysed] = []

    def take(self, index: int) -> Analysed:
        """The analysis of article `index` (made now if it was not made ahead)."""
        while len(self._done) <= index:
            self._next()
        return self._done[index]

    def _next(self) -> None:
        self._done.append(self._analyse(self._articles[len(self._done)]))

    async def meanwhile(self, work: Awaitable[T]) -> T:
        """The result of `work`, analysing the next articles while it runs."""
        task = asyncio.ensure_future(work)
        try:
            await asyncio.sleep(0)  # let it send its command
            while not task.done() and len(self._done) < len(self._articles):
                self._next()
                await asyncio.sleep(0)  # let its reply in
            return await task
        except BaseException:
            task.cancel()
            raise


@dataclass(frozen=True, slots=True)
class Probe:
    """What placing one article needs, computed once before any round trip."""

    article: Article
    raw: dict[str, float]
    feats: Features
    sig: tuple[int, ...] | None
    time: float | None
    when: datetime
    copy_keys: list[str]
    df_days: tuple[str, ...]
    bands: list[str]
    ask: DfAsk  # document frequencies: the cached ones and those the read must fetch
    posted: tuple[str, ...]  # the terms its story is posted under (the first of `salient`)


@dataclass(frozen=True, slots=True)
class Decision:
    """What one read led to; `profile` and `version` are the joined story's as read."""

    kind: Literal["new", "joined", "copy"]
    story_id: str
    score: float
    reason: str
    profile: Profile | None = None
    version: int = 0
    feats: Features | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Write:
    """One article's planned write: the story it makes or changes and the profile after."""

    index: int
    kind: Literal["new", "joined"]
    story_id: str
    score: float
    reason: str
    version: int
    profile: Profile
    salient: tuple[str, ...]
    args: tuple[str, str, str]  # the write script's three arguments for this article
    story: Story | None
    base: Story | None = None  # a join's story as the client holds it at `version`
    record: str = ""  # its fingerprint record ("story id, outlet, signature"), if it has one
    chain: bool = False  # a join of the version an earlier write of the round makes


@dataclass(slots=True)
class Round:
    """What the earlier articles of a round will write, so that each article is decided as if
    they were stored already: the stories they start or join as they will be, and their
    fingerprints (a near-copy of an earlier article of the same round is found)."""

    writes: list[Write] = field(default_factory=list)
    stories: dict[str, tuple[Profile, int]] = field(default_factory=dict)  # id -> after, version
    by_term: dict[str, set[str]] = field(default_factory=dict)
    signatures: dict[str, list[str]] = field(default_factory=dict)  # LSH band -> records

    def add(self, write: Write, probe: Probe) -> None:
        """Note one planned write (in the order the write call will run them)."""
        self.writes.append(write)
        self.stories[write.story_id] = (write.profile, write.version + 1)
        for term in write.salient:
            self.by_term.setdefault(term, set()).add(write.story_id)
        if write.record:
            for band in probe.bands:
                self.signatures.setdefault(band, []).append(write.record)

    def copies(self, probe: Probe) -> list[str]:
        """The fingerprint records of the round's articles that share an LSH band with
        `probe` (as the read finds them in the store)."""
        return list(dict.fromkeys(r for band in probe.bands
                                  for r in self.signatures.get(band, ())))

    def around(self, probe: Probe, read: Mapping[str, object], *, window: float
               ) -> dict[str, tuple[Profile, int]]:
        """This round's version of the stories the read returned for `probe`, and the round's
        stories posted under its salient terms within the window around its time, the
        MAX_CANDIDATES under most of them (as the read would have found them: postings are
        scored by a story's first time)."""
        hits = Counter(chain.from_iterable(map(self.by_term.get, probe.feats.salient,
                                               repeat(()))))
        if hits:
            stories, time = self.stories, probe.time
            kept = [(-n, sid) for sid, n in hits.items()  # a story's time checked once
                    if within(stories[sid][0].first, time, window)]
            near = {sid for _, sid in sorted(kept)[:MAX_CANDIDATES]}
        else:
            near = set()
        return {sid: self.stories[sid] for sid in sorted(near | (read.keys() & self.stories))}


def within(first: float | None, time: float | None, window: float) -> bool:
    """True when a story first seen at `first` is posted within `window` of `time` (an
    undated article or story meets any)."""
    return first is None or time is None or abs(first - time) <= window


def exact_keys(article: Article) -> list[tuple[str, str]]:
    """The (kind, digest) pairs under which a copy of this article would be found."""
    keys: list[tuple[str, str]] = []
    if article.url:
        keys.append(("url", digest(canonical_url(article.url))))
    if article.guid:
        keys.append(("guid", digest(f"{article.outlet}\n{article.guid}")))
    title = normalized_title(article.title)
    if title:
        keys.append(("title", digest(f"{article.outlet}\n{title}")))
    return keys


def story_id_for(when: datetime, article: str, attempt: int) -> str:
    """A new story's id: its day and a digest of its first article (the same on every replay
    of the same input), salted by the attempt so that a refused write never repeats an id."""
    return f"{when:%Y%m%d}-{digest(f'{article}/{attempt}')[:12]}"


def digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


def days_between(start: float, end: float) -> tuple[str, ...]:
    """The UTC day names from `start` to `end` inclusive."""
    return tuple(day_name(d) for d in range(int(start // DAY_SECONDS), int(end // DAY_SECONDS) + 1))


@lru_cache(maxsize=1024)
def day_name(number: int) -> str:
    """The name (YYYYMMDD) of UTC day `number` since the epoch."""
    return datetime.fromtimestamp(number * DAY_SECONDS, tz=UTC).strftime("%Y%m%d")


def landed(write: Write, reply: list[Any], held: dict[str, tuple[Story, float]], *,
           now: float) -> tuple[Story, Story, float]:
    """A successful write's story for its placement, and as stored (read as `story_from_json`
    reads it) with its time of update: parsed from the reply's JSON, or the one the write
    joined (`write.base`, or the chain's, in `held` by id, from earlier writes of the call)
    with the member appended, or a new story as planned."""
    if write.story is not None:  # a new story: as planned, and as stored
        return write.story, story_from_json(write.args[2])[0], now
    if len(reply) > 1:
        data = json.loads(reply[1])
        story = story_from_json(data)[0]
        return story, story, float(data["updated"])
    base = held[write.story_id][0] if write.chain else write.base
    assert base is not None  # the script sends no JSON only when the caller holds the story
    story = story_joined(base, write.args[2], updated=now)
    return story, story, now


def read_entry(probe: Probe, keys: Keys, *, window: int, now: datetime) -> str:
    """The read script's JSON argument for one article."""
    t = probe.time
    at = t if t is not None else now.timestamp()
    return json_text({
        "copy": probe.copy_keys,
        "lsh": _lsh_keys(keys, int((at - window) // DAY_SECONDS),
                         int((at + window) // DAY_SECONDS)),
        "tmin": None if t is None else t - window,
        "tmax": None if t is None else t + window,
        "bands": probe.bands, "salient": probe.feats.salient})


def df_asks(asks: Sequence[DfAsk], keys: Keys
            ) -> tuple[str, list[tuple[tuple[str, ...], list[str]]]]:
    """The read script's argument for a round's document frequencies: for each range of days
    its articles ask about, the terms any of them wants (once, in the order first asked); and
    those ranges with their terms. Every article's counts come from the one atomic read, so
    each gets what reading them for it alone gave."""
    wanted: dict[tuple[str, ...], dict[str, None]] = {}
    for ask in asks:
        wanted.setdefault(ask.days, {}).update(dict.fromkeys(ask.terms))
    ranges = [(days, list(terms)) for days, terms in wanted.items()]
    return json_text([[_df_keys(keys, days), terms] for days, terms in ranges]), ranges


def df_counted(ranges: list[tuple[tuple[str, ...], list[str]]], reply: list[Any]
               ) -> dict[tuple[str, ...], tuple[int, dict[str, int]]]:
    """What the read found for `df_asks`' ranges: each one's article count and its terms'
    document frequencies."""
    return {days: (int(total), dict(zip(terms, map(int, freqs), strict=True)))
            for (days, terms), (total, freqs) in zip(ranges, reply, strict=True)}


@lru_cache(maxsize=256)
def _lsh_keys(keys: Keys, first: int, last: int) -> tuple[str, ...]:
    """The LSH keys of the days `first` to `last` (numbers: `days_between`'s names)."""
    return tuple(keys.lsh(day_name(day)) for day in range(first, last + 1))


@lru_cache(maxsize=256)
def _df_keys(keys: Keys, days: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(keys.doc_freq, days))


def with_sent(reply: list[Any], sent: dict[str, str]) -> list[Any]:
    """One article's reply of the read script with the candidates' stored profiles filled
    in: the script sends each candidate's text once a call (later articles get its id and
    ""), `sent` keeps them by id for the articles after."""
    if reply[0] != "ok":
        return reply
    flat = reply[2]
    for i in range(0, len(flat), 2):
        if flat[i + 1]:
            sent[flat[i]] = flat[i + 1]
        else:
            flat[i + 1] = sent[flat[i]]
    return reply


def near_copy(probe: Probe, feats: Features, sigs: list[str],
              profiles: dict[str, tuple[Profile, int]]) -> Decision | None:
    """A copy found by MinHash among the fingerprint records `sigs`: dropped if from the same
    outlet, else it joins its story."""
    if probe.sig is None:
        return None
    best: tuple[float, str, str] | None = None
    for record in sigs:
        story_id, outlet, encoded = record.split("\t")
        sim = fingerprints.similarity(probe.sig, fingerprints.decode(encoded))
        if sim >= COPY_SIMILARITY and (best is None or sim > best[0]):
            best = (sim, story_id, outlet)
    if best is None:
        return None
    sim, story_id, outlet = best
    reason = f"near-copy of a {outlet} article (MinHash similarity {sim:.2f})"
    if outlet == probe.article.outlet or story_id not in profiles:
        return Decision("copy", story_id, sim, reason)
    profile, version = profiles[story_id]
    return Decision("joined", story_id, sim, reason, profile, version, feats)
