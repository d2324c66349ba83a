"""The C core's `ranked_terms` and `df_lookup` (bot.dedup._cdedup) give the very results of
their Python paths (`features.python_ranked_terms`, `DfCache.python_lookup`): the same lists in
the same order, ties included, on random and adversarial inputs (empty, every script, the
edges of the Chinese ranges, -0.0, counts at the refresh boundary) and on real articles; they
decline what only the Python path handles, which then runs. IDF asked for terms never seen
before reaches the C core too, with the same bits."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import background, caches, features
from bot.dedup.analysis import shipped_analyzer
from bot.dedup.background import Background
from bot.dedup.caches import DF_REFRESH, DfCache
from bot.dedup.features import python_ranked_terms, ranked_terms
from bot.feeds.seeds import read_seed_folder
from tests.conftest import REPO, SEEDS
from tests.test_dedup_native import Weights

pytestmark = pytest.mark.skipif(features._c_ranked is None or caches._c_lookup is None,
                                reason="bot.dedup._cdedup is not built (no C compiler)")

# Latin, the edges of _CHINESE_START's ranges on both sides, CJK beyond them, emoji, neutral
# prefixes, the empty term.
_TERMS = ["a", "b", "ab", "B", "z", "#2024", "@dprk", "~10-21", "titanfal_review", "",
          "\u33ff", "\u3400", "\u3400x", "中国", "中", "\u9fff", "\ua000", "\uf8ff", "\uf900",
          "\ufaff", "\ufb00", "\U00020000", "😀", "é", "e\u0301", "Ω"]
_TIES = st.sampled_from([0.0, -0.0, 1.0, 2.0, 0.5, 3.0, 1e-300, -1.0])
_WEIGHTS = st.one_of(_TIES, st.floats(allow_nan=False, allow_infinity=False,
                                      min_value=-1e6, max_value=1e6))
_RAWS = st.dictionaries(st.one_of(st.sampled_from(_TERMS), st.text(max_size=4)), _WEIGHTS,
                        max_size=60)
_IDFS = st.one_of(st.none(), st.just({}),
                  st.dictionaries(st.one_of(st.sampled_from(_TERMS), st.text(max_size=4)),
                                  _WEIGHTS, max_size=60))


def _ranked(raw: dict[str, float], idf: dict[str, float] | None
            ) -> tuple[list[str], list[str]] | None:
    assert features._c_ranked is not None
    return features._c_ranked(raw, idf or None)


@settings(max_examples=500, deadline=None)
@given(_RAWS, _IDFS)
def test_ranked_terms_are_the_python_ranking(raw: dict[str, float],
                                             idf: dict[str, float] | None) -> None:
    """Heaviest first, equal keys by code point order of the terms, Chinese first characters
    split off: the same two lists."""
    assert _ranked(raw, idf) == python_ranked_terms(raw, idf=idf)
    assert ranked_terms(raw, idf=idf) == python_ranked_terms(raw, idf=idf)


def test_ranked_terms_on_ties_edges_and_empty() -> None:
    assert _ranked({}, None) == ([], []) == python_ranked_terms({})
    tied = dict.fromkeys(_TERMS, 1.0)
    neutral, native = python_ranked_terms(tied)
    assert native == ["\u3400", "\u3400x", "中", "中国", "\u9fff", "\uf900", "\ufaff"]
    assert neutral == sorted(neutral) and "" in neutral and "\ufb00" in neutral
    assert _ranked(tied, None) == (neutral, native)
    signed = {"a": 0.0, "b": -0.0, "c": 1.0}  # -(0.0) and -(-0.0) compare equal: by term
    for idf in (None, {"a": -1.0, "c": 0.0}, {"c": math.inf}):
        assert _ranked(signed, idf) == python_ranked_terms(signed, idf=idf)
    rng = random.Random(5)
    for _ in range(200):  # few distinct keys among many terms: long runs of ties
        raw = {f"{rng.choice('ab中z')}{rng.randrange(30)}": rng.choice([1.0, 2.0, 0.5])
               for _ in range(rng.randrange(1, 90))}
        idf = {t: rng.choice([1.0, 2.0]) for t in raw if rng.random() < 0.5}
        assert _ranked(raw, idf) == python_ranked_terms(raw, idf=idf)


def test_ranked_terms_leave_odd_inputs_to_python() -> None:
    """An int weight, a NaN key, another Mapping: the C core declines, the Python path runs."""

    assert _ranked({"a": 1}, None) is None  # type: ignore[dict-item]
    assert _ranked({"a": 1.0}, {"a": 2}) is None  # type: ignore[dict-item]
    assert _ranked({"a": math.nan, "b": 1.0}, None) is None
    assert _ranked({"a": math.inf}, {"a": 0.0}) is None  # inf * 0: NaN
    assert features._c_ranked is not None
    assert features._c_ranked(Weights({"a": 1.0}), None) is None
    assert features._c_ranked({"a": 1.0}, Counter({"a": 1})) is None
    assert ranked_terms(Weights({"b": 1.0, "中": 2.0})) == (["b"], ["中"])
    assert ranked_terms({"a": 1, "b": 2}) == (["b", "a"], [])  # type: ignore[dict-item]


def test_ranked_terms_of_real_articles() -> None:
    """The seeds' and the dev set's terms, weighted by background IDF with and without window
    counts, as `_probe` ranks them."""
    analyzer = shipped_analyzer()
    articles = (list(read_seed_folder(SEEDS)[0])
                + list(read_seed_folder(REPO / "tests/data/dev")[0]))
    rng = random.Random(3)
    chinese = 0
    for article in articles:
        raw = analyzer.analyse(article).raw
        counts = {t: rng.randrange(0, 300) for t in raw if rng.random() < 0.6}
        for idf in (None, analyzer.background.idf(raw, {}, 0),
                    analyzer.background.idf(raw, counts, 2000)):
            native = _ranked(raw, idf)
            assert native is not None
            assert native == python_ranked_terms(raw, idf=idf)
            chinese += bool(native[1])
    assert chinese >= 10


_KEYS = st.sampled_from([f"t{i}" for i in range(30)] + ["", "中国", "😀"])
_COUNTS = st.integers(min_value=0, max_value=3000)
_SEEN = st.one_of(st.integers(min_value=0, max_value=3000), st.sampled_from([0, 19, 20, 21]))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_KEYS, _WEIGHTS, max_size=33),
       st.dictionaries(_KEYS, st.tuples(_COUNTS, _SEEN), max_size=33),
       st.one_of(_COUNTS, st.sampled_from([0, 20, 22, 23, 1100, 1210, 1211, 990, 989])))
def test_df_lookup_is_the_python_lookup(raw: dict[str, float],
                                        counts: dict[str, tuple[int, int]], total: int) -> None:
    """Terms to fetch and counts known, both in the order of `raw`."""
    cache = DfCache(days=("20250601",), total=total, counts=counts)
    assert caches._c_lookup is not None
    native = caches._c_lookup(raw, counts, total, DF_REFRESH)
    assert native is not None
    python = cache.python_lookup(raw)
    assert native[0] == python[0]
    assert list(native[1].items()) == list(python[1].items())
    assert cache.lookup(raw, ("20250601",)) == python


def test_df_lookup_at_the_refresh_boundary_and_empty() -> None:
    """A count refetched once the window moved by more than DF_REFRESH of it (20 at least),
    either way; kept at exactly that much."""
    assert caches._c_lookup is not None
    for seen in (0, 5, 19, 20, 21, 100, 1000, 1100, 12_345, 2 ** 40):
        limit = int(DF_REFRESH * max(seen, 20))
        for total in {seen + sign * d for d in range(limit - 2, limit + 3) for sign in (1, -1)
                      if seen + sign * d >= 0}:
            counts = {"a": (7, seen), "b": (9, total)}
            cache = DfCache(days=("d",), total=total, counts=counts)
            raw = {"x": 1.0, "a": 1.0, "b": 2.0}
            assert caches._c_lookup(raw, counts, total, DF_REFRESH) == cache.python_lookup(raw)
    assert caches._c_lookup({}, {"a": (1, 1)}, 5, DF_REFRESH) == ([], {})
    cache = DfCache(days=("d",), total=5, counts={"a": (1, 5)})
    assert cache.lookup({"a": 1.0, "b": 1.0}, ("e",)) == (["a", "b"], {})  # other days


def test_df_lookup_leaves_odd_entries_to_python() -> None:
    assert caches._c_lookup is not None
    for counts, total in (({"a": [1, 5]}, 5), ({"a": (1, 5.0)}, 5), ({"a": (1.0, 5)}, 5),
                          ({"a": (1, 5, 0)}, 5), ({"a": (1, 2 ** 60)}, 5), ({"a": (1, 5)}, 2 ** 60),
                          ({"a": (1, 5)}, 5.0)):
        assert caches._c_lookup({"a": 1.0}, counts, total, DF_REFRESH) is None, counts
    cache = DfCache(days=("d",), total=2 ** 60, counts={"a": (3, 2 ** 60)})
    assert cache.lookup({"a": 1.0, "b": 1.0}, ("d",)) == (["b"], {"a": 3})


def test_idf_of_new_terms_goes_through_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terms without a background share yet get it first, then the C core weighs them: the
    Python path's bits, in its order; a term iterable that is not a dict goes to Python."""
    assert background._c_idf is not None
    analyzer = shipped_analyzer()
    raws = [analyzer.analyse(a).raw for a in read_seed_folder(SEEDS)[0]]
    calls: list[bool] = []
    core = background._c_idf

    def counted(*args: object) -> dict[str, float] | None:
        done = core(*args)
        calls.append(done is not None)
        return done

    for raw in raws:
        fresh = Background()
        slow = Background().python_idf(raw, {"#2024": 3}, math.log(background.PRIOR_DOCS
                                                                     + 900 + 1) + 1.0)
        with monkeypatch.context() as patched:
            patched.setattr(background, "_c_idf", counted)
            fast = fresh.idf(raw, {"#2024": 3}, 900)
        assert list(fast) == list(slow)
        assert all(fast[t].hex() == slow[t].hex() for t in slow)
        assert calls[-1], "the second call of the core weighs them"
        assert Background().idf(iter(raw), {}, 0) == Background().python_idf(
            raw, {}, math.log(background.PRIOR_DOCS + 1) + 1.0)


def _bits(vector: dict[str, float]) -> list[tuple[str, str]]:
    return [(term, weight.hex()) for term, weight in vector.items()]


_MANY = st.dictionaries(st.one_of(st.sampled_from(_TERMS), st.text(max_size=3)),
                        st.one_of(_TIES, st.floats(min_value=0.0, max_value=40.0)),
                        max_size=160)


@settings(max_examples=400, deadline=None)
@given(_MANY, _IDFS)
def test_vectorize_is_the_python_vector(raw: dict[str, float],
                                        idf: dict[str, float] | None) -> None:
    """The unit vector to the bit and in the same order of terms, past MAX_TERMS (the
    heaviest kept, ties in their order) and below it, with and without IDF."""
    assert features._c_vectorize is not None
    native = features._c_vectorize(raw, idf or None, features.MAX_TERMS)
    assert native is not None
    assert _bits(native) == _bits(features.python_vectorize(raw, idf))
    assert _bits(features.vectorize(raw, idf)) == _bits(native)


def test_vectorize_on_real_articles_and_odd_inputs() -> None:
    """The seeds' and dev set's terms as `_decide` weighs them; empty, all-zero and tied
    weights; an int weight or IDF, a NaN product and another Mapping go to Python."""
    assert features._c_vectorize is not None
    analyzer = shipped_analyzer()
    articles = (list(read_seed_folder(SEEDS)[0])
                + list(read_seed_folder(REPO / "tests/data/dev")[0]))
    cut = 0
    for article in articles:
        raw = analyzer.analyse(article).raw
        for idf in (None, analyzer.background.idf(raw, {}, 0)):
            native = features._c_vectorize(raw, idf, features.MAX_TERMS)
            assert native is not None
            assert _bits(native) == _bits(features.python_vectorize(raw, idf))
        cut += len(raw) > features.MAX_TERMS
    assert cut >= 3
    tied = {f"t{i}": 1.0 for i in range(130)}
    for raw in ({}, {"a": 0.0, "b": 0.0}, {"a": -0.0}, tied, {"a": 1e200, "b": 1e200}):
        native = features._c_vectorize(raw, None, features.MAX_TERMS)
        assert native is not None
        assert _bits(native) == _bits(features.python_vectorize(raw))
    assert list(features.vectorize(tied)) == [f"t{i}" for i in range(100)]
    assert features._c_vectorize({"a": 1}, None, 100) is None  # type: ignore[dict-item]
    assert features._c_vectorize({"a": 1.0}, {"a": 2}, 100) is None  # type: ignore[dict-item]
    assert features._c_vectorize({"a": math.inf}, {"a": 0.0}, 100) is None
    assert features._c_vectorize(Counter({"a": 1.0}), None, 100) is None
    assert features.vectorize({"a": 3, "b": 4}) == features.python_vectorize(  # type: ignore[dict-item]
        {"a": 3, "b": 4})  # type: ignore[dict-item]
