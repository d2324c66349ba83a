"""Story assignment over the store: copies first, then the best story centroid, atomically.

Layer one finds copies: canonical URL, GUID and normalized title (per outlet) as `seen` keys,
then MinHash LSH bands of the cleaned lead (a republication, a new dateline, a changed title).
A copy from the same outlet is dropped; one from another outlet joins the original's story.
Layer two finds candidate stories through an inverted index of salient terms (sorted sets
scored by event time, capped in length, expiring with the window) and scores each candidate's
centroid (`scoring.evaluate`); the best above `threshold` is joined, else a new story starts.

Every step runs against Redis in two round trips: one Lua script reads everything (copy keys,
LSH buckets, postings, candidate profiles, document frequencies), one Lua script writes. The
read happens under WATCH of the article's copy keys and posting keys, and the write checks the
joined story's version, so two workers placing related articles at the same moment serialize:
whoever commits second sees a changed key, retries, and finds the first one's story.

Dated articles meet stories within the window around their own publication time (replayed 2024
articles group by 2024 times); an undated article is placed at its first-seen time and meets
the most recent postings, with no time preference.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from redis.exceptions import NoScriptError, WatchError

from bot.dedup import fingerprints, scripts
from bot.dedup.features import MAX_TERMS, Features, analyse, salient_terms, vectorize
from bot.dedup.scoring import Evidence, Profile, evaluate, idf_weights
from bot.errors import StoreError
from bot.models import Article, Story, StoryArticle
from bot.store import Store, done, story_from_json, story_to_json
from bot.text import canonical_url, normalized_title

DEFAULT_THRESHOLD = 0.30
SHORT_FACTOR = 0.4  # headline-only articles: fewer terms, lower cosines (UCI sample: 0.12)
SHORT_LEAD = 100
COPY_SIMILARITY = 0.75
MAX_CANDIDATES = 8
POSTINGS_PER_TERM = 32
POSTINGS_KEPT = 256
MAX_LSH_MATCHES = 8
MAX_ATTEMPTS = 50
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
class _Probe:
    """What placing one article needs, computed once before any round trip."""

    article: Article
    raw: dict[str, float]
    feats: Features
    sig: tuple[int, ...] | None
    time: float | None
    when: datetime
    copy_keys: list[str]


@dataclass(frozen=True, slots=True)
class _Decision:
    kind: Literal["new", "joined", "copy"]
    story_id: str
    score: float
    reason: str
    profile: Profile | None = None
    version: int = 0
    feats: Features | None = None


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


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


def _days(start: float, end: float) -> list[str]:
    """The UTC day names from `start` to `end` inclusive."""
    first, last = int(start // _DAY), int(end // _DAY)
    return [datetime.fromtimestamp(d * _DAY, tz=UTC).strftime("%Y%m%d")
            for d in range(first, last + 1)]


class StoryIndex:
    """Assigns articles to stories in the store; safe to share between workers."""

    def __init__(self, store: Store, *, window_seconds: int, seen_seconds: int,
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.store = store
        self.window = window_seconds
        self.seen_ttl = seen_seconds
        self.threshold = threshold
        self._shas: dict[str, str] = {}

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
        probe = self._probe(article, now=now)
        for attempt in range(MAX_ATTEMPTS):
            try:
                placed = await self._attempt(probe, now=now)
            except WatchError:
                placed = None
            except NoScriptError:
                self._shas.clear()
                placed = None
            if placed is not None:
                return placed
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise StoreError(f"dedup: could not place {article.url or article.title!r}: "
                         f"{MAX_ATTEMPTS} conflicting writers in a row")

    def _probe(self, article: Article, *, now: datetime) -> _Probe:
        raw, entities, lead = analyse(article)
        raw = dict(sorted(raw.items(), key=lambda kv: -kv[1])[:MAX_TERMS])
        feats = Features(vector={}, salient=salient_terms(raw), entities=entities, lead=lead)
        keys = self.store.keys
        when = article.published or now
        return _Probe(article=article, raw=raw, feats=feats,
                      sig=fingerprints.signature(lead), when=when,
                      time=article.published.timestamp() if article.published else None,
                      copy_keys=[keys.seen(kind, d) for kind, d in exact_keys(article)])

    async def _attempt(self, probe: _Probe, *, now: datetime) -> Placement | None:
        """One optimistic try: WATCH, read, decide, write; None when another writer won."""
        keys = self.store.keys
        term_keys = [keys.term(t) for t in probe.feats.salient]
        read_sha, write_sha = await self._script("read"), await self._script("write")
        async with self.store.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(*probe.copy_keys, *term_keys)
            read_args = self._read_args(probe, term_keys, now=now)
            found: list[Any] = await done(pipe.evalsha(read_sha, *read_args))  # type: ignore[arg-type]
            decision = self._decide(probe, found)
            if decision.kind == "copy":
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                return Placement("copy", decision.story_id, decision.score, decision.reason)
            story_id, args, new_story = self._write_args(probe, decision, term_keys, now=now)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.evalsha(write_sha, *args)
            (result,) = await pipe.execute()
        if result[0] != "ok":
            return None
        story = new_story or story_from_json(result[1])[0]
        return Placement(decision.kind, story_id, decision.score, decision.reason, story)

    async def _script(self, name: str) -> str:
        if name not in self._shas:
            self._shas[name] = await self.store.redis.script_load(_SOURCES[name])
        return self._shas[name]

    def _read_args(self, probe: _Probe, term_keys: list[str], *, now: datetime) -> list[Any]:
        """numkeys, keys and arguments of scripts/read.lua."""
        keys = self.store.keys
        t = probe.time
        at = t if t is not None else now.timestamp()
        lsh_keys = [keys.lsh(d) for d in _days(at - self.window, at + self.window)]
        df_keys = [keys.doc_freq(d) for d in _days(at - self.window, at)]
        bands = fingerprints.band_fields(probe.sig) if probe.sig else []
        terms = list(probe.raw)
        vec_prefix, vec_suffix = keys.story_vector("\x00").split("\x00")
        ver_prefix, ver_suffix = keys.story_version("\x00").split("\x00")
        all_keys = [*probe.copy_keys, *term_keys, *lsh_keys, *df_keys]
        argv: list[Any] = [
            len(probe.copy_keys), len(term_keys), len(lsh_keys), len(df_keys),
            "" if t is None else t - self.window, "" if t is None else t + self.window,
            POSTINGS_PER_TERM, MAX_CANDIDATES, MAX_LSH_MATCHES,
            vec_prefix, vec_suffix, ver_prefix, ver_suffix, len(bands), *bands, *terms]
        return [len(all_keys), *all_keys, *argv]

    def _decide(self, probe: _Probe, found: list[Any]) -> _Decision:
        """Copy, join or new story, from what the read script returned."""
        if found[0] == "copy":
            return _Decision("copy", found[1], 1.0, f"same {found[2]} as an earlier article")
        _, sigs, flat, freqs, total = found
        profiles = {flat[i]: (Profile.from_json(flat[i + 1]), int(flat[i + 2]))
                    for i in range(0, len(flat), 3)}
        feats = self._weigh(probe, doc_freq=dict(zip(probe.raw, map(int, freqs), strict=False)),
                            total=int(total))
        near = self._near_copy(probe, feats, sigs, profiles)
        if near is not None:
            return near
        threshold = self.threshold * (SHORT_FACTOR if len(feats.lead) < SHORT_LEAD else 1.0)
        best: tuple[Evidence, str] | None = None
        for story_id, (profile, _) in profiles.items():
            evidence = evaluate(feats, profile, time=probe.time, window=self.window)
            if best is None or evidence.score > best[0].score:
                best = (evidence, story_id)
        if best is None or best[0].score < threshold:
            why = best[0].reason(threshold) if best else "no candidate story"
            return _Decision("new", "", 1.0, f"new story (best: {why})", feats=feats)
        evidence, story_id = best
        profile, version = profiles[story_id]
        return _Decision("joined", story_id, evidence.score, evidence.reason(threshold),
                         profile, version, feats)

    @staticmethod
    def _weigh(probe: _Probe, *, doc_freq: dict[str, int], total: int) -> Features:
        """The probe's features with IDF from the window's document frequencies."""
        idf = idf_weights(probe.raw, doc_freq, total)
        return replace(probe.feats, vector=vectorize(probe.raw, idf))

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

    def _write_args(self, probe: _Probe, decision: _Decision, term_keys: list[str], *,
                    now: datetime) -> tuple[str, list[Any], Story | None]:
        """The story id, numkeys+keys+arguments of scripts/write.lua, and a new story."""
        keys, article = self.store.keys, probe.article
        feats = decision.feats or probe.feats
        member = StoryArticle(
            outlet=article.outlet, title=article.title, url=article.url, time=probe.when,
            dated=probe.time is not None, path=article.path, score=round(decision.score, 4),
            reason=decision.reason)
        new_story: Story | None = None
        if decision.profile is None:
            story_id = f"{probe.when:%Y%m%d}-{secrets.token_hex(4)}"
            new_story = Story(id=story_id, headline=article.title, first_seen=now, updated=now,
                              version=1, articles=(member,))
            payload = story_to_json(new_story, event_time=probe.time)
            profile = Profile.of(feats, time=probe.time)
        else:
            story_id = decision.story_id
            payload = _member_json(member)
            profile = decision.profile.add(feats, time=probe.time)
        index_time = profile.first if profile.first is not None else now.timestamp()
        day = probe.when.strftime("%Y%m%d")
        article_id = _digest(f"{article.outlet}\n{article.url}\n{article.title}")
        sig_record = (f"{story_id}\t{article.outlet}\t{fingerprints.encode(probe.sig)}"
                      if probe.sig else "")
        bands = fingerprints.band_fields(probe.sig) if probe.sig else []
        story_keys = [keys.story(story_id), keys.story_vector(story_id),
                      keys.story_version(story_id), keys.stories(), keys.lsh(day),
                      keys.doc_freq(day)]
        all_keys = [*story_keys, *term_keys, *probe.copy_keys]
        argv: list[Any] = [
            decision.version, story_id, payload, profile.to_json(),
            "" if probe.time is None else probe.time, now.timestamp(), now.timestamp(),
            self.window + _DAY, self.window, self.seen_ttl, POSTINGS_KEPT, index_time,
            len(term_keys), len(probe.copy_keys), article_id, sig_record, len(bands), *bands,
            *feats.vector]
        return story_id, [len(all_keys), *all_keys, *argv], new_story


def _member_json(member: StoryArticle) -> str:
    """One member as stored in a story's JSON (the format `story_to_json` writes)."""
    holder = Story(id="", headline="", first_seen=member.time, updated=member.time, version=0,
                   articles=(member,))
    return json.dumps(json.loads(story_to_json(holder, event_time=None))["articles"][0],
                      ensure_ascii=False)
