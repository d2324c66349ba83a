"""The C core of story placement (bot.dedup._cdedup) gives the very results of the Python paths:
cosine to the bit (math.fsum's exactly rounded sum, whatever the order of the terms), the
MinHash signature and the scoring of candidate stories (`scoring._fit`'s numbers, and so
`best_story`'s choice and reason), on random and adversarial inputs and on real articles; and
it declines what only the Python path handles (another Mapping, an int weight), which then
runs."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import features, fingerprints, scoring
from bot.dedup.analysis import shipped_analyzer
from bot.dedup.features import python_cosine
from bot.dedup.fingerprints import python_minhash, shingle_hashes
from bot.dedup.scoring import Profile, best_story
from bot.feeds.seeds import read_seed_folder
from bot.models import Article
from tests.conftest import REPO, SEEDS


def seed_articles() -> list[Article]:
    seeds, _ = read_seed_folder(SEEDS)
    return list(seeds)


pytestmark = pytest.mark.skipif(features._cdedup is None,
                                reason="bot.dedup._cdedup is not built (no C compiler)")

_weights = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150)
_vectors = st.dictionaries(st.sampled_from([f"t{i}" for i in range(40)]), _weights,
                           max_size=40)


def _same(a: float, b: float) -> bool:
    return math.copysign(1.0, a) == math.copysign(1.0, b) and a.hex() == b.hex()


@settings(max_examples=400, deadline=None)
@given(_vectors, _vectors)
def test_cosine_is_math_fsum_to_the_bit(a: dict[str, float], b: dict[str, float]) -> None:
    assert features._cdedup is not None
    exact = features._cdedup.cosine(a, b)
    assert exact is not None
    assert _same(exact, python_cosine(a, b))
    assert _same(features._cdedup.cosine(b, a) or 0.0, exact)  # either side the smaller


def test_cosine_on_cancelling_and_tiny_products() -> None:
    """Sums where naive addition loses everything: huge products that cancel, subnormals,
    half-way cases of the final rounding."""
    rng = random.Random(7)
    cases = [
        ({"a": 1e100, "b": 1.0, "c": -1e100}, {"a": 1.0, "b": 1.0, "c": 1.0}),
        ({"a": 1e-160, "b": 1e-160}, {"a": 1e-160, "b": -3e-160}),
        ({"a": 1.0, "b": 2.0 ** -53, "c": 2.0 ** -106},
         {"a": 1.0, "b": 1.0, "c": 1.0}),
        ({"a": 1.0, "b": 2.0 ** -53, "c": -(2.0 ** -106)},
         {"a": 1.0, "b": 1.0, "c": 1.0}),
        ({}, {"a": 1.0}),
        ({"a": -0.0}, {"a": 1.0}),
    ]
    for _ in range(300):
        terms = [f"w{i}" for i in range(rng.randint(1, 120))]
        a = {t: rng.choice([1.0, -1.0]) * rng.random() * 10 ** rng.randint(-30, 30)
             for t in terms}
        b = {t: rng.random() for t in terms if rng.random() < 0.7}
        cases.append((a, b))
    for a, b in cases:
        assert _same(features.cosine(a, b), python_cosine(a, b)), (a, b)


class Weights(Mapping[str, float]):
    """A Mapping that is no dict: the C core leaves it to the Python path."""

    def __init__(self, data: dict[str, float]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> float:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_cosine_leaves_other_mappings_and_ints_to_python() -> None:
    assert features._cdedup is not None
    assert features._cdedup.cosine(Weights({"a": 0.5}), {"a": 0.5}) is None
    assert features._cdedup.cosine({"a": 1}, {"a": 0.5}) is None
    assert features._cdedup.cosine({"a": 1e300}, {"a": 1e300}) is None  # overflows
    assert features.cosine(Weights({"a": 0.5}), {"a": 0.5}) == 0.25
    assert features.cosine({"a": 1}, {"a": 0.5}) == 0.5


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=2 ** 64 - 1), min_size=1, max_size=300))
def test_minhash_is_the_python_signature(hashes: set[int]) -> None:
    assert fingerprints._cdedup is not None
    assert fingerprints._cdedup.minhash(hashes) == python_minhash(hashes)


def test_minhash_on_sparse_bins_and_real_leads() -> None:
    """Few filled bins (densification does most of the work) and the leads of the seeds."""
    assert fingerprints._cdedup is not None
    for bins in ([0], [63], [5, 40], list(range(0, 64, 9))):
        hashes = {(n << 6) | b for b in bins for n in (3, 2 ** 50, 77)}
        assert fingerprints._cdedup.minhash(hashes) == python_minhash(hashes)
    analyzer = shipped_analyzer()
    leads = [analyzer.analyse(article).lead for article in seed_articles()]
    signed = 0
    for lead in leads:
        hashes = shingle_hashes(lead)
        if hashes:
            assert fingerprints._cdedup.minhash(hashes) == python_minhash(hashes)
            signed += fingerprints.signature(lead) is not None
    assert signed >= 5


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2 ** 61 - 2), max_size=300),
       st.integers(min_value=1, max_value=60))
def test_shingle_minhash_is_the_python_signature(units: list[int], minimum: int) -> None:
    """Shingles hashed as CPython hashes a tuple of three ints, counted and binned in C."""
    assert fingerprints._cdedup is not None
    hashes = set(map(hash, zip(units, units[1:], units[2:], strict=False)))
    hashes = {h & (2 ** 64 - 1) for h in hashes}
    sig = fingerprints._cdedup.shingle_minhash(units, minimum)
    if len(units) < 3:
        assert sig is None
    elif len(hashes) < minimum:
        assert sig == ()
    else:
        assert sig == python_minhash(hashes)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(min_value=0, max_value=2 ** 32 - 1), st.just(0)),
                min_size=64, max_size=64))
def test_band_fields_are_the_python_fields(values: list[int]) -> None:
    assert fingerprints._cdedup is not None
    sig = tuple(values)
    fields = fingerprints._cdedup.band_fields(sig, fingerprints.LSH_ROWS)
    assert fields == [f"b{band}:{hash(sig[band * 4:band * 4 + 4]) & 0xFFFFFFFFFFFF:x}"
                      for band in range(fingerprints.LSH_BANDS)]


def test_signatures_of_real_leads_and_short_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`signature` with and without the core: the seeds' and the dev set's leads and texts
    (Chinese and English), repeated and too short ones."""
    analyzer = shipped_analyzer()
    articles = seed_articles() + list(read_seed_folder(REPO / "tests/data/dev")[0])
    texts = [t for a in articles for t in (analyzer.analyse(a).lead, a.text)]
    texts += ["", "a b", "朝鲜派兵", " ".join(["word"] * 50), "中国" * 60, "a b c d " * 4]
    native = [fingerprints.signature(t) for t in texts]
    fields = [fingerprints.band_fields(s) for s in native if s is not None]
    monkeypatch.setattr(fingerprints, "_cdedup", None)
    assert native == [fingerprints.signature(t) for t in texts]
    assert fields == [fingerprints.band_fields(s) for s in native if s is not None]
    assert sum(s is not None for s in native) >= 20


def test_minhash_leaves_odd_sets_to_python() -> None:
    assert fingerprints._cdedup is not None
    assert fingerprints._cdedup.minhash({-1, 5}) is None
    assert fingerprints._cdedup.minhash({2 ** 64}) is None
    assert fingerprints._cdedup.minhash({"x"}) is None  # type: ignore[arg-type]
    assert fingerprints._cdedup.shingle_minhash([1, 2, -3], 1) is None
    assert fingerprints._cdedup.shingle_minhash([1, 2, 2 ** 61 - 1], 1) is None
    assert fingerprints._cdedup.shingle_minhash([1, 2, "x"], 1) is None  # type: ignore[list-item]
    assert fingerprints._cdedup.band_fields((1, -2, 3, 4), 4) is None


def test_cosine_on_real_article_vectors() -> None:
    """Every pair of the seeds' vectors: the C and Python paths agree to the bit."""
    analyzer = shipped_analyzer()
    vectors = [features.vectorize(analyzer.analyse(a).raw) for a in seed_articles()]
    vectors.append(features.vectorize(analyzer.analyse(Article(
        outlet="x", title="朝鲜派兵俄罗斯", text="朝鲜向俄罗斯派兵一万人")).raw))
    for a in vectors:
        for b in vectors:
            assert _same(features.cosine(a, b), python_cosine(a, b))


_unit_vectors = st.builds(features.unit, st.dictionaries(
    st.sampled_from([f"t{i}" for i in range(30)]), st.floats(min_value=0.001, max_value=50.0),
    max_size=30))
_centroids = st.dictionaries(st.sampled_from(["en", "zh", "ja", "*"]), _unit_vectors,
                             max_size=3)
_times = st.one_of(st.none(), st.floats(min_value=-4e5, max_value=4e5))
_days = st.one_of(st.none(), st.integers(min_value=19_000, max_value=21_000))
_profiles = st.builds(Profile, centroids=_centroids, count=st.integers(1, 40), first=_times,
                      last=_times, days=st.lists(st.integers(19_000, 21_000), max_size=4)
                      .map(lambda d: tuple(sorted(set(d)))))


def _fit_numbers(feats: features.Features, profiles: list[Profile], time: float | None,
                 window: float) -> list[str]:
    """`_fit`'s numbers in Python, as text that tells every bit and type apart."""
    return [repr(tuple(scoring._fit(feats, p, time=time, window=window))) for p in profiles]


_articles = st.builds(features.Features, vector=_unit_vectors, salient=st.just(()),
                      lead=st.just(""), language=st.sampled_from(["en", "zh"]), event_day=_days)


@settings(max_examples=400, deadline=None)
@given(_articles, _times, st.sampled_from([259_200, 3600.0, 1.5]), st.lists(_profiles, max_size=6))
def test_fits_are_the_python_fits(feats: features.Features, time: float | None, window: float,
                                  profiles: list[Profile]) -> None:
    """Every candidate's numbers, to the bit: time spans on either side of the article,
    undated articles and stories, other languages' centroids, stated event days."""
    assert scoring._cdedup is not None
    fits = scoring._cdedup.fits(feats.vector, feats.language, feats.event_day, time, window,
                                profiles, scoring._CONSTANTS)
    assert fits is not None
    assert list(map(repr, fits)) == _fit_numbers(feats, profiles, time, window)


def test_fits_leave_odd_profiles_to_python() -> None:
    """An int time or weight, a list of days: the Python path, which gives the same."""
    assert scoring._cdedup is not None
    odd = [Profile(centroids={"en": {"a": 1}}), Profile(centroids={"en": {"a": 1.0}}, first=5),
           Profile(centroids={"en": {}}, days=[3])]  # type: ignore[arg-type]
    feats = features.Features(vector={"a": 1.0}, salient=(), lead="", event_day=3)
    for profile in odd:
        assert scoring._cdedup.fits(feats.vector, "en", 3, 1.0, 10, [profile],
                                    scoring._CONSTANTS) is None
        assert best_story(feats, {"s": profile}, time=1.0, threshold=0.3, window=10) is not None
    assert scoring._cdedup.fits({}, "en", None, 1, 10, [], scoring._CONSTANTS) is None


def test_best_story_on_real_articles_is_the_python_choice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each seed and dev article against stories made of the others (their profiles as the
    index builds them): the same story, evidence and note with and without the core."""
    analyzer = shipped_analyzer()
    articles = seed_articles() + list(read_seed_folder(REPO / "tests/data/dev")[0])
    feats = [features.Features(vector=features.vectorize(a.raw), salient=(), lead=a.lead,
                               language=a.language, sources=a.sources, event_day=a.event_day)
             for a in map(analyzer.analyse, articles)]
    times = [a.published.timestamp() if a.published else None for a in articles]
    stories: dict[str, Profile] = {}
    for k, (f, t) in enumerate(zip(feats, times, strict=True)):
        sid = f"s{k % 7}"
        stories[sid] = stories[sid].add(f, time=t) if sid in stories else Profile.of(f, time=t)
    chosen = []
    assert scoring._cdedup is not None
    for f, t in zip(feats, times, strict=True):
        assert scoring._cdedup.fits(f.vector, f.language, f.event_day, t, 259_200,
                                    list(stories.values()), scoring._CONSTANTS) is not None
        for threshold in (0.1, 0.3):
            native = best_story(f, stories, time=t, threshold=threshold, window=259_200)
            with monkeypatch.context() as patched:
                patched.setattr(scoring, "_cdedup", None)
                python = best_story(f, stories, time=t, threshold=threshold, window=259_200)
            assert repr(native) == repr(python)
            chosen.append(native is not None and native[0].passes(threshold))
    assert any(chosen) and not all(chosen)


def _bits(vector: dict[str, float]) -> list[tuple[str, str]]:
    return [(term, weight.hex()) for term, weight in vector.items()]


_ties = st.sampled_from([0.25, 0.5, 1.0, 1e-7])
_stories = st.dictionaries(st.sampled_from([f"t{i}" for i in range(160)]),
                           st.one_of(st.floats(min_value=0.0, max_value=3.0), _ties),
                           max_size=160)


@settings(max_examples=300, deadline=None)
@given(_stories, _stories, st.integers(min_value=1, max_value=500))
def test_merge_is_the_python_merge(centroid: dict[str, float], vector: dict[str, float],
                                   count: int) -> None:
    """The merged unit centroid to the bit and in the same order of terms, past MAX_TERMS
    (the heaviest kept, ties in their order) and below it."""
    assert scoring._cdedup is not None
    merged = scoring._cdedup.merge(centroid, vector, count, features.MAX_TERMS)
    assert merged is not None
    assert _bits(merged) == _bits(features.merge(centroid, vector, count))


_weights_json = st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cc",), blacklist_characters='"\\'),
            max_size=8),
    st.one_of(st.floats(min_value=-1.0, max_value=1.0),
              st.sampled_from([0.5e-6, 1.5e-6, 2.5e-6, -0.5e-6, -0.0, 0.0])),
    max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["en", "zh", "*"]), _weights_json, max_size=3),
       st.one_of(st.none(), st.floats(min_value=0.0, max_value=2e9)),
       st.lists(st.integers(19_000, 21_000), max_size=3))
def test_profile_json_is_the_python_json(centroids: dict[str, dict[str, float]],
                                         first: float | None, days: list[int]) -> None:
    """A profile's stored JSON, the very text: terms in every script, weights that round
    half to even in millionths, negative zero."""
    profile = Profile(centroids=centroids, count=3, first=first, last=first,
                      languages=dict.fromkeys(centroids, 1), days=tuple(days))
    native = profile.to_json()
    scoring_core = scoring._cdedup
    try:
        scoring._cdedup = None
        assert native == profile.to_json()
    finally:
        scoring._cdedup = scoring_core


def test_profile_json_leaves_odd_terms_to_python() -> None:
    assert scoring._cdedup is not None
    for odd in ({'say "x"': 0.5}, {"a\\b": 0.5}, {"a\nb": 0.5}, {"a": 1}, {"a": 1e300}):
        assert scoring._cdedup.centroid_json(odd, 1e6) is None
        stored = json.loads(Profile(centroids={"en": odd}).to_json())["w"]["en"]
        assert stored == {term: round(weight * 1e6) for term, weight in odd.items()}


def test_without_the_core_the_python_paths_run() -> None:
    """Installed without a C compiler: the module is missing and placement runs in Python."""
    code = ("import sys; sys.modules['bot.dedup._cdedup'] = None\n"
            "from bot.dedup import features, fingerprints, scoring\n"
            "assert features._cdedup is None and fingerprints._cdedup is None\n"
            "assert scoring._cdedup is None\n"
            "from bot.dedup import background\n"
            "assert background._c_idf is None\n"
            "p = {'s': scoring.Profile(centroids={'en': {'a': 0.6, 'b': 0.8}}, first=5.0)}\n"
            "f = features.Features(vector={'a': 1.0}, salient=(), lead='')\n"
            "assert scoring.best_story(f, p, time=0.0, threshold=0.3, window=10)[1] == 's'\n"
            "assert p['s'].add(f, time=1.0).centroids['en']['a'] > 0.8\n"
            "assert p['s'].to_json().startswith('{\"w\": {\"en\": {\"a\": 600000, ')\n"
            "assert features.cosine({'a': 0.5}, {'a': 0.5, 'b': 1.0}) == 0.25\n"
            "lead = ' '.join(f'word{i}' for i in range(40))\n"
            "assert len(fingerprints.signature(lead) or ()) == 64\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_idf_is_the_python_idf() -> None:
    """The seeds' terms, with the window's counts and without, at several window sizes: the C
    core's IDF weights are the Python path's to the bit, in the same order; a term without a
    share yet, a count not an int, another Mapping go to the Python path."""
    from bot.dedup import background

    assert background._c_idf is not None
    analyzer = shipped_analyzer()
    bg = analyzer.background
    raws = [analyzer.analyse(a).raw for a in seed_articles()]
    rng = random.Random(7)
    for raw in raws:
        bg.idf(raw, {}, 0)  # the shares known
        counts = {t: rng.randrange(0, 5000) for t in raw if rng.random() < 0.7}
        for doc_freq, total in (({}, 0), (counts, 5000), (counts, 123_457)):
            top = math.log(background.PRIOR_DOCS + total + 1) + 1.0
            fast = bg.idf(raw, doc_freq, total)
            slow = bg.python_idf(raw, doc_freq, top)
            assert list(fast) == list(slow)
            assert all(_same(fast[t], slow[t]) for t in slow)
    shares = {"a": 0.01}
    assert background._c_idf({"a": 1.0, "new": 1.0}, shares, {}, 2.0, 2000) is None
    assert background._c_idf({"a": 1.0}, shares, {"a": 1.5}, 2.0, 2000) is None
    assert background._c_idf({"a": 1.0}, shares, Counter({"a": 1}), 2.0, 2000) is None
    assert background._c_idf({"a": 1.0}, shares, {"a": 3}, 2.0, 2000) == {
        "a": 2.0 - math.log(2000 * 0.01 + 3 + 1)}
