"""The same-story score of an article against one story's profile, with its parts kept for explain.

score = cosine(article, story centroid)
        - TIME_WEIGHT * how far the article lies outside the story's time span (in windows)
        - across languages, LATE_WEIGHT * the days of that distance beyond SAME_DAY_HOURS.

Reports of one event come within about a day of each other (the event, then reactions and
accounts that add no new development); a report a day or more away from every report of a
story is more often a new development (the release order two days after the arrest, the
service restored two days after the court upheld the ban). Within one language the cosine
tells a rewrite of the event (0.46 two days later still joins) from a follow-up that recalls
it; across languages the bar is halved, and that lower bar lets a days-later follow-up in on
the names and background it shares, so there, past a day, it needs more the later it is.

The centroid is the mean direction of every member's IDF-weighted term vector (in the
language-neutral vocabulary of bot.dedup.analysis), so an article is compared with the story
as a whole, never with its nearest member (no chains).

Reports of one event in two languages share fewer terms than two reports in one language (a
glossed word spreads over its senses, names the dictionary lacks stay apart), so their scores
run lower. A story therefore keeps one centroid per language of its reports: an article is
scored against the centroid of its own language with the threshold, and against each other
language's centroid with the threshold times CROSS_FACTOR (`Evidence.factor`); it joins if
either reaches its bar. So an English report never meets a lowered bar against English reports
just because the story also has Chinese ones.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from itertools import repeat
from operator import mul
from typing import NamedTuple

from bot.dedup.eventday import EVENT_SLACK_DAYS, YEAR_DAYS, days_apart
from bot.dedup.features import MAX_TERMS, Features, cosine, merge
from bot.dedup.jsontext import json_text

try:
    from bot.dedup import _cdedup
    if not all(hasattr(_cdedup, name) for name in ("fits", "merge", "centroid_json")):
        raise ImportError("bot.dedup._cdedup was built from an older _cdedup.c: pip install -e .")
except ImportError:  # installed without a C compiler (or not rebuilt): the Python path runs
    _cdedup = None  # type: ignore[assignment]

CROSS_FACTOR = 0.5
ANY_LANGUAGE = "*"  # the centroid of a profile stored before languages were kept
TIME_WEIGHT = 0.10
LATE_WEIGHT = 0.10  # across languages, per day beyond SAME_DAY_HOURS from the story's reports
SAME_DAY_HOURS = 24.0
SHOWN_TERMS = 6
EVENT_WEIGHT = 0.20  # off when the article's stated event day is days from all the story's
SIZE_PRIOR = 0.08  # added per doubling of a candidate's size when choosing among those above
_UNITS = 1_000_000


@dataclass(frozen=True, slots=True)
class Profile:
    """What the index keeps of a story to score newcomers: one centroid per language of its
    articles, their numbers, size and time span."""

    centroids: dict[str, dict[str, float]]
    count: int = 1
    first: float | None = None
    last: float | None = None
    languages: dict[str, int] = field(default_factory=dict)
    days: tuple[int, ...] = ()  # its members' stated event days (bot.dedup.eventday)

    def to_json(self) -> str:
        """Compact JSON for the story's vector key (weights in millionths: integers print
        three times faster than floats, and this runs for every placed article; the
        centroids' text comes from the C core when it was built, the very text json writes)."""
        rest = {"n": self.count, "t0": self.first, "t1": self.last, "l": self.languages,
                **({"d": list(self.days)} if self.days else {})}
        if _cdedup is not None:
            texts = [_cdedup.centroid_json(c, _UNITS) for c in self.centroids.values()]
            if None not in texts:
                weights = ", ".join(map("{}: {}".format, map(json_text, self.centroids),
                                        texts))
                return f'{{"w": {{{weights}}}, {json_text(rest)[1:]}'
        return json_text({"w": {lang: dict(zip(c, map(round, map(mul, c.values(), repeat(
                          _UNITS))), strict=True)) for lang, c in self.centroids.items()},
                          **rest})

    @classmethod
    def from_json(cls, raw: str) -> Profile:
        """The profile stored by `to_json`; one stored before stories kept a centroid per
        language (a single centroid under "w") is read as one of unknown language."""
        data = json.loads(raw)
        weights = data["w"]
        if not all(isinstance(c, dict) for c in weights.values()):
            weights = {ANY_LANGUAGE: weights}
        return cls(centroids={lang: dict(zip(c, map(mul, c.values(), repeat(1 / _UNITS)),
                                             strict=True)) for lang, c in weights.items()},
                   count=data["n"], first=data["t0"], last=data["t1"],
                   languages=data.get("l") or {}, days=tuple(data.get("d") or ()))

    @classmethod
    def of(cls, feats: Features, *, time: float | None) -> Profile:
        """The profile of a one-article story."""
        return cls(centroids={feats.language: feats.vector}, first=time, last=time,
                   languages={feats.language: 1},
                   days=() if feats.event_day is None else (feats.event_day,))

    def add(self, feats: Features, *, time: float | None) -> Profile:
        """The profile after `feats` joins (its vector joins its language's centroid)."""
        times = [t for t in (self.first, self.last, time) if t is not None]
        lang = feats.language
        members = self.languages.get(lang, 0)
        own = self.centroids.get(lang)
        centroid = _merged(own, feats.vector, members) if own is not None else feats.vector
        return Profile(centroids={**self.centroids, lang: centroid}, count=self.count + 1,
                       first=min(times, default=None), last=max(times, default=None),
                       languages={**self.languages, lang: members + 1},
                       days=self.days if feats.event_day is None or feats.event_day in self.days
                       else tuple(sorted((*self.days, feats.event_day))))


def _merged(centroid: dict[str, float], vector: dict[str, float], count: int
            ) -> dict[str, float]:
    """`features.merge`, in the C core when it was built (the same dict to the bit)."""
    if _cdedup is not None and (done := _cdedup.merge(centroid, vector, count, MAX_TERMS)
                                ) is not None:
        return done
    return merge(centroid, vector, count)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The parts of one score, for the decision and for `explain`."""

    cosine: float
    time: float  # windows between the article and the story's time span (at most 1)
    shared: tuple[str, ...] = field(default=())
    factor: float = 1.0
    languages: str = ""  # "zh report, en story" when the threshold was lowered for languages
    late: float = 0.0  # across languages: days of that distance beyond SAME_DAY_HOURS
    apart: int = 0  # days between the article's stated event day and the story's (if too far)

    @property
    def score(self) -> float:
        """The number compared with the threshold."""
        return self.cosine - self.penalty

    @property
    def penalty(self) -> float:
        """What the distance in time takes off the cosine."""
        return TIME_WEIGHT * self.time + LATE_WEIGHT * self.late + EVENT_WEIGHT * (self.apart > 0)

    def passes(self, threshold: float) -> bool:
        """True when the score reaches `threshold` as adjusted for the languages."""
        return self.score >= threshold * self.factor

    def reason(self, threshold: float) -> str:
        """One line for `explain`: the parts, the verdict, the terms that carried it."""
        verdict = ">=" if self.passes(threshold) else "<"
        required = f"{threshold * self.factor:.2f}"
        if self.factor != 1.0:
            required += f" ({threshold:.2f} x {self.factor:.2f}: {self.languages})"
        event = EVENT_WEIGHT * (self.apart > 0)
        shown = f" - event day {self.apart} days off {event:.2f}" if event else ""
        return (f"cosine {self.cosine:.2f} - time {self.penalty - event:.2f}{shown} = "
                f"{self.score:.2f} {verdict} {required}; shared: {', '.join(self.shared) or '-'}")


def evaluate(feats: Features, profile: Profile, *, time: float | None, window: float
             ) -> Evidence:
    """Score `feats` (published at `time`, None if undated) against a story's profile: against
    the story's reports in the article's own language, and against those in each other
    language with the lower cross-language bar; the better of the two, relative to its bar."""
    return _fit(feats, profile, time=time, window=window).evidence(feats)


_CONSTANTS = (TIME_WEIGHT, LATE_WEIGHT, EVENT_WEIGHT, SAME_DAY_HOURS, CROSS_FACTOR,
              EVENT_SLACK_DAYS, YEAR_DAYS, ANY_LANGUAGE)  # what _cdedup.fits weighs with


class _Fit(NamedTuple):
    """An `Evidence` before it is built: its numbers, and the score relative to its bar
    (`best_story` weighs a dozen candidates an article and builds Evidence for two)."""

    relative: float  # score / factor, what candidates and languages are compared by
    score: float
    cosine: float
    time: float
    late: float
    apart: int
    factor: float
    language: str | None  # the story's language when it is another than the article's

    def evidence(self, feats: Features) -> Evidence:
        """The Evidence `evaluate` gives for these numbers."""
        return Evidence(cosine=self.cosine, time=self.time, apart=self.apart, late=self.late,
                        factor=self.factor, languages="" if self.language is None
                        else f"{feats.language} report, {self.language} story")


def _fit(feats: Features, profile: Profile, *, time: float | None, window: float) -> _Fit:
    """`evaluate`'s numbers: the same sums in the same order as Evidence's properties (the
    same bits), the first language that scores best relative to its bar."""
    seconds = 0.0
    if time is not None and profile.first is not None and profile.last is not None:
        seconds = max(0.0, profile.first - time, time - profile.last)
    gap, late = min(seconds / window, 1.0), max(0.0, seconds / 3600 - SAME_DAY_HOURS) / 24
    apart = days_apart(feats.event_day, profile.days)
    event = EVENT_WEIGHT * (apart > 0)
    own = TIME_WEIGHT * gap + LATE_WEIGHT * 0.0 + event
    other = TIME_WEIGHT * gap + LATE_WEIGHT * late + event
    best: _Fit | None = None
    for lang, centroid in profile.centroids.items():
        same = lang in (feats.language, ANY_LANGUAGE)
        near = cosine(feats.vector, centroid)
        score = near - (own if same else other)
        relative = score if same else score / CROSS_FACTOR
        if best is None or relative > best.relative:
            best = (_Fit(relative, score, near, gap, 0.0, apart, 1.0, None) if same else
                    _Fit(relative, score, near, gap, late, apart, CROSS_FACTOR, lang))
    return best or _Fit(0.0 - other, 0.0 - other, 0.0, gap, late, apart, 1.0, None)


def _fits(feats: Features, profiles: list[Profile], *, time: float | None, window: float
          ) -> list[_Fit]:
    """`_fit` for each of `profiles`: its numbers in the C core when it was built (the same
    operations in the same order, so the same bits), else in Python."""
    if _cdedup is not None and (fits := _cdedup.fits(
            feats.vector, feats.language, feats.event_day, time, window, profiles,
            _CONSTANTS)) is not None:
        return list(map(_Fit._make, fits))
    return [_fit(feats, p, time=time, window=window) for p in profiles]


def best_story(feats: Features, profiles: dict[str, Profile], *, time: float | None,
               threshold: float, window: float) -> tuple[Evidence, str, str] | None:
    """The story to join: best score plus SIZE_PRIOR * log2(its size), relative to the score
    each must reach (lower across languages), among those that reach it (else the closest,
    for the reason), with a note when the prior chose. Ties go to the lower story id."""
    ids = sorted(profiles)
    scored = list(zip(_fits(feats, [profiles[sid] for sid in ids], time=time, window=window),
                      ids, strict=True))
    if not scored:
        return None
    closest = max(scored, key=lambda fs: fs[0].relative)
    passing = [fs for fs in scored if fs[0].score >= threshold * fs[0].factor]
    if not passing:
        return closest[0].evidence(feats), closest[1], ""
    chosen = max(passing, key=lambda fs: (fs[0].score + SIZE_PRIOR * math.log2(
        profiles[fs[1]].count)) / fs[0].factor)
    if chosen[1] == closest[1]:
        return chosen[0].evidence(feats), chosen[1], ""
    return chosen[0].evidence(feats), chosen[1], (
        f"; chosen for its {profiles[chosen[1]].count} articles over a closer story "
        f"of {profiles[closest[1]].count} ({closest[0].score:.2f})")


def explained(evidence: Evidence, feats: Features, profile: Profile) -> Evidence:
    """`evidence` with the terms that carried it (computed for the chosen story only), each
    shown with the words it was read from when those differ (`召见 -> summon`, `@dprk (朝鲜)`)."""
    centroid: dict[str, float] = {}
    for other in profile.centroids.values():
        for term, weight in other.items():
            centroid[term] = max(centroid.get(term, 0.0), weight)
    shared = sorted(((v * centroid[t], t) for t, v in feats.vector.items() if t in centroid),
                    reverse=True)
    return replace(evidence, shared=tuple(_shown(t, feats.sources.get(t))
                                          for _, t in shared[:SHOWN_TERMS]))


def _shown(term: str, source: str | None) -> str:
    """A shared term as `explain` prints it: with the article's own words when it was
    translated or normalized from them."""
    if not source or source == term:
        return term
    if term[:1] in "@#~":
        return f"{term} ({source})"
    return f"{source} -> {term}"
