"""Bare rule terms the catalog does not know reach across scripts and languages (bot.rules.expand):
what a term stands for, how a chat keeps it literal or leaves a variant out, and that the
catalog wins where both speak. Through the real rule engine (both paths) and `rules test`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Article, Rule
from bot.rules.engine import RuleSet
from bot.rules.entities import load_entities, shipped_path
from bot.rules.expand import expand
from tests.conftest import REPO

PUBLISHED = datetime(2024, 5, 23, 8, 0, tzinfo=UTC)

# Reports of one event, as each script and language words the exercise.
DRILLS = {
    "hans": ("解放军在台湾周边举行联合演习",
             "中国人民解放军东部战区23日起在台湾岛周边举行联合演习。"),
    "hant": ("共軍環台演習 國防部嚴密監控",
             "中共解放軍23日起在台灣周邊展開聯合演習，國防部表示嚴密監控。"),
    "hant-variant": ("共軍對台演練", "中共東部戰區23日在台灣周邊進行聯合演練。"),
    "en": ("China stages military drills around Taiwan",
           "China's military began two days of drills around Taiwan on Thursday."),
    "en-exercise": ("PLA exercise encircles Taiwan",
                    "The People's Liberation Army launched a large exercise around Taiwan."),
}
NOT_DRILLS = {
    "quake": ("台湾地震 造成停电", "台湾东部发生强烈地震，多地停电。"),
    "factory": ("Taiwan chipmaker buys new equipment", "The plant in Taiwan bought cranes."),
}


def _article(title: str, text: str) -> Article:
    return Article(outlet="X", title=title, text=text, published=PUBLISHED,
                   url=f"https://example.org/{abs(hash(title))}")


def _matching(expression: str, *, native: bool) -> set[str]:
    """The reports of DRILLS and NOT_DRILLS that `expression` matches."""
    rules = RuleSet([Rule(id="r", expression=expression)],
                    entities=load_entities(shipped_path()), native=native)
    return {name for name, (title, text) in (DRILLS | NOT_DRILLS).items()
            if rules.match(_article(title, text))}


def test_a_chinese_term_stands_for_its_forms_renderings_and_same_sense_words() -> None:
    """`演习`: its Traditional form, Chinese words of its sense (演练, not 练习 "to practise"
    or 钻头 "drill bit"), and its English renderings, inflected."""
    found = expand("演习")
    assert found is not None
    assert found.traditional == ("演習",)
    assert "演练" in found.chinese and not {"练习", "钻头", "钻井"} & set(found.chinese)
    assert {"drill", "drills", "exercise", "exercises"} <= set(found.aliases)
    assert found.shown().startswith("演习 -> 演習 · 演练")
    assert "drill(s)" in found.shown()


def test_an_english_term_stands_for_the_chinese_words_that_render_it() -> None:
    """`attack` -> 攻击, 袭击 (the words whose first senses give it)."""
    found = expand("attack")
    assert found is not None and {"攻击", "袭击"} <= set(found.chinese)


def test_words_the_dictionary_does_not_know_stay_literal() -> None:
    """A made-up word has no expansion: the rule matches it as written."""
    assert expand("xqzzyword") is None and expand("龘靐齉") is None


@pytest.mark.parametrize("native", [True, False], ids=["C core", "Python"])
def test_a_bare_term_matches_every_script_and_language(native: bool) -> None:
    """`台湾 + 演习` alerts on the Simplified, Traditional and English reports of the drills,
    whichever word they use, and not on unrelated Taiwan news."""
    assert _matching("台湾 + 演习", native=native) == set(DRILLS)


@pytest.mark.parametrize("native", [True, False], ids=["C core", "Python"])
def test_a_quoted_term_is_matched_as_written(native: bool) -> None:
    """`台湾 + "演习"` matches only reports that say 演习 (or 演習: scripts are folded)."""
    assert _matching('台湾 + "演习"', native=native) == {"hans", "hant"}


@pytest.mark.parametrize("native", [True, False], ids=["C core", "Python"])
def test_a_variant_can_be_left_out(native: bool) -> None:
    """`台湾 + 演习 -"演练"` leaves out the report that says 演練 (Traditional of the variant);
    the others still match."""
    assert _matching('台湾 + 演习 -"演练"', native=native) == set(DRILLS) - {"hant-variant"}


def test_the_catalog_wins_over_the_dictionary() -> None:
    """A term that is a catalog alias stands for its entity, not for its dictionary
    expansion (朝鲜 -> North Korea): `朝鲜` matches `DPRK`, which only the catalog knows, and
    not 朝鲜 inside 南朝鲜, which the catalog excludes."""
    rules = RuleSet([Rule(id="r", expression="朝鲜")], entities=load_entities(shipped_path()))
    assert rules.match(_article("DPRK test", "The DPRK fired a missile."))
    assert not rules.match(_article("旧称", "南朝鲜是旧称。"))


def test_rules_test_shows_what_each_term_stands_for(tmp_path: Path) -> None:
    """`newsbot rules test` prints each bare term's meaning before the matches: an entity for
    a catalog alias, the expansion for a dictionary word, nothing for a quoted term."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "rules", "test", '台湾 + 演习 + "军演"', "--path",
         str(REPO / "seeds")], cwd=REPO, text=True, capture_output=True, timeout=120,
        check=False, env={"PATH": "/usr/bin:/bin", "NEWSBOT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "  台湾 = @taiwan: Taiwan (ROC)"
    assert lines[1].startswith("  演习 -> 演習 · 演练") and "drill(s)" in lines[1]
    assert not any("军演 ->" in line for line in lines)
