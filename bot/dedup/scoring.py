"""The same-story score of an article against one story's profile, with its parts kept for explain.

score = cosine(article, story centroid) + NAME_WEIGHT * shared names and numbers
        - TIME_WEIGHT * how far the article lies outside the story's time span (in windows).

The centroid is the mean direction of every member's IDF-weighted term vector, so an article
is compared with the story as a whole, never with its nearest member (no chains).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import repeat
from operator import mul

from bot.dedup.features import Features, cosine, merge

NAME_WEIGHT = 0.10
TIME_WEIGHT = 0.10
MAX_ENTITIES = 80
SHOWN_TERMS = 6
_UNITS = 1_000_000


@dataclass(frozen=True, slots=True)
class Profile:
    """What the index keeps of a story to score newcomers: centroid, size, names, time span."""

    centroid: dict[str, float]
    count: int = 1
    entities: frozenset[str] = frozenset()
    first: float | None = None
    last: float | None = None

    def to_json(self) -> str:
        """Compact JSON for the story's vector key (weights in millionths: integers print
        three times faster than floats, and this runs for every placed article)."""
        return json.dumps({"w": dict(zip(self.centroid, map(round, map(
                               mul, self.centroid.values(), repeat(_UNITS))), strict=True)),
                           "n": self.count, "e": sorted(self.entities),
                           "t0": self.first, "t1": self.last}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Profile:
        """The profile stored by `to_json` (or by earlier versions: float weights under "c",
        or a bare centroid)."""
        data = json.loads(raw)
        if "w" in data:
            centroid = dict(zip(data["w"], map(mul, data["w"].values(), repeat(1 / _UNITS)),
                                strict=True))
        elif "c" in data:
            centroid = data["c"]
        else:
            return cls(centroid=data)
        return cls(centroid=centroid, count=data["n"], entities=frozenset(data["e"]),
                   first=data["t0"], last=data["t1"])

    @classmethod
    def of(cls, feats: Features, *, time: float | None) -> Profile:
        """The profile of a one-article story."""
        return cls(centroid=feats.vector, entities=_cap(feats.entities), first=time, last=time)

    def add(self, feats: Features, *, time: float | None) -> Profile:
        """The profile after `feats` joins."""
        times = [t for t in (self.first, self.last, time) if t is not None]
        return Profile(centroid=merge(self.centroid, feats.vector, self.count),
                       count=self.count + 1, entities=_cap(self.entities | feats.entities),
                       first=min(times, default=None), last=max(times, default=None))


@dataclass(frozen=True, slots=True)
class Evidence:
    """The parts of one score, for the decision and for `explain`."""

    cosine: float
    names: float
    time: float
    shared: tuple[str, ...] = field(default=())

    @property
    def score(self) -> float:
        """The number compared with the threshold."""
        return self.cosine + NAME_WEIGHT * self.names - TIME_WEIGHT * self.time

    def reason(self, threshold: float) -> str:
        """One line for `explain`: the parts, the verdict, the terms that carried it."""
        verdict = ">=" if self.score >= threshold else "<"
        return (f"cosine {self.cosine:.2f} + names {NAME_WEIGHT * self.names:.2f} "
                f"- time {TIME_WEIGHT * self.time:.2f} = {self.score:.2f} {verdict} "
                f"{threshold:.2f}; shared: {', '.join(self.shared) or '-'}")


def evaluate(feats: Features, profile: Profile, *, time: float | None, window: float
             ) -> Evidence:
    """Score `feats` (published at `time`, None if undated) against a story's profile."""
    names = _overlap(feats.entities, profile.entities)
    gap = 0.0
    if time is not None and profile.first is not None and profile.last is not None:
        gap = max(0.0, profile.first - time, time - profile.last) / window
    return Evidence(cosine=cosine(feats.vector, profile.centroid), names=names,
                    time=min(gap, 1.0))


def explained(evidence: Evidence, feats: Features, profile: Profile) -> Evidence:
    """`evidence` with the terms that carried it (computed for the chosen story only)."""
    shared = sorted(((v * profile.centroid.get(t, 0.0), t) for t, v in feats.vector.items()
                     if t in profile.centroid), reverse=True)
    return replace(evidence, shared=tuple(t for _, t in shared[:SHOWN_TERMS]))


def _overlap(mine: frozenset[str], theirs: frozenset[str]) -> float:
    """Shared names and numbers as a share of the smaller set (0 when either has none)."""
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / min(len(mine), len(theirs))


def _cap(entities: Iterable[str]) -> frozenset[str]:
    return frozenset(sorted(entities)[:MAX_ENTITIES])


def idf_weights(terms: Iterable[str], doc_freq: Mapping[str, int], total: int
                ) -> dict[str, float]:
    """Smoothed inverse document frequency from counts over the window."""
    return {t: math.log((total + 1) / (doc_freq.get(t, 0) + 1)) + 1.0 for t in terms}
