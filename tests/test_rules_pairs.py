"""The pair words of two countries a rule names together (bot.rules.pairs)."""

from __future__ import annotations

from bot.rules.derived import expanded
from bot.rules.entities import Entity, shipped_entities
from bot.rules.pairs import abbreviations, pair_entity


def _country(term: str) -> Entity:
    found = expanded(term)
    assert found is not None
    return found


def test_abbreviations_come_from_the_side_forms() -> None:
    entities = shipped_entities()
    assert abbreviations(entities.by_name["china"]) == ("中",)
    assert abbreviations(entities.by_name["rok"]) == ("韩",)  # 韓方 folds to 韩方
    assert abbreviations(_country("泰国")) == ("泰",)
    assert abbreviations(entities.by_name["iran"]) == ()  # no 伊方 form: no pair words


def test_pair_words_in_both_orders_for_the_countries_of_a_rule() -> None:
    thai, khmer = _country("泰国"), _country("柬埔寨")
    found = pair_entity(thai, (thai, khmer))
    assert found is not None and set(found.aliases) == {"泰柬", "柬泰"}
    assert pair_entity(thai, (thai,)) is None  # no other country, no pair


def test_a_dictionary_word_of_another_sense_is_no_pair() -> None:
    """中巴 is also "minibus", 日中 "noon": not built; 中美 "China-USA" is."""
    entities = shipped_entities()
    china = entities.by_name["china"]
    assert pair_entity(china, (china, _country("巴基斯坦"))) is None
    found = pair_entity(china, (china, entities.by_name["japan"]))
    assert found is not None and "日中" not in found.aliases and "中日" in found.aliases
    assert "中美" in (pair_entity(china, (china, entities.by_name["us"])) or china).aliases


def test_guards_hold_the_words_a_pair_sits_inside() -> None:
    """中美洲 names one place; 今日 + 美, 其中 + 美 end with the first character; after 日, a
    common word of its own, 美国 starts with the second."""
    entities = shipped_entities()
    china, japan, us = (entities.by_name[n] for n in ("china", "japan", "us"))
    found = pair_entity(china, (china, us))
    assert found is not None and {"中美洲", "其中美"} <= set(found.exclude)
    found = pair_entity(japan, (japan, us))
    assert found is not None and {"今日美", "日美国"} <= set(found.exclude)
    assert "美日同盟" not in found.exclude
    assert "3日美" in found.exclude  # 23日美韩联合军演: a date, no Japan
