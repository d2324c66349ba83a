"""The C core of story placement (bot.dedup._cdedup) gives the very results of the Python paths:
cosine to the bit (math.fsum's exactly rounded sum, whatever the order of the terms) and the
MinHash signature, on random and adversarial inputs and on real articles; and it declines what
only the Python path handles (another Mapping, an int weight), which then runs."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import features, fingerprints
from bot.dedup.analysis import shipped_analyzer
from bot.dedup.features import python_cosine
from bot.dedup.fingerprints import python_minhash, shingle_hashes
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


def test_cosine_leaves_other_mappings_and_ints_to_python() -> None:
    class Weights(Mapping[str, float]):
        def __init__(self, data: dict[str, float]) -> None:
            self.data = data

        def __getitem__(self, key: str) -> float:
            return self.data[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

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


def test_minhash_leaves_odd_sets_to_python() -> None:
    assert fingerprints._cdedup is not None
    assert fingerprints._cdedup.minhash({-1, 5}) is None
    assert fingerprints._cdedup.minhash({2 ** 64}) is None
    assert fingerprints._cdedup.minhash({"x"}) is None  # type: ignore[arg-type]


def test_cosine_on_real_article_vectors() -> None:
    """Every pair of the seeds' vectors: the C and Python paths agree to the bit."""
    analyzer = shipped_analyzer()
    vectors = [features.vectorize(analyzer.analyse(a).raw) for a in seed_articles()]
    vectors.append(features.vectorize(analyzer.analyse(Article(
        outlet="x", title="朝鲜派兵俄罗斯", text="朝鲜向俄罗斯派兵一万人")).raw))
    for a in vectors:
        for b in vectors:
            assert _same(features.cosine(a, b), python_cosine(a, b))


def test_without_the_core_the_python_paths_run() -> None:
    """Installed without a C compiler: the module is missing and placement runs in Python."""
    code = ("import sys; sys.modules['bot.dedup._cdedup'] = None\n"
            "from bot.dedup import features, fingerprints\n"
            "assert features._cdedup is None and fingerprints._cdedup is None\n"
            "assert features.cosine({'a': 0.5}, {'a': 0.5, 'b': 1.0}) == 0.25\n"
            "lead = ' '.join(f'word{i}' for i in range(40))\n"
            "assert len(fingerprints.signature(lead) or ()) == 64\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
