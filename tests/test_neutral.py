"""The language-neutral view of an article: glosses, entities, numbers, days, background
frequencies, and what a Chinese and an English report of one event come to share."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup import lexicon
from bot.dedup.analysis import Analyzer, shipped_analyzer
from bot.dedup.background import PRIOR_DOCS, Background
from bot.dedup.features import cosine, tagged_terms, vectorize
from bot.dedup.neutral import EntityFinder, chinese_number, days, numbers
from bot.models import Article
from bot.rules.entities import Entities, Entity
from bot.text import fold, language_of


@pytest.mark.parametrize(("word", "stems"), [
    ("召见", {"summon"}),
    ("派兵", {"dispatch", "troop"}),
    ("演习", {"drill", "exercis"}),
    ("佩洛西", {"pelosi"}),           # a proper noun keeps its name, not its biography
    ("库尔斯克", {"kursk"}),
])
def test_chinese_words_are_glossed_into_english_stems(word: str, stems: set[str]) -> None:
    """CC-CEDICT's first senses become English stems sharing the word's weight."""
    glosses = dict(lexicon.gloss(word))
    assert stems <= glosses.keys()
    assert math.isclose(sum(w * w for w in glosses.values()), 1.0, abs_tol=0.01)


@pytest.mark.parametrize(("word", "acronym"), [("汇丰", "hsbc"), ("上合组织", "sco"),
                                            ("中国人民解放军", "pla"), ("北约", "nato")])
def test_an_organisation_is_glossed_mainly_as_its_acronym(word: str, acronym: str) -> None:
    """`Hong Kong and Shanghai Banking Corporation (HSBC)`: English reports print `HSBC`; the
    spelled-out words (`bank`) weigh less than the acronym, when the dictionary gives both."""
    glosses = dict(lexicon.gloss(word))
    assert max(glosses, key=lambda term: glosses[term]) == acronym
    assert all(weight < glosses[acronym] for term, weight in glosses.items() if term != acronym)


def test_words_the_dictionary_lacks_have_no_gloss() -> None:
    """A transliterated name CC-CEDICT does not list stays a Chinese word (no gloss)."""
    assert lexicon.gloss("季诺维也夫") == () and not lexicon.knows("季诺维也夫")


@pytest.mark.parametrize(("text", "terms"), [
    ("首批1500名朝鲜军人", ["#1500"]),
    ("运送了1.3万个集装箱", ["#13000"]),
    ("多达800万枚122毫米炮弹", ["#8000000", "#122"]),
    ("第一批2,600名士兵", ["#2600"]),
    ("一万三千人", ["#13000"]),
    ("三亿", ["#300000000"]),
    ("增长5.2%的经济", ["#5.2%"]),
    ("$2 billion aid, 10,000 troops and 1.5 million shells",
     ["#2000000000", "#10000", "#1500000"]),
    ("10月21日 and 21 troops", []),  # under 100: counts of everything
    ("一二三", []),  # a list, not a number
])
def test_numbers_are_written_one_way(text: str, terms: list[str]) -> None:
    """`1,500`, `1500名` and `一千五百` are one term; amounts with 万, 亿 and million too."""
    assert [m.term for m in numbers(fold(text))] == terms


@pytest.mark.parametrize(("text", "value"), [
    ("一万", 10_000), ("两千五百", 2_500), ("十五", 15), ("一亿三千万", 130_000_000),
    ("三十万", 300_000), ("万", 10_000), ("一二", None), ("亿亿", None)])
def test_chinese_numerals(text: str, value: int | None) -> None:
    """Chinese numerals up to 亿 read as numbers; malformed ones as nothing."""
    assert chinese_number(text) == value


@pytest.mark.parametrize(("text", "terms"), [
    ("韩国周一(10月21日)召见", ["~10-21"]),
    ("on Monday (Oct. 21)", ["~10-21"]),
    ("21 October 2024", ["~10-21"]),
    ("October 21st", ["~10-21"]),
    ("March 2024", []),
    ("13月40日", []),
])
def test_days_of_the_year_are_written_one_way(text: str, terms: list[str]) -> None:
    """`10月21日`, `Oct. 21` and `21 October` are the same day term."""
    assert [m.term for m in days(fold(text))] == terms


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789,.%万亿千百十一二三四五六七八九两 月日"
                                             "janoctmaythousandbillion ")), max_size=40))
def test_numbers_and_days_never_raise(text: str) -> None:
    """Any text of digits, separators, units and month names reads without an exception."""
    assert all(m.term.startswith("#") for m in numbers(text))
    assert all(m.term.startswith("~") for m in days(text))


def _finder() -> EntityFinder:
    return EntityFinder(Entities([
        Entity(name="dprk", aliases=("朝鲜", "North Korea", "North Korean", "DPRK"),
               exclude=("南朝鲜", "朝鲜族")),
        Entity(name="rok", aliases=("韩国", "南朝鲜", "South Korea")),
        Entity(name="us", aliases=("美国", "U.S.")),
    ]))


@pytest.mark.parametrize(("text", "terms"), [
    ("North Korean troops in Russia", ["@dprk"]),
    ("南朝鲜和朝鲜", ["@rok", "@dprk"]),       # the longer alias wins where two overlap
    ("朝鲜族居民", []),                          # an exclusion word hides the alias
    ("the dprkx project", []),                   # Latin aliases match whole words only
    ("us and them", []),                         # an entity's name is not one of its aliases
])
def test_catalog_entities_are_found_in_any_script(text: str, terms: list[str]) -> None:
    """Aliases in folded text become the entity's term; excluded and partial words do not."""
    assert [m.term for m in _finder().find(fold(text))] == terms


def test_an_alias_is_blanked_out_so_its_words_are_not_counted_again() -> None:
    """Masking replaces each alias found by a space and returns what it found."""
    masked, found = _finder().mask(fold("North Korea fired a missile"))
    assert "north" not in masked and "missile" in masked and [m.term for m in found] == ["@dprk"]


def test_relative_times_and_cited_agencies_are_not_terms() -> None:
    """上周五, 今天下午 and the agencies a report cites say who and when, not what."""
    words = {w for w, _ in tagged_terms(fold("上周五美联社报道,本周一韩国外交部召见大使"))}
    assert {"韩国", "外交部", "召见", "大使"} <= words
    assert not {"上周五", "美联社", "本周一"} & words
    assert not {"monday", "reuter"} & {w for w, _ in tagged_terms("seoul (reuters) on monday")}


def test_background_makes_rare_words_weigh_more_from_the_first_article() -> None:
    """With an empty window, a name weighs more than a common word, in both languages; as the
    window fills, its own counts take over."""
    background = Background()
    idf = background.idf(["zinoviev", "state", "季诺维也夫", "表示"], {}, 0)
    assert idf["zinoviev"] > idf["state"] and idf["季诺维也夫"] > idf["表示"]
    busy = background.idf(["zinoviev"], {"zinoviev": 5 * PRIOR_DOCS}, 10 * PRIOR_DOCS)
    assert busy["zinoviev"] < 2.0


@pytest.mark.parametrize(("text", "lang"), [
    ("韩国召见俄罗斯大使", "zh"), ("韓國召見俄羅斯大使", "zh"),
    ("Seoul summons Russian envoy over North Korean troops", "en"),
    ("Seoul summons the Russian envoy, Georgy Zinoviev (季诺维也夫)", "en")])
def test_language_of_a_report(text: str, lang: str) -> None:
    """A report is Chinese when it has more Chinese characters than Latin words."""
    assert language_of(text) == lang


def _vector(analyzer: Analyzer, title: str, text: str) -> dict[str, float]:
    found = analyzer.analyse(Article(outlet="x", title=title, text=text))
    return vectorize(found.raw, analyzer.background.idf(found.raw, {}, 0))


def test_a_chinese_and_an_english_report_of_one_event_meet_in_one_vocabulary() -> None:
    """The Simplified and English reports of the Seoul summons share the ambassador, the
    summons, the name in parentheses, the entities and the day; an unrelated English report
    shares next to nothing with the Chinese one."""
    analyzer = shipped_analyzer()
    zh = _vector(analyzer, "韩国召见俄罗斯大使 抗议朝鲜派兵",
                 "韩国外交部周一(10月21日)召见俄罗斯驻韩大使季诺维也夫(Georgy Zinoviev),"
                 "抗议朝鲜向俄罗斯派遣1500名士兵。")
    en = _vector(analyzer, "South Korea summons Russian ambassador over North Korean troops",
                 "Seoul summoned Russian Ambassador Georgy Zinoviev on Monday (Oct. 21) to "
                 "protest North Korea's dispatch of 1,500 soldiers to Russia.")
    other = _vector(analyzer, "Fed cuts rates by a quarter point",
                    "The Federal Reserve lowered its benchmark rate on Thursday, citing "
                    "cooling inflation and a softer labour market.")
    shared = zh.keys() & en.keys()
    assert {"summon", "ambassador", "zinoviev", "@dprk", "@rok", "#1500", "~10-21"} <= shared
    assert cosine(zh, en) > 0.3 and cosine(zh, other) < 0.05


def test_a_name_glued_to_the_character_beside_it_counts_as_the_name() -> None:
    """The segmenter glues names the dictionary lacks to a neighbour (默茨料, 由默茨); where the
    article also writes the name alone, those count as the name."""
    analyzer = shipped_analyzer()
    raw = analyzer.analyse(Article(
        outlet="x", title="德国大选基民盟胜出 默茨料任总理",
        text="由默茨领导的基民盟成为国会第一大党。默茨表示会尽快组成政府。")).raw
    assert "默茨" in raw and "默茨料" not in raw and "由默茨" not in raw
