"""The matching engine: seeds, script folding, word boundaries, NEAR, fields, entities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import opencc
import pytest

from bot.errors import RuleError
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, Rule
from bot.rules.engine import RuleSet
from bot.rules.entities import Entities, Entity
from bot.text import fold, without_lone_surrogates
from tests.conftest import SEEDS
from tests.test_rules_engine_equivalence import PATHS

ALL = ("000", "001", "002", "003", "004")
_NATIVE = [True]  # the engine path of the running test (see `engine_path`)


@pytest.fixture(autouse=True, params=PATHS)
def engine_path(request: pytest.FixtureRequest) -> bool:
    """Every test here runs twice: `match` in the C core, and in the Python path."""
    native: bool = request.param
    _NATIVE[0] = native
    return native


def _ruleset(rules: list[Rule], *, entities: Entities | None = None,
             on_error: Callable[[Rule, RuleError], None] | None = None) -> RuleSet:
    ruleset = RuleSet(rules, entities=entities, on_error=on_error, native=_NATIVE[0])
    assert ruleset.native is _NATIVE[0]
    return ruleset


def _seeds() -> dict[str, Article]:
    articles, errors = read_seed_folder(SEEDS)
    assert errors == []
    return {Path(a.path or "").name[:3]: a for a in articles}


def _matching(expression: str, articles: dict[str, Article]) -> set[str]:
    ruleset = _ruleset([Rule(id="r", expression=expression)])
    return {name for name, article in articles.items() if "r" in ruleset.match(article)}


def _article(text: str, *, title: str = "", outlet: str = "VOA") -> Article:
    return Article(outlet=outlet, title=title, text=text)


def _hits(expression: str, article: Article) -> bool:
    return "r" in _ruleset([Rule(id="r", expression=expression)]).match(article)


@pytest.mark.parametrize(("expression", "expected"), [
    ("朝鲜 + 派兵", {"000", "001", "002", "003"}),
    ("北韓 + 派兵", {"000", "001", "002", "003"}),
    ("朝鮮 + 派兵", {"000", "001", "002", "003"}),
    ("@dprk + @send-troops", {"000", "001", "002", "003"}),
    ("@dprk + 弹道导弹", {"000", "004"}),
    ('"朝鲜" + "弹道导弹" -派兵', {"004"}),
    ("召见大使", {"001", "002", "003"}),
    ("@summon-ambassador + source:VOA", {"002"}),
    ("title:派兵", {"000", "001", "002", "003"}),  # 002, 003: ...参战 (joining the war)
    ("title:(召见 | 武器贸易)", {"002", "004"}),
    ("朝鲜 + 派兵 -source:VOA", {"001", "003"}),
    ("朝鲜 NEAR/0 派兵", {"000", "001", "002", "003"}),
    ('"朝鲜派兵"', {"000", "001", "002", "003"}),
    ("武器贸易 | 召见大使", {"001", "002", "003", "004"}),
    ("(武器贸易 | 召见大使) + source:RFI", {"004"}),
    ("NOT 派兵 + 朝鲜", {"004"}),
    ("@dprk + @russia + @ukraine", set(ALL)),
    ("@mongolia | @nato-nope", None),
])
def test_rules_on_the_seeds(expression: str, expected: set[str] | None) -> None:
    """Each rule matches exactly the expected seeds (None: the rule is rejected)."""
    if expected is None:
        with pytest.raises(RuleError):
            _matching(expression, _seeds())
        return
    assert _matching(expression, _seeds()) == expected


def test_traditional_copy_of_a_seed_matches_simplified_rule() -> None:
    """A seed converted to Traditional script (OpenCC s2t) still matches `朝鲜 + 派兵`."""
    s2t = opencc.OpenCC("s2t")
    seeds = _seeds()
    traditional = {name: replace(a, title=s2t.convert(a.title), text=s2t.convert(a.text))
                   for name, a in seeds.items()}
    assert "朝鮮" in traditional["001"].text and "朝鲜" not in traditional["001"].text
    assert _matching("朝鲜 + 派兵", traditional) == {"000", "001", "002", "003"}
    assert _matching("@dprk + 弹道导弹", traditional) == {"000", "004"}


def test_folding_survives_a_lone_surrogate_beside_traditional_text() -> None:
    """OpenCC cannot encode an unpaired surrogate; folding replaces it (U+FFFD) and still
    converts the script, and a valid pair stays one character."""
    assert fold("北韓\ud800派兵") == "北韩\ufffd派兵"
    assert fold("朝鮮 \ud83d\ude00") == "朝鲜 😀"
    assert without_lone_surrogates("a\udc00b\ud83d") == "a\ufffdb\ufffd"


@pytest.mark.parametrize(("expression", "text", "matches"), [
    ("NK", "the bank is closed", False),
    ("NK", "NK fired a missile", True),
    ("NK", "(NK) fired", True),
    ("NK", "朝鲜NK方面", True),
    ("NATO", "NATO's summit", True),
    ("NATO", "NATOs", False),
    ("@un", "an unusual move", False),
    ("@un", "the U.N. said", True),
    ("@us", "let us go", False),
    ("@us", "the U.S. said", True),
    ("@us", "U.S.-made weapons", True),
    ("@dprk", "North Korean troops", True),
    ("@dprk", "South Korea and Korea", False),
    ("@rok", "North Korea", False),
    ("@dprk", "韩国总统", False),
    ("@rok", "北韩与朝鲜", False),
    ("@rok", "南韩官员", True),
    ("@dprk", "朝方表示", True),
    ("@dprk", "南朝鲜傀儡", False),
    ("@dprk", "南朝鲜与朝鲜", True),
    ("@mongolia", "内蒙古自治区", False),
    ("@mongolia", "蒙古国总统", True),
    ("@russia", "白俄罗斯总统", False),
    ("@taiwan", "the People's Republic of China", False),
    ("@taiwan", "the Republic of China (Taiwan)", True),
    ("@putin", "ВЛАДИМИР ПУТИН", True),
    ("Sanctions", "new SANCTIONS on Russia", True),
    ("sanction", "sanctions", True),  # `sanction` is an alias of @sanctions
    ('"sanction"', "sanctions", False),
    ("ＮＡＴＯ", "NATO members", True),
    ("nato", "ＮＡＴＯ members", True),
    ('kim + "jong un"', "Kim Jong Un", True),
    ("@kim-jong-un", "KIM JONG-UN visited", True),
    ('"North Korea"', "North\nKorea", True),
])
def test_latin_word_boundaries_case_and_width(expression: str, text: str,
                                              matches: bool) -> None:
    """Latin terms match whole words in any case and width; CJK terms match as substrings."""
    assert _hits(expression, _article(text)) is matches


@pytest.mark.parametrize(("expression", "text", "matches"), [
    ("朝鲜 NEAR/4 派兵", "朝鲜向俄罗斯派兵", True),
    ("朝鲜 NEAR/3 派兵", "朝鲜向俄罗斯派兵", False),
    ("派兵 NEAR/4 朝鲜", "朝鲜向俄罗斯派兵", True),
    ("Kim NEAR/2 Putin", "Kim met with Putin", True),
    ("Kim NEAR/1 Putin", "Kim met with Putin", False),
    ("Kim NEAR/0 Jong", "Kim Jong Un", True),
    ("@dprk NEAR/5 @send-troops", "North Korea will send troops", True),
    ("@dprk NEAR/1 @send-troops", "North Korea has decided it will send troops", False),
    ("(Kim | Putin) NEAR/1 summit", "a Putin summit", True),
    ("a NEAR/1 b NEAR/1 c", "a b c", True),
    ("a NEAR/1 b NEAR/1 c", "a b x x x c", False),
    ("朝鲜 NEAR/2 派兵", "朝鲜表示。\n另据报道，派兵", False),
    ("title:朝鲜 NEAR/5 派兵", "朝鲜派兵", False),
])
def test_near(expression: str, text: str, matches: bool) -> None:
    """NEAR/n measures characters for CJK and words for Latin matches, within one field."""
    assert _hits(expression, _article(text)) is matches


def test_near_does_not_cross_fields() -> None:
    """An occurrence in the title and one in the text are never NEAR each other."""
    assert not _hits("朝鲜 NEAR/50 派兵", _article("派兵", title="朝鲜"))
    assert _hits("朝鲜 + 派兵", _article("派兵", title="朝鲜"))


@pytest.mark.parametrize(("expression", "title", "text", "outlet", "matches"), [
    ("title:朝鲜", "朝鲜派兵", "", "DW", True),
    ("title:朝鲜", "俄罗斯", "朝鲜", "DW", False),
    ("title:@dprk", "Pyongyang fires", "", "DW", True),
    ("title:(朝鲜 -派兵)", "朝鲜", "派兵", "DW", True),
    ("朝鲜 -title:派兵", "朝鲜派兵", "", "DW", False),
    ("朝鲜 source:voa", "朝鲜", "", "VOA", True),
    ("朝鲜 source:VOA", "朝鲜", "", "DW", False),
    ('朝鲜 source:"Radio Free Asia"', "朝鲜", "", "radio free asia", True),
    ("source:RFI", "anything", "", "RFI", True),
    ("朝鲜 -source:RFI", "朝鲜", "", "RFI", False),
])
def test_title_and_source_scoping(expression: str, title: str, text: str, outlet: str,
                                  matches: bool) -> None:
    """`title:` looks only at the title; `source:` compares the outlet, case-insensitively."""
    assert _hits(expression, _article(text, title=title, outlet=outlet)) is matches


@pytest.mark.parametrize(("expression", "text", "matches"), [
    ("朝鲜 -演习", "朝鲜派兵", True),
    ("朝鲜 -演习", "朝鲜举行演习", False),
    ("朝鲜 NOT (演习 | 试射)", "朝鲜试射导弹", False),
    ("朝鲜 --派兵", "朝鲜派兵", True),
    ("朝鲜 -@russia", "朝鲜与俄罗斯", False),
    ("朝鲜 -@russia", "朝鲜与白俄罗斯", True),
    ("a | b c", "a", True),
    ("a | b c", "b", False),
    ("(a | b) c", "a", False),
    ("(a | b) c", "b c", True),
    ("a + b | c + d", "c d", True),
])
def test_negation_or_and_parentheses(expression: str, text: str, matches: bool) -> None:
    """Negation excludes, OR takes either side, parentheses group before AND."""
    assert _hits(expression, _article(text)) is matches


def test_match_reports_rule_terms_and_detail_reports_positions() -> None:
    """`match` names the rule's terms; `match_detail` gives each alias found, field and offsets."""
    article = _article("北韩向俄罗斯出兵。", title="朝鲜派兵")
    ruleset = _ruleset([Rule(id="r", expression="朝鲜 + 派兵"),
                       Rule(id="e", expression="@dprk NEAR/6 @send-troops")])
    assert ruleset.match(article) == {"r": ("朝鲜", "派兵"), "e": ("朝鲜", "派兵", "北韩", "出兵")}
    detail = ruleset.match_detail(article)["r"]
    assert [(h.term, h.alias, h.field, h.start, h.end) for h in detail.hits] == [
        ("朝鲜", "朝鲜", "title", 0, 2), ("派兵", "派兵", "title", 2, 4),
        ("朝鲜", "北韩", "text", 0, 2), ("派兵", "出兵", "text", 6, 8)]
    assert detail.terms == ("朝鲜", "派兵")


def test_rules_with_sources_option_only_match_those_outlets() -> None:
    """A rule's `sources` option (from a topic) limits it to those outlets."""
    rule = Rule(id="t", expression="朝鲜", sources=("DW", "rfi"))
    ruleset = _ruleset([rule])
    assert ruleset.match(_article("朝鲜", outlet="RFI")) == {"t": ("朝鲜",)}
    assert ruleset.match(_article("朝鲜", outlet="VOA")) == {}


def test_many_rules_in_one_set_match_independently() -> None:
    """All rules share one automaton; each reports only its own match and terms."""
    rules = [Rule(id=f"r{i}", expression=e) for i, e in enumerate(
        ["朝鲜 + 派兵", "@dprk + 弹道导弹", "NATO", "召见大使 -source:VOA", "source:RFI"])]
    ruleset = _ruleset(rules)
    found = {name: set(ruleset.match(a)) for name, a in _seeds().items()}
    # bare NATO stands for @nato, so 北约 in the Chinese text counts
    assert found == {"000": {"r0", "r1"}, "001": {"r0", "r2", "r3"}, "002": {"r0", "r2"},
                     "003": {"r0", "r2", "r3"}, "004": {"r1", "r4"}}
    assert len(ruleset) == 5 and ruleset.key_count > 40


def test_invalid_rules_raise_or_are_reported_and_skipped() -> None:
    """An invalid rule raises RuleError, or with on_error is reported and left out."""
    with pytest.raises(RuleError):
        _ruleset([Rule(id="bad", expression="朝鲜 + (")])
    skipped: list[str] = []
    ruleset = _ruleset([Rule(id="bad", expression="-a"), Rule(id="ok", expression="a")],
                      on_error=lambda rule, exc: skipped.append(rule.id))
    assert skipped == ["bad"] and [r.id for r in ruleset.rules] == ["ok"]


def test_custom_entities_with_gap_aliases_and_exclusions() -> None:
    """Gap aliases need their parts in order and close; an excluded word hides its alias."""
    entities = Entities([Entity(name="summon", aliases=("召见...大使", "summoned...envoy")),
                         Entity(name="korea-n", aliases=("朝鲜",), exclude=("朝鲜族",))])

    def hits(expression: str, text: str) -> bool:
        ruleset = _ruleset([Rule(id="r", expression=expression)], entities=entities)
        return "r" in ruleset.match(_article(text))

    assert hits("@summon", "召见了俄罗斯驻韩国大使")
    assert not hits("@summon", "大使被召见")
    assert not hits("@summon", "召见" + "很" * 13 + "大使")
    assert hits("@summon", "Seoul summoned the Russian envoy")
    assert not hits("@summon", "Seoul summoned the press and later, at noon, an envoy")
    assert hits("朝鲜", "朝鲜族与朝鲜")
    assert not hits("朝鲜", "朝鲜族")
    assert hits('"朝鲜"', "朝鲜族")


def test_an_alias_inside_a_longer_alias_of_its_own_counts_as_the_longer() -> None:
    """`strikes` inside `air strikes` is the air strikes: another actor right before them
    (`Israeli air strikes`) is their doer, not nobody (which would leave them to the rule's
    actors)."""
    entities = Entities([Entity(name="il", kind="country", aliases=("Israeli", "以色列")),
                         Entity(name="in", kind="country", aliases=("India", "印度")),
                         Entity(name="pk", kind="country", aliases=("Pakistan", "巴基斯坦")),
                         Entity(name="hit", kind="action", aliases=("air strikes", "strikes",
                                                                    "空袭", "导弹空袭"))])

    def hits(text: str) -> bool:
        ruleset = _ruleset([Rule(id="r", expression="@in + @pk + @hit")], entities=entities)
        return "r" in ruleset.match(_article(text))

    assert not hits("India, Pakistan urge restraint after Israeli air strikes on Iran")
    assert not hits("印度、巴基斯坦呼吁克制 此前以色列导弹空袭伊朗")
    assert hits("Pakistan strikes India")
    assert hits("India launches air strikes on Pakistan")
    assert hits("印度对巴基斯坦发动导弹空袭")


def test_empty_rule_set_matches_nothing() -> None:
    """With no rules, matching returns nothing (and needs no automaton)."""
    assert _ruleset([]).match(_article("朝鲜派兵")) == {}


def _automaton(ruleset: RuleSet) -> object:
    """The automaton `match` runs: the C core's, or the Python path's (built on first use)."""
    return ruleset._core.automaton if ruleset.native else ruleset._automaton


def test_recompiling_reuses_programs_and_automaton() -> None:
    """A new RuleSet over known expressions and terms reuses compiled programs and automaton."""
    rules = [Rule(id=f"r{i}", expression=f"朝鲜 + term{i}") for i in range(50)]
    first = _ruleset(rules)
    first_automaton = _automaton(first)
    second = _ruleset(rules[:-1])
    assert _automaton(second) is first_automaton
    assert second._programs[0] is first._programs[0]
    third = _ruleset([*rules, Rule(id="new", expression="brand-new-term")])
    assert _automaton(third) is not first_automaton
    assert "new" in third.match(_article("a brand-new-term"))
