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
rounds and, whenever it waits for the server (a round's read, the last round's write), analyses
the next articles (`Ahead`: the analysis depends on no read; document frequencies and salient
terms are settled just before an article's round). The read sends a candidate's profile once a
call; scoring, centroids and MinHash run in an optional C core (`_cdedup`, the Python's bits).
Inside a round each article is decided as if the earlier ones were stored (`Round`: the
stories they started or joined, as they will be, join its candidates the way the read would
have found them, and their fingerprints its copies), so a batch groups as one article at a time
does. There is no WATCH: the write checks that no copy key appeared, that the joined story's
version is the one read, and, for a new story, that no other writer added a story to the
article's salient postings since the read (a log of stamps). A refused write is retried with a
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
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Literal

from bot.dedup import fingerprints, jsontext, scripts
from bot.dedup.analysis import Analyzer, shipped_analyzer
from bot.dedup.caches import DfCache, ProfileCache, StoryCache
from bot.dedup.features import (
    MAX_TERMS,
    NATIVE_SALIENT,
    SALIENT_TERMS,
    SHORT_LEAD,
    Features,
    ranked_terms,
    vectorize,
)
from bot.dedup.rounds import (
    DAY_SECONDS,
    MAX_CANDIDATES,
    Ahead,
    Analysed,
    Decision,
    DfAsk,
    Probe,
    Round,
    Write,
    day_name,
    days_between,
    df_asks,
    df_counted,
    digest,
    exact_keys,
    landed,
    near_copy,
    read_entry,
    story_id_for,
    with_sent,
)
from bot.dedup.scoring import CROSS_FACTOR, Profile, best_story, explained
from bot.errors import StoreError
from bot.models import Article, Story, StoryArticle
from bot.store import Scripts, Store, member_to_json, story_to_json

DEFAULT_THRESHOLD = 0.30
SHORT_FACTOR = 0.33  # headline-only articles: fewer terms, lower cosines (UCI sample: 0.12)
POSTINGS_PER_TERM = 8
POSTED_TERMS = 10  # of the salient terms an article reads, the ones its story is posted under
POSTINGS_KEPT = 256
MAX_LSH_MATCHES = 8
MAX_ATTEMPTS = 50
ROUND_SIZE = 64  # articles per read and write call
STAMPS_KEPT = 512  # the latest writes that posted a story under new terms, for the write check
PROFILE_CACHE = 4096
STORY_CACHE = 4096
NEARBY_SHARE = 0.8  # of the bar: a same-language story another writer added is close (WRITE)


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


class StoryIndex:
    """Assigns articles to stories in the store; safe to share between workers."""

    def __init__(self, store: Store, *, window_seconds: int, seen_seconds: int,
                 threshold: float = DEFAULT_THRESHOLD, analyzer: Analyzer | None = None) -> None:
        self.store = store
        self.analyzer = analyzer or shipped_analyzer()
        self.window = window_seconds
        self.seen_ttl = seen_seconds
        self.threshold = threshold
        self._scripts = Scripts(store, {"read": scripts.READ, "write": scripts.WRITE})
        self.refused: Counter[str] = Counter()  # writes refused, by reason (benchmarks)
        self._profiles = ProfileCache(PROFILE_CACHE)
        self._stories = StoryCache(STORY_CACHE)
        self._df = DfCache()
        keys = store.keys
        vec_pre, vec_suf = self._vec = keys.story_vector("\x00").split("\x00")
        self._seq_key = keys("dedup", "seq")
        self._term_pre = keys.term("")
        self._stamp_log = keys("dedup", "stamps")
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
        are scored as they will be after those writes (see `Round`). While a round's write
        runs on the server, and while a round's read runs, the next articles are analysed
        here (`Ahead`: what no read changes; their document frequencies and salient terms are
        settled just before their own round, as if nothing ran ahead).
        """
        ahead = Ahead(articles, partial(self._analysed, now=now))
        probes: list[Probe] = []
        results: list[Placement | None] = [None] * len(articles)
        tries = [0] * len(articles)
        retry: list[int] = []
        landing: asyncio.Task[list[int]] | None = None
        try:
            while True:
                start = len(probes)
                end = min(start + max(ROUND_SIZE - len(retry), 0), len(articles))
                probes.extend(self._probe(ahead.take(i)) for i in range(start, end))
                if landing is not None:
                    retry = sorted([*retry, *await ahead.meanwhile(landing)])
                    landing = None
                batch = [*retry, *range(start, len(probes))]
                if not batch:
                    return [r for r in results if r is not None]
                self._count_tries(batch, tries, probes)
                if retry and len(batch) == len(retry):  # only conflicts left: back off a bit
                    await asyncio.sleep(random.uniform(0, 0.0005 * max(tries)))
                retry, landing = await self._round(probes, batch, results, tries, ahead,
                                                   now=now)
        finally:
            if landing is not None:
                landing.cancel()

    @staticmethod
    def _count_tries(batch: list[int], tries: list[int], probes: list[Probe]) -> None:
        """Count one more try for each of `batch`; give up past MAX_ATTEMPTS."""
        for i in batch:
            tries[i] += 1
            if tries[i] > MAX_ATTEMPTS:
                article = probes[i].article
                raise StoreError(f"dedup: could not place {article.url or article.title!r}: "
                                 f"{MAX_ATTEMPTS} conflicting writers in a row")

    def _analysed(self, article: Article, *, now: datetime) -> Analysed:
        """What placing `article` needs that no read changes."""
        analysis = self.analyzer.analyse(article)
        raw = analysis.raw
        if len(raw) > MAX_TERMS:
            raw = dict(sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS])
        keys = self.store.keys
        sig = fingerprints.signature(analysis.lead)
        return Analysed(article, analysis, raw, sig, article.published or now,
                        fingerprints.band_fields(sig) if sig else [],
                        [keys.seen(kind, d) for kind, d in exact_keys(article)])

    def _probe(self, analysed: Analysed) -> Probe:
        """The article's probe: its salient terms by the document frequencies known now."""
        article, analysis, raw, when = (analysed.article, analysed.analysis, analysed.raw,
                                        analysed.when)
        at = when.timestamp()
        days = days_between(at - self.window, at)
        fetch, known = self._df.lookup(raw, days)
        idf = self.analyzer.background.idf(raw, known, self._df.total)
        neutral, native = ranked_terms(raw, idf=idf)
        native = native[:NATIVE_SALIENT]
        feats = Features(vector={}, salient=(*neutral[:SALIENT_TERMS], *native),
                         lead=analysis.lead, event_day=analysis.event_day,
                         language=analysis.language, sources=analysis.sources)
        return Probe(article=article, raw=raw, feats=feats, sig=analysed.sig, when=when,
                      time=article.published.timestamp() if article.published else None,
                      copy_keys=analysed.copy_keys, df_days=days, bands=analysed.bands,
                      ask=DfAsk(days, fetch, known, count=True),
                      posted=(*neutral[:POSTED_TERMS], *native))

    async def _round(self, probes: list[Probe], pending: list[int],
                     results: list[Placement | None], tries: list[int], ahead: Ahead, *,
                     now: datetime) -> tuple[list[int], asyncio.Task[list[int]] | None]:
        """One read call, then one write call sent for `pending`: returns the indices to
        retry and the task that lands the write (it returns the refused indices)."""
        asks: list[DfAsk] = []
        for i in pending:  # the window's article count: once a round for each range of days
            ask = probes[i].ask
            count = bool(ask.terms) or all(a.days != ask.days for a in asks if a.count)
            asks.append(replace(ask, count=count))
        wanted, ranges = df_asks(asks, self.store.keys)
        entries = [wanted, *(read_entry(probes[i], self.store.keys, window=self.window,
                                        now=now) for i in pending)]
        found = await ahead.meanwhile(self._scripts.run("read", [*self._read_head, *entries]))
        seq = int(found[0])
        counted = df_counted(ranges, found[1])
        done_here = Round()
        totals: dict[tuple[str, ...], int] = {}
        sent: dict[str, str] = {}
        for i, ask, reply in zip(pending, asks, found[2:], strict=True):
            decision = self._decide(probes[i], with_sent(reply, sent), ask, totals,
                                    counted[ask.days], seq=seq, round_=done_here)
            if decision.kind == "copy":
                results[i] = Placement("copy", decision.story_id, decision.score,
                                       decision.reason)
                continue
            done_here.add(self._plan(i, probes[i], decision, now=now, attempt=tries[i],
                                     chain=decision.story_id in done_here.stories), probes[i])
        if not done_here.writes:
            return [], None
        landing = asyncio.create_task(self._land(done_here.writes, results, now=now))
        await asyncio.sleep(0)  # let the task send the write before the caller computes on
        return [], landing

    async def _land(self, planned: list[Write], results: list[Placement | None], *,
                    now: datetime) -> list[int]:
        """Run the round's write call; record the placements, return the refused indices."""
        replies = await self._scripts.run("write", [*self._write_head(now),
                                                    *(a for w in planned for a in w.args)])
        refused: list[int] = []
        held: dict[str, tuple[Story, float]] = {}  # the stories written by this call
        for write, reply in zip(planned, replies, strict=True):
            if reply[0] != "ok":
                self.refused[reply[1]] += 1
                refused.append(write.index)
                continue
            self._profiles.remember(write.story_id, str(write.version + 1), write.profile)
            story, stored, updated = landed(write, reply, held, now=now.timestamp())
            held[write.story_id] = (stored, updated)
            self._stories.keep(stored, updated)
            results[write.index] = Placement(write.kind, write.story_id, write.score,
                                             write.reason, story)
        return refused

    def _decide(self, probe: Probe, found: list[Any], ask: DfAsk,
                totals: dict[tuple[str, ...], int], counted: tuple[int, dict[str, int]], *,
                seq: int, round_: Round) -> Decision:
        """Copy, join or new story, from what the read script returned for `probe` (`counted`:
        the count and frequencies of the round's terms of its days) and what earlier articles
        of the round wrote (the window's count: from the first not a copy that counted it)."""
        if found[0] == "copy":
            return Decision("copy", found[1], 1.0, f"same {found[2]} as an earlier article")
        _, sigs, flat = found
        profiles = {flat[i]: parsed for i in range(0, len(flat), 2)
                    if (parsed := self._profiles.parse(flat[i], flat[i + 1])) is not None}
        profiles |= round_.around(probe, profiles, window=self.window)
        if ask.count:
            totals[ask.days] = counted[0]
        total = totals.get(ask.days, self._df.total)  # the counting read found a copy
        fetched = {term: counted[1][term] for term in ask.terms}
        self._df.update(probe, fetched, total)
        doc_freq = ask.known | fetched
        feats = replace(probe.feats, vector=vectorize(
            probe.raw, self.analyzer.background.idf(probe.raw, doc_freq, total)))
        near = near_copy(probe, feats, [*sigs, *round_.copies(probe)], profiles)
        if near is not None:
            return replace(near, seq=seq)
        threshold = self._threshold(feats)
        best = best_story(feats, {sid: p for sid, (p, _) in profiles.items()}, time=probe.time,
                          threshold=threshold, window=self.window)
        if best is None:
            return Decision("new", "", 1.0, "new story (best: no candidate story)",
                             feats=feats, seq=seq)
        evidence, story_id, note = best
        if not evidence.passes(threshold):
            return Decision("new", "", 1.0, f"new story (best: {evidence.reason(threshold)})",
                             feats=feats, seq=seq)
        profile, version = profiles[story_id]
        return Decision("joined", story_id, evidence.score,
                         explained(evidence, feats, profile).reason(threshold) + note,
                         profile, version, feats, seq)

    def _threshold(self, feats: Features) -> float:
        """The score to reach: lower for a headline-only article (fewer terms to share)."""
        return self.threshold * (SHORT_FACTOR if len(feats.lead) < SHORT_LEAD else 1.0)

    def _plan(self, index: int, probe: Probe, decision: Decision, *, now: datetime,
              attempt: int, chain: bool) -> Write:
        """The write script's JSON argument for one article, and what it will make (`chain`:
        it joins a story as an earlier write of the round leaves it)."""
        keys, article = self.store.keys, probe.article
        feats = decision.feats or probe.feats
        aid = digest(f"{article.outlet}\n{article.url}\n{article.title}")
        member = StoryArticle(
            outlet=article.outlet, title=article.title, url=article.url, time=probe.when,
            time_source=article.time_source if probe.time is not None else "seen",
            time_evidence=article.time_evidence, path=article.path,
            score=round(decision.score, 4),
            reason=decision.reason)
        new_story: Story | None = None
        held: tuple[Story, float] | None = None
        entry: dict[str, Any]
        if decision.profile is None:
            kind: Literal["new", "joined"] = "new"
            story_id = story_id_for(probe.when, aid, attempt)
            new_story = Story(id=story_id, headline=article.title, first_seen=now, updated=now,
                              version=1, articles=(member,))
            payload = story_to_json(new_story, event_time=probe.time)
            profile = Profile.of(feats, time=probe.time)
            bar = self._threshold(feats)
            entry = {"lang": feats.language, "floor": bar * NEARBY_SHARE,
                     "cross": bar * CROSS_FACTOR}
        else:
            kind, story_id = "joined", decision.story_id
            payload = member_to_json(member)
            profile = decision.profile.add(feats, time=probe.time)
            held = None if chain else self._stories.get(story_id, decision.version)
            entry = ({"known": repr(now.timestamp()), "chain": True} if chain
                     else {} if held is None else {"known": repr(held[1])})
        day = day_name(int(probe.when.timestamp() // DAY_SECONDS))
        record = (f"{story_id}\t{article.outlet}\t{fingerprints.encode(probe.sig)}"
                  if probe.sig else "")
        entry |= {
            "v": decision.version, "id": story_id, "t": probe.time, "seq": decision.seq,
            "score": profile.first if profile.first is not None else now.timestamp(),
            "aid": aid,
            "sig": record,
            "bands": probe.bands, "salient": probe.feats.salient, "posted": probe.posted,
            "terms": list(feats.vector),
            "copy": probe.copy_keys,
            "keys": {"story": keys.story(story_id), "vec": keys.story_vector(story_id),
                     "lsh": keys.lsh(day),
                     "df": keys.doc_freq(day)}}
        return Write(index=index, kind=kind, story_id=story_id, score=decision.score,
                      reason=decision.reason, version=decision.version, profile=profile,
                      salient=probe.posted,
                      args=(jsontext.json_text(entry), profile.to_json(), payload),
                      story=new_story, base=None if held is None else held[0], chain=chain,
                      record=record)

    def _write_head(self, now: datetime) -> list[Any]:
        keys = self.store.keys
        return [self._seq_key, keys.stories(), now.timestamp(), self.window + DAY_SECONDS,
                self.window, self.seen_ttl, POSTINGS_KEPT, self._term_pre, self._stamp_log,
                STAMPS_KEPT, *self._vec]

