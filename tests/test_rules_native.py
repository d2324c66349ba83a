"""The C core (bot.rules._cmatch) at its edges: odd texts, sizes, malformed tables, leaks, and
the pure-Python fallback when the extension is missing. Equivalence on realistic rules and
articles lives in test_rules_engine_equivalence.py."""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import tracemalloc
from array import array
from typing import Any

import pytest

from bench.rules import ENGLISH, generate
from bot.models import Article, Rule
from bot.rules import native
from bot.rules.engine import RuleSet
from bot.rules.entities import Entities, Entity, shipped_entities
from tests.test_rules_engine_equivalence import seeds

pytestmark = pytest.mark.skipif(not native.AVAILABLE,
                                reason="bot.rules._cmatch is not built (no C compiler)")

ENTITIES = Entities([
    Entity(name="summon", aliases=("召见...大使", "召见大使", "summoned...envoy")),
    Entity(name="korea-n", aliases=("朝鲜", "North Korea", "NK"), exclude=("朝鲜族",)),
    Entity(name="troops", aliases=("派兵", "send troops", "troops"))])
EXPRESSIONS = ["@korea-n + @troops", "@korea-n NEAR/3 @troops", "@summon", "NK | 😀",
               "title:朝鲜 -bank", "(NK | 朝鲜) NEAR/2 派兵", "𠀀朝 + 大使", '"send troops"',
               "@korea-n NEAR/5 (@summon NEAR/8 @troops)", "troops source:VOA"]


def _both(rules: list[Rule], entities: Entities = ENTITIES) -> tuple[RuleSet, RuleSet]:
    return (RuleSet(rules, entities=entities, native=True),
            RuleSet(rules, entities=entities, native=False))


def _rules(expressions: list[str]) -> list[Rule]:
    return [Rule(id=f"r{i}", expression=e) for i, e in enumerate(expressions)]


@pytest.mark.parametrize(("title", "text"), [
    ("", ""), ("朝鲜派兵", ""), ("", "   "), ("😀朝鲜😀", "😀派兵😀 NK😀troops"),
    ("𠀀朝鲜", "𠀀朝大使 𠀀朝"), ("NK\ud800", "\udfffNK troops\ud800 summoned the envoy"),
    ("", "朝鲜族" * 50 + "朝鲜" + "派兵"), ("NK" * 500, "NK " * 2000 + "troops"),
    ("召见", "召见" + "很" * 12 + "大使 召见" + "很" * 13 + "大使"),
])
def test_odd_texts_match_alike_on_both_paths(title: str, text: str) -> None:
    """Empty fields, astral characters, lone surrogates (beside Latin text), masks and long
    runs of one term: the C core returns exactly what the Python path returns."""
    core, python = _both(_rules(EXPRESSIONS))
    article = Article(outlet="VOA", title=title, text=text)
    assert core.match(article) == python.match(article)


def test_lone_surrogates_beside_cjk_reach_the_core_unharmed() -> None:
    """Folded fields with lone surrogates next to CJK (fold itself rejects these, so they are
    given folded) match alike on both paths and find the terms around them."""
    core, python = _both(_rules(EXPRESSIONS))
    texts = ("\ud800朝鲜\udfff", "\udc00派兵\ud800召见大使\udfff NK troops")
    found = core._match(texts, "voa")
    assert found == python._match(texts, "voa")
    assert {"r0", "r2", "r9"} <= set(found)


def test_a_large_article_matches_alike_on_both_paths() -> None:
    """A quarter of a million characters with thousands of occurrences: the same matches
    and terms on both paths."""
    entities = shipped_entities()
    rules = _rules(generate(1500, random.Random(3), entities))
    text = ("\n".join(a.text for a in seeds()) + ENGLISH) * 30
    article = Article(outlet="DW", title=seeds()[1].title, text=text)
    core, python = _both(rules, entities)
    found = core.match(article)
    assert len(text) > 250_000 and len(found) > 50
    assert found == python.match(article)


def test_zero_rules_and_many_rules() -> None:
    """No rules: nothing matches; 6,000 rules over the seeds: the same as the Python path."""
    core, python = _both([])
    assert core.native and core.match(Article(outlet="VOA", title="朝鲜", text="派兵")) == {}
    entities = shipped_entities()
    core, python = _both(_rules(generate(6000, random.Random(9), entities)), entities)
    for article in seeds():
        found = core.match(article)
        assert found == python.match(article) and len(found) > 10


def _core_args(ruleset: RuleSet) -> dict[str, Any]:
    """The arguments `native.core` gives the C core for a rule set (to break them below)."""
    compiler = ruleset._compiler
    tables = compiler.tables
    assert tables is not None
    programs = ruleset._programs
    return {"automaton": ruleset._core.automaton, "latin": bytes(compiler.latin),
            "lit_offsets": array("i", tables.lit_offsets), "lit_data": array("i", tables.lit_data),
            "nodes": array("i", tables.nodes), "node_count": tables.node_count,
            "terms": tables.terms_tuple(),
            "roots": array("i", [p.lowered[1] for p in programs if p.lowered]),
            "triggers": b"".join(p.lowered[2] for p in programs if p.lowered),
            "sources": array("i"), "ids": tuple(r.id for r in ruleset.rules),
            "statics": tuple(p.names for p in programs), "outlet_count": len(tables.outlets),
            "gap_chars": 12, "gap_words": 5}


def _broken(args: dict[str, Any], name: str, index: int, value: int) -> dict[str, Any]:
    ints = array("i", args[name] if not isinstance(args[name], bytes) else array("i", args[name]))
    ints[index] = value
    return {**args, name: ints}


def test_core_rejects_malformed_tables() -> None:
    """Every offset and id is checked when a core is built: bad ones raise ValueError instead
    of reading out of bounds; a core that failed to build refuses to match."""
    ruleset = RuleSet(_rules(EXPRESSIONS), entities=ENTITIES, native=True)
    args = _core_args(ruleset)
    core = native._cmatch.Core(**args)  # type: ignore[union-attr]
    assert core.match("朝鲜", "派兵", -1) == ruleset._match(("朝鲜", "派兵"), "nhk") != {}
    node_count = len(args["nodes"])
    assert args["nodes"][0] == native.LEAF  # children come first: the first record is a leaf
    leaf_lit = 2
    chain = array("i", args["nodes"][:4])  # the leaf, then 1,001 NOTs, each of the one before
    for i in range(1, 1002):
        chain.extend((native.NOT, i, 0 if i == 1 else 4 + 3 * (i - 2)))
    broken = [
        _broken(args, "nodes", leaf_lit, 10**6),  # a literal that does not exist
        _broken(args, "nodes", 0, 99),  # an unknown node kind
        _broken(args, "roots", 0, node_count + 5),  # a root past the nodes
        _broken(args, "roots", 0, 1),  # a root inside a record
        _broken(args, "lit_offsets", 0, len(args["lit_data"])),  # a literal past the data
        _broken(args, "triggers", 1, 10**6),  # a trigger literal that does not exist
        {**args, "ids": args["ids"][:-1]},  # fewer ids than rules
        {**args, "sources": array("i", [len(args["ids"]), 1, 0])},  # a rule that does not exist
        {**args, "latin": b""},  # fewer keys than the automaton holds
        {**args, "cues": b"\x01"},  # negation cue kinds for fewer keys than there are
        {**args, "cues": b"\x09" * len(args["latin"])},  # an unknown cue kind
        {**args, "nodes": array("i", [native.NOT, 0, 0])},  # a child that is not before it
        {**args, "nodes": chain, "node_count": 1002, "roots": array("i", [0] * len(args["ids"])),
         "triggers": array("i", [-1] * len(args["ids"]))},  # a tree too deep to walk
    ]
    for bad in broken:
        with pytest.raises(ValueError, match="malformed tables"):
            native._cmatch.Core(**bad)  # type: ignore[union-attr]
    unbuilt = native._cmatch.Core.__new__(native._cmatch.Core)  # type: ignore[union-attr]
    with pytest.raises(RuntimeError):
        unbuilt.match("a", "b", 0)
    with pytest.raises(ValueError):
        native.automaton([(0, "", 0)])
    with pytest.raises(ValueError):
        native.automaton([(0, "朝鲜", 0), (1, "朝鲜", 0)])


def test_matching_leaks_no_references_and_no_memory() -> None:
    """Thousands of matches leave the refcounts of rule ids and terms unchanged, and the core's
    scratch memory stops growing once it has seen an article."""
    entities = shipped_entities()
    rules = _rules(generate(2000, random.Random(4), entities))
    ruleset = RuleSet(rules, entities=entities, native=True)
    article = seeds()[1]
    found = ruleset.match(article)
    rule_id, terms = next(iter(found.items()))
    term = terms[0]
    del found
    gc.collect()
    before = (sys.getrefcount(rule_id), sys.getrefcount(term), sys.getrefcount(terms))
    for _ in range(2000):
        ruleset.match(article)
    gc.collect()
    assert (sys.getrefcount(rule_id), sys.getrefcount(term), sys.getrefcount(terms)) == before
    tracemalloc.start()
    try:
        for a in seeds():
            ruleset.match(a)
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            for a in seeds():
                ruleset.match(a)
        assert tracemalloc.get_traced_memory()[0] - start < 64 * 1024
    finally:
        tracemalloc.stop()


def test_without_the_extension_the_python_path_runs() -> None:
    """With bot.rules._cmatch missing (no compiler at install), RuleSet runs in Python and
    `native=True` says why it cannot."""
    script = """
import sys
sys.modules["bot.rules._cmatch"] = None  # what an install without a compiler leaves
from bot.models import Article, Rule
from bot.rules import native
from bot.rules.engine import RuleSet
assert not native.AVAILABLE
ruleset = RuleSet([Rule(id="r", expression="朝鲜 + 派兵")])
assert not ruleset.native
assert ruleset.match(Article(outlet="VOA", title="朝鲜", text="派兵")) == {"r": ("朝鲜", "派兵")}
try:
    RuleSet([], native=True)
except RuntimeError as exc:
    print("refused:", exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "refused: bot.rules._cmatch is not built" in done.stdout
