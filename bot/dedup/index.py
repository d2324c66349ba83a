"""Story assignment over the store: copies first, then the best story centroid, atomically.

Layer one finds copies: canonical URL, GUID and normalized title (per outlet) as `seen` keys,
then MinHash LSH bands of the cleaned lead (a republication, a new dateline, a changed title).
A copy from the same outlet is dropped; one from another outlet joins the original's story.
Layer two writes the article in the language-neutral vocabulary (`bot.dedup.analysis`), finds
candidate stories through an inverted index of salient terms (sorted sets scored by a story's
first time, trimmed to about POSTINGS_KEPT, expiring with the window: an article reads the
postings of its SALIENT_TERMS most telling neutral terms and NATIVE_SALIENT Chinese words, a
story is posted under POSTED_TERMS of them) and scores each candidate (`scoring.evaluate`:
against the story's reports in the article's language, and across languages with a lower
bar). Of the candidates that reach their bar, the article joins the one with the best score
plus SIZE_PRIOR * log2(its article count), relative to the bar: a story many outlets already
carry is the likelier home than a one-article offshoot that scores a little closer. None: a
new story, whose id is a digest of its first article (a replay gives the same ids).

Reads and writes go through two Lua scripts (scripts.py), each taking a round of up to
ROUND_SIZE articles per call: `place` is a round of one, `place_many` sends its articles in
rounds and analyses the next round's articles while the last round's write runs on the server.
Inside a round each article is decided as if the earlier ones were stored (`_Round`: the
stories they started or joined, as they will be, join its candidates the way the read would
have found them, and their fingerprints its copies), so a batch groups as one article at a time
does. There is no WATCH: the write checks that no copy key appeared, that the joined story's
version is the one read, and, for a new story, that no other writer added a story to the
article's salient postings since the read (per-term stamps). A refused write is retried with a
fresh read, so two workers placing related articles at the same moment serialize: whoever
commits second sees the first one's story.

Two client-side caches save work that does not change between reads: story profiles parsed
from JSON (kept by story id and version; a changed story is re-parsed), and document
frequencies of terms (refetched once the window's article count moved by DF_REFRESH of what it
was, so IDF stays within a few per cent of the server's counts). IDF blends them with the
background frequencies of general text (`bot.dedup.background`) and also picks an article's
salient terms (weight times IDF), so postings are read and written for the words that tell
stories apart, not for the words every story uses.

Articles meet stories within the window around their own time (replayed 2024 articles group by
2024 times); the pipeline gives every article a time (its feed's, its text's, or when it was
seen: `bot.feeds.dating`); one placed without a time meets the most recent postings.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from redis.exceptions import NoScriptError

from bot.dedup import fingerprints, scripts
from bot.dedup.analysis import Analyzer, shipped_analyzer
from bot.dedup.features import (
    MAX_TERMS,
    NATIVE_SALIENT,
    SALIENT_TERMS,
    SHORT_LEAD,
    Features,
    ranked_terms,
    vectorize,
)
from bot.dedup.scoring import CROSS_FACTOR, Evidence, Profile, evaluate, explained
from bot.errors import StoreError
from bot.models import Article, Story, StoryArticle
from bot.store import Store, done, story_from_json, story_to_json
from bot.text import canonical_url, normalized_title

DEFAULT_THRESHOLD = 0.30
SHORT_FACTOR = 0.33  # headline-only articles: fewer terms, lower cosines (UCI sample: 0.12)
SIZE_PRIOR = 0.08  # added per doubling of a candidate's size when choosing among those above
COPY_SIMILARITY = 0.75
MAX_CANDIDATES = 8
POSTINGS_PER_TERM = 8
POSTED_TERMS = 10  # of the salient terms an article reads, the ones its story is posted under
POSTINGS_KEPT = 256
MAX_LSH_MATCHES = 8
MAX_ATTEMPTS = 50
ROUND_SIZE = 64  # articles per read and write call
STAMPS_KEPT = 64  # per term: the stories most recently posted under it, for the write check
PROFILE_CACHE = 4096
DF_REFRESH = 0.1
DF_CACHE = 200_000
_DAY = 86_400
_SOURCES = {"read": scripts.READ, "write": scripts.WRITE}


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where an article went: a new story or an existing one."""

    story: Story
    kind: Literal["new", "joined"]
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class Placement:
    """The full outcome of placing an article, copies included (for benchmarks and explain)."""

    kind: Literal["new", "joined", "copy"]
    story_id: str
    score: float
    reason: str
    story: Story | None = None


@dataclass(frozen=True, slots=True)
class _DfAsk:
    """What one read asks of the document frequencies: these terms' counts (the others are
    `known`), and the window's article count if `count`."""

    days: tuple[str, ...]
    terms: list[str]
    known: dict[str, int]
    count: bool


@dataclass(frozen=True, slots=True)
class _Probe:
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
    ask: _DfAsk  # document frequencies: the cached ones and those the read must fetch
    posted: tuple[str, ...]  # the terms its story is posted under (the first of `salient`)


@dataclass(frozen=True, slots=True)
class _Decision:
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
class _Write:
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


@dataclass(slots=True)
class _Round:
    """What the earlier articles of a round will write, so that each article is decided as if
    they were stored already: the stories they start or join as they will be, and their
    fingerprints (a near-copy of an earlier article of the same round is found)."""

    writes: list[_Write] = field(default_factory=list)
    stories: dict[str, tuple[Profile, int]] = field(default_factory=dict)  # id -> after, version
    by_term: dict[str, set[str]] = field(default_factory=dict)
    signatures: dict[str, list[str]] = field(default_factory=dict)  # LSH band -> records

    def add(self, write: _Write, probe: _Probe) -> None:
        """Note one planned write (in the order the write call will run them)."""
        self.writes.append(write)
        self.stories[write.story_id] = (write.profile, write.version + 1)
        for term in write.salient:
            self.by_term.setdefault(term, set()).add(write.story_id)
        if probe.sig is not None:
            record = f"{write.story_id}\t{probe.article.outlet}\t{fingerprints.encode(probe.sig)}"
            for band in probe.bands:
                self.signatures.setdefault(band, []).append(record)

    def copies(self, probe: _Probe) -> list[str]:
        """The fingerprint records of the round's articles that share an LSH band with
        `probe` (as the read finds them in the store)."""
        return list(dict.fromkeys(r for band in probe.bands
                                  for r in self.signatures.get(band, ())))

    def around(self, probe: _Probe, read: Mapping[str, object], *, window: float
               ) -> dict[str, tuple[Profile, int]]:
        """This round's version of the stories the read returned for `probe`, and the round's
        stories posted under its salient terms within the window around its time, the
        MAX_CANDIDATES under most of them (as the read would have found them: postings are
        scored by a story's first time)."""
        hits = Counter(sid for t in probe.feats.salient for sid in self.by_term.get(t, ())
                       if _within(self.stories[sid][0].first, probe.time, window))
        near = {sid for sid, _ in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[
            :MAX_CANDIDATES]}
        return {sid: self.stories[sid] for sid in sorted(near | (read.keys() & self.stories))}


def _within(first: float | None, time: float | None, window: float) -> bool:
    """True when a story first seen at `first` is posted within `window` of `time` (an
    undated article or story meets any)."""
    return first is None or time is None or abs(first - time) <= window


@dataclass(slots=True)
class _DfCache:
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
        total, counts, fetch, known = self.total, self.counts, [], {}
        for term in raw:
            entry = counts.get(term)
            if entry is None or abs(total - entry[1]) > DF_REFRESH * max(entry[1], 20):
                fetch.append(term)
            else:
                known[term] = entry[0]
        return fetch, known

    def update(self, probe: _Probe, fetched: dict[str, int], total: int) -> None:
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


def exact_keys(article: Article) -> list[tuple[str, str]]:
    """The (kind, digest) pairs under which a copy of this article would be found."""
    keys: list[tuple[str, str]] = []
    if article.url:
        keys.append(("url", _digest(canonical_url(article.url))))
    if article.guid:
        keys.append(("guid", _digest(f"{article.outlet}\n{article.guid}")))
    title = normalized_title(article.title)
    if title:
        keys.append(("title", _digest(f"{article.outlet}\n{title}")))
    return keys


def _story_id(when: datetime, article: str, attempt: int) -> str:
    """A new story's id: its day and a digest of its first article (the same on every replay
    of the same input), salted by the attempt so that a refused write never repeats an id."""
    return f"{when:%Y%m%d}-{_digest(f'{article}/{attempt}')[:12]}"


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


def _days(start: float, end: float) -> tuple[str, ...]:
    """The UTC day names from `start` to `end` inclusive."""
    return tuple(_day(d) for d in range(int(start // _DAY), int(end // _DAY) + 1))


@lru_cache(maxsize=1024)
def _day(number: int) -> str:
    """The name (YYYYMMDD) of UTC day `number` since the epoch."""
    return datetime.fromtimestamp(number * _DAY, tz=UTC).strftime("%Y%m%d")


class StoryIndex:
    """Assigns articles to stories in the store; safe to share between workers."""

    def __init__(self, store: Store, *, window_seconds: int, seen_seconds: int,
                 threshold: float = DEFAULT_THRESHOLD, analyzer: Analyzer | None = None) -> None:
        self.store = store
        self.analyzer = analyzer or shipped_analyzer()
        self.window = window_seconds
        self.seen_ttl = seen_seconds
        self.threshold = threshold
        self._shas: dict[str, str] = {}
        self._profiles: dict[str, tuple[str, Profile]] = {}  # story id -> (version, profile)
        self._df = _DfCache()
        keys = store.keys
        vec_pre, vec_suf = self._vec = keys.story_vector("\x00").split("\x00")
        self._seq_key = keys("dedup", "seq")
        self._term_pre = keys.term("")
        self._stamp_pre = keys("termnew", "")
        self._read_head = [self._seq_key, POSTINGS_PER_TERM, MAX_CANDIDATES, MAX_LSH_MATCHES,
                           vec_pre, vec_suf, self._term_pre]

    async def assign(self, article: Article, *, now: datetime) -> Assignment | None:
        """Put `article` into the story it reports, creating one if none fits.

        Returns None for a copy of an article already placed (even if its story aged out).
        """
        placed = await self.place(article, now=now)
        if placed.kind == "copy" or placed.story is None:
            return None
        return Assignment(placed.story, placed.kind, placed.score)

    async def place(self, article: Article, *, now: datetime) -> Placement:
        """Place `article` and say how: new story, joined (with the score), or a copy."""
        return (await self.place_many([article], now=now))[0]

    async def place_many(self, articles: Sequence[Article], *, now: datetime
                         ) -> list[Placement]:
        """Place `articles` as if one after another (in that order), ROUND_SIZE at a time.

        Each round reads for its articles in one call, decides, and writes in one call; an
        article whose write was refused goes again at the head of the next round. Inside a
        round each article is decided after the earlier ones: the stories they start or join
        are scored as they will be after those writes (see `_Round`). While a round's write
        runs on the server, the next articles are analysed here.
        """
        probes: list[_Probe] = []
        results: list[Placement | None] = [None] * len(articles)
        tries = [0] * len(articles)
        retry: list[int] = []
        landing: asyncio.Task[list[int]] | None = None
        try:
            while True:
                start = len(probes)
                probes.extend(self._probe(article, now=now) for article in
                              articles[start:start + max(ROUND_SIZE - len(retry), 0)])
                if landing is not None:
                    retry = sorted([*retry, *await landing])
                    landing = None
                batch = [*retry, *range(start, len(probes))]
                if not batch:
                    return [r for r in results if r is not None]
                self._count_tries(batch, tries, probes)
                if retry and len(batch) == len(retry):  # only conflicts left: back off a bit
                    await asyncio.sleep(random.uniform(0, 0.0005 * max(tries)))
                try:
                    retry, landing = await self._round(probes, batch, results, tries, now=now)
                except NoScriptError:
                    self._shas.clear()
                    retry = batch
        finally:
            if landing is not None:
                landing.cancel()

    @staticmethod
    def _count_tries(batch: list[int], tries: list[int], probes: list[_Probe]) -> None:
        """Count one more try for each of `batch`; give up past MAX_ATTEMPTS."""
        for i in batch:
            tries[i] += 1
            if tries[i] > MAX_ATTEMPTS:
                article = probes[i].article
                raise StoreError(f"dedup: could not place {article.url or article.title!r}: "
                                 f"{MAX_ATTEMPTS} conflicting writers in a row")

    def _probe(self, article: Article, *, now: datetime) -> _Probe:
        analysis = self.analyzer.analyse(article)
        raw = analysis.raw
        if len(raw) > MAX_TERMS:
            raw = dict(sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS])
        when = article.published or now
        at = when.timestamp()
        days = _days(at - self.window, at)
        fetch, known = self._df.lookup(raw, days)
        idf = self.analyzer.background.idf(raw, known, self._df.total)
        neutral, native = ranked_terms(raw, idf=idf)
        native = native[:NATIVE_SALIENT]
        feats = Features(vector={}, salient=(*neutral[:SALIENT_TERMS], *native),
                         lead=analysis.lead,
                         language=analysis.language, sources=analysis.sources)
        keys = self.store.keys
        sig = fingerprints.signature(analysis.lead)
        return _Probe(article=article, raw=raw, feats=feats, sig=sig, when=when,
                      time=article.published.timestamp() if article.published else None,
                      copy_keys=[keys.seen(kind, d) for kind, d in exact_keys(article)],
                      df_days=days, bands=fingerprints.band_fields(sig) if sig else [],
                      ask=_DfAsk(days, fetch, known, count=True),
                      posted=(*neutral[:POSTED_TERMS], *native))

    async def _round(self, probes: list[_Probe], pending: list[int],
                     results: list[Placement | None], tries: list[int], *, now: datetime
                     ) -> tuple[list[int], asyncio.Task[list[int]] | None]:
        """One read call, then one write call sent for `pending`: returns the indices to
        retry and the task that lands the write (it returns the refused indices)."""
        asks: list[_DfAsk] = []
        for i in pending:  # the window's article count: once a round for each range of days
            ask = probes[i].ask
            count = bool(ask.terms) or all(a.days != ask.days for a in asks if a.count)
            asks.append(replace(ask, count=count))
        entries = [self._read_entry(probes[i], ask, now=now)
                   for i, ask in zip(pending, asks, strict=True)]
        found = await self._run("read", [*self._read_head, *entries])
        seq = int(found[0])
        done_here = _Round()
        totals: dict[tuple[str, ...], int] = {}
        for i, ask, reply in zip(pending, asks, found[1:], strict=True):
            decision = self._decide(probes[i], reply, ask, totals, seq=seq, round_=done_here)
            if decision.kind == "copy":
                results[i] = Placement("copy", decision.story_id, decision.score,
                                       decision.reason)
                continue
            done_here.add(self._plan(i, probes[i], decision, now=now, attempt=tries[i]),
                          probes[i])
        if not done_here.writes:
            return [], None
        landing = asyncio.create_task(self._land(done_here.writes, results, now=now))
        await asyncio.sleep(0)  # let the task send the write before the caller computes on
        return [], landing

    async def _land(self, planned: list[_Write], results: list[Placement | None], *,
                    now: datetime) -> list[int]:
        """Run the round's write call; record the placements, return the refused indices."""
        try:
            replies = await self._run("write", [*self._write_head(now),
                                                *(a for w in planned for a in w.args)])
        except NoScriptError:
            self._shas.clear()
            return [w.index for w in planned]
        refused: list[int] = []
        for write, reply in zip(planned, replies, strict=True):
            if reply[0] != "ok":
                refused.append(write.index)
                continue
            self._remember(write.story_id, str(write.version + 1), write.profile)
            story = write.story or story_from_json(reply[1])[0]
            results[write.index] = Placement(write.kind, write.story_id, write.score,
                                             write.reason, story)
        return refused

    async def _run(self, name: str, args: list[Any]) -> list[Any]:
        """EVALSHA of one of the scripts (loaded on first use) with no keys declared."""
        if name not in self._shas:
            self._shas[name] = await self.store.redis.script_load(_SOURCES[name])
        reply: Any = await done(self.store.redis.evalsha(self._shas[name], 0, *args))
        return list(reply)

    def _read_entry(self, probe: _Probe, ask: _DfAsk, *, now: datetime) -> str:
        """The read script's JSON argument for one article."""
        keys = self.store.keys
        t = probe.time
        at = t if t is not None else now.timestamp()
        return json.dumps({
            "copy": probe.copy_keys,
            "lsh": [keys.lsh(d) for d in _days(at - self.window, at + self.window)],
            "df": [keys.doc_freq(d) for d in probe.df_days] if ask.count else [],
            "tmin": None if t is None else t - self.window,
            "tmax": None if t is None else t + self.window,
            "bands": probe.bands, "salient": probe.feats.salient, "terms": ask.terms},
            ensure_ascii=False)

    def _decide(self, probe: _Probe, found: list[Any], ask: _DfAsk,
                totals: dict[tuple[str, ...], int], *, seq: int, round_: _Round) -> _Decision:
        """Copy, join or new story, from what the read script returned for `probe` and what
        earlier articles of the round wrote (the window's article count comes from the first
        reply of the round that counted it)."""
        if found[0] == "copy":
            return _Decision("copy", found[1], 1.0, f"same {found[2]} as an earlier article")
        _, sigs, flat, freqs, counted = found
        profiles = {flat[i]: parsed for i in range(0, len(flat), 2)
                    if (parsed := self._profile(flat[i], flat[i + 1])) is not None}
        profiles |= round_.around(probe, profiles, window=self.window)
        if ask.count:
            totals[ask.days] = int(counted)
        total = totals.get(ask.days, self._df.total)  # the counting read found a copy
        fetched = dict(zip(ask.terms, map(int, freqs), strict=True))
        self._df.update(probe, fetched, total)
        doc_freq = ask.known | fetched
        feats = replace(probe.feats, vector=vectorize(
            probe.raw, self.analyzer.background.idf(probe.raw, doc_freq, total)))
        near = self._near_copy(probe, feats, [*sigs, *round_.copies(probe)], profiles)
        if near is not None:
            return replace(near, seq=seq)
        threshold = self._threshold(feats)
        best = self._best(feats, {sid: p for sid, (p, _) in profiles.items()},
                          time=probe.time, threshold=threshold)
        if best is None:
            return _Decision("new", "", 1.0, "new story (best: no candidate story)",
                             feats=feats, seq=seq)
        evidence, story_id, note = best
        if not evidence.passes(threshold):
            return _Decision("new", "", 1.0, f"new story (best: {evidence.reason(threshold)})",
                             feats=feats, seq=seq)
        profile, version = profiles[story_id]
        return _Decision("joined", story_id, evidence.score,
                         explained(evidence, feats, profile).reason(threshold) + note,
                         profile, version, feats, seq)

    def _threshold(self, feats: Features) -> float:
        """The score to reach: lower for a headline-only article (fewer terms to share)."""
        return self.threshold * (SHORT_FACTOR if len(feats.lead) < SHORT_LEAD else 1.0)

    def _best(self, feats: Features, profiles: dict[str, Profile], *, time: float | None,
              threshold: float) -> tuple[Evidence, str, str] | None:
        """The story to join: best score plus size prior, relative to the score each must
        reach (lower across languages), among those that reach it (else the closest, for the
        reason), with a note when the prior chose. Ties go to the lower story id."""
        scored = [(evaluate(feats, profiles[sid], time=time, window=self.window), sid)
                  for sid in sorted(profiles)]
        if not scored:
            return None
        closest = max(scored, key=lambda es: es[0].score / es[0].factor)
        passing = [es for es in scored if es[0].passes(threshold)]
        if not passing:
            return closest[0], closest[1], ""
        chosen = max(passing, key=lambda es: (es[0].score + SIZE_PRIOR * math.log2(
            profiles[es[1]].count)) / es[0].factor)
        if chosen[1] == closest[1]:
            return chosen[0], chosen[1], ""
        return chosen[0], chosen[1], (
            f"; chosen for its {profiles[chosen[1]].count} articles over a closer story "
            f"of {profiles[closest[1]].count} ({closest[0].score:.2f})")

    def _profile(self, story_id: str, stored: str) -> tuple[Profile, int] | None:
        """The parsed profile and version of a candidate from its stored "version\nJSON"
        (from the cache when that version was parsed before)."""
        version, _, raw = stored.partition("\n")
        if not version.isdigit():
            return None  # stored by an earlier version of this module: left to age out
        cached = self._profiles.get(story_id)
        if cached is not None and cached[0] == version:
            return cached[1], int(version)
        profile = Profile.from_json(raw)
        self._remember(story_id, version, profile)
        return profile, int(version)

    def _remember(self, story_id: str, version: str, profile: Profile) -> None:
        self._profiles.pop(story_id, None)
        if len(self._profiles) >= PROFILE_CACHE:  # drop the least recently stored
            del self._profiles[next(iter(self._profiles))]
        self._profiles[story_id] = (version, profile)

    def _near_copy(self, probe: _Probe, feats: Features, sigs: list[str],
                   profiles: dict[str, tuple[Profile, int]]) -> _Decision | None:
        """A copy found by MinHash: dropped if from the same outlet, else joins its story."""
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
            return _Decision("copy", story_id, sim, reason)
        profile, version = profiles[story_id]
        return _Decision("joined", story_id, sim, reason, profile, version, feats)

    def _plan(self, index: int, probe: _Probe, decision: _Decision, *, now: datetime,
              attempt: int) -> _Write:
        """The write script's JSON argument for one article, and what it will make."""
        keys, article = self.store.keys, probe.article
        feats = decision.feats or probe.feats
        aid = _digest(f"{article.outlet}\n{article.url}\n{article.title}")
        member = StoryArticle(
            outlet=article.outlet, title=article.title, url=article.url, time=probe.when,
            time_source=article.time_source if probe.time is not None else "seen",
            time_evidence=article.time_evidence, path=article.path,
            score=round(decision.score, 4),
            reason=decision.reason)
        new_story: Story | None = None
        entry: dict[str, Any]
        if decision.profile is None:
            kind: Literal["new", "joined"] = "new"
            story_id = _story_id(probe.when, aid, attempt)
            new_story = Story(id=story_id, headline=article.title, first_seen=now, updated=now,
                              version=1, articles=(member,))
            payload = story_to_json(new_story, event_time=probe.time)
            profile = Profile.of(feats, time=probe.time)
            entry = {"vec": feats.vector,
                     "floor": self._threshold(feats) * CROSS_FACTOR}
        else:
            kind, story_id = "joined", decision.story_id
            payload = _member_json(member)
            profile = decision.profile.add(feats, time=probe.time)
            entry = {}
        day = _day(int(probe.when.timestamp() // _DAY))
        entry |= {
            "v": decision.version, "id": story_id, "t": probe.time, "seq": decision.seq,
            "score": profile.first if profile.first is not None else now.timestamp(),
            "aid": aid,
            "sig": (f"{story_id}\t{article.outlet}\t{fingerprints.encode(probe.sig)}"
                    if probe.sig else ""),
            "bands": probe.bands, "salient": probe.feats.salient, "posted": probe.posted,
            "terms": list(feats.vector),
            "copy": probe.copy_keys,
            "keys": {"story": keys.story(story_id), "vec": keys.story_vector(story_id),
                     "lsh": keys.lsh(day),
                     "df": keys.doc_freq(day)}}
        return _Write(index=index, kind=kind, story_id=story_id, score=decision.score,
                      reason=decision.reason, version=decision.version, profile=profile,
                      salient=probe.posted,
                      args=(json.dumps(entry, ensure_ascii=False), profile.to_json(), payload),
                      story=new_story)

    def _write_head(self, now: datetime) -> list[Any]:
        keys = self.store.keys
        return [self._seq_key, keys.stories(), now.timestamp(), self.window + _DAY,
                self.window, self.seen_ttl, POSTINGS_KEPT, self._term_pre, self._stamp_pre,
                STAMPS_KEPT, *self._vec]


def _member_json(member: StoryArticle) -> str:
    """One member as stored in a story's JSON (the format `story_to_json` writes)."""
    holder = Story(id="", headline="", first_seen=member.time, updated=member.time, version=0,
                   articles=(member,))
    return json.dumps(json.loads(story_to_json(holder, event_time=None))["articles"][0],
                      ensure_ascii=False)
