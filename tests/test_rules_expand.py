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
from bot.rules.english import Phrase, act
from bot.rules.entities import load_entities, shipped_path
from bot.rules.expand import expand, phrases
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


def test_a_light_verb_sense_gives_the_act_it_names() -> None:
    """"to make an air raid" (空袭), "to carry out a raid" (进袭), "to mount a sneak attack"
    (偷袭), "to conduct a witch hunt" (猎巫): each term stands for the act, a noun with its
    plural, not for the light verb."""
    cases = {"空袭": "air raid", "进袭": "raid", "偷袭": "sneak attack", "猎巫": "witch hunt"}
    for term, noun in cases.items():
        found = expand(term)
        assert found is not None, term
        assert noun in {p.text for p in found.english}, found.shown()
        assert {noun, f"{noun}s"} <= set(found.aliases), found.shown()
        assert not any(a.startswith(("make ", "carry out", "mount ", "conduct "))
                       for a in found.aliases), found.shown()
    air = expand("空袭")
    assert air is not None and air.acts
    assert air.shown().startswith("空袭 -> 空襲 · air raid(s) · ")  # then rules/senses.yaml's


def test_a_light_verb_with_no_act_gives_nothing_new() -> None:
    """Only a light verb, then one act (an indefinite article), whose noun the dictionary
    also gives as a verb: a satellite launched, a presentation given, "the list" made, "make
    public" and "a lot of excuses" are no act; such a sense is read as it stands, as before
    (three words or less after "to": a verb phrase), never as its noun alone."""
    acts = frozenset({"raid", "strike", "hunt", "excuse", "list"})
    assert act("to launch an air strike", acts) == Phrase("air strike", act=True)
    assert act("to carry out  a raid", acts) == Phrase("raid", act=True)
    for sense in ("to launch a satellite", "to give a presentation", "to make the list",
                  "to make public", "to make a lot of excuses", "to drill",
                  "to take a raid", "to make a raid on"):
        assert act(sense, acts) is None, sense
    found = phrases(("to launch a satellite", "satellite launch"), proper=False, acts=acts)
    assert [(p.text, p.act) for p in found] == [("launch a satellite", False),
                                                ("satellite launch", False)]  # as before
    found = phrases(("to make an air raid", "air strike"), proper=False, acts=acts)
    assert [(p.text, p.act) for p in found] == [("air strike", False), ("air raid", True)]


def test_an_act_is_the_words_own() -> None:
    """An act makes no other word a word of the same sense: 突袭 ("to raid") keeps its
    words, and the drill tool stays out of 演习 as before; an English term that says the
    light-verb sense stands for the word."""
    raid = expand("突袭")
    assert raid is not None and "空袭" not in raid.chinese
    said = expand("make an air raid")  # an English term that says the sense: the word's own
    assert said is not None and said.chinese == ("空袭",) and said.acts
    drill = expand("演习")
    assert drill is not None and not {"钻头", "钻探", "钻井"} & set(drill.chinese)


@pytest.mark.parametrize("native", [True, False], ids=["C core", "Python"])
def test_a_light_verb_term_matches_the_act_in_english(native: bool) -> None:
    """`空袭` alerts on an English report of air raids, and on 空襲; quoted, only on 空袭."""
    reports = {"en": ("Jets carry out air raids on border town", "Two air raids hit the town."),
               "hant": ("戰機空襲邊境小鎮", "戰機夜間空襲邊境小鎮。"),
               "other": ("Town holds a parade", "The town held a parade on Sunday.")}
    for expression, wanted in (("空袭", {"en", "hant"}), ('"空袭"', {"hant"})):
        rules = RuleSet([Rule(id="r", expression=expression)],
                        entities=load_entities(shipped_path()), native=native)
        assert {name for name, (title, text) in reports.items()
                if rules.match(_article(title, text))} == wanted, expression


def test_a_verb_with_its_object_stands_as_it_is() -> None:
    """`to impose martial law`, `to impose emergency measures`: a verb with its object gets no
    plural (no `impose emergency measureses`) and is shown without `(s)`; a noun keeps it."""
    found = expand("戒严")
    assert found is not None
    assert "impose emergency measures" in found.aliases
    assert not any(a.endswith("measureses") or a.endswith("laws") for a in found.aliases)
    assert "measures(s)" not in found.shown() and "impose martial law ·" in found.shown() + " ·"
    drill = expand("演习")
    assert drill is not None and {"drill", "drills"} <= set(drill.aliases)


def test_a_plural_is_shown_as_matching_writes_it() -> None:
    """`关税` matches `customs duties` and `tariffs`: /rule add shows `customs duty/duties`
    and `tariff(s)`, never `duty(s)`; a noun that takes `-es` shows `(es)`."""
    found = expand("关税")
    assert found is not None
    assert {"customs duties", "tariffs"} <= set(found.aliases)
    shown = found.shown()
    assert "customs duty/duties" in shown and "tariff(s)" in shown and "duty(s)" not in shown
    assert Phrase("box").shown() == "box(es)" and Phrase("drill").shown() == "drill(s)"


def test_kinds_of_a_noun_count_for_it() -> None:
    """大选 "general election" and 初选 "primary election" are elections; 胜选 "to win an
    election" is a verb, 寒武爆发 "Cambrian explosion" a word general Chinese rarely uses."""
    election = expand("选举")
    assert election is not None and {"大选", "初选"} <= set(election.chinese)
    assert "胜选" not in election.chinese
    explosion = expand("爆炸")
    assert explosion is None or "寒武爆发" not in explosion.chinese
    talks = expand("会谈")
    assert talks is not None and "和谈" in talks.chinese


def test_a_name_is_shown_without_a_capital_after_an_apostrophe() -> None:
    """`Kurdistan Worker's Party`, `Sana'a`: not Worker'S, Sana'A."""
    assert Phrase("kurdistan worker's party", name=True).shown() == "Kurdistan Worker's Party"
    assert Phrase("sana'a", name=True).shown() == "Sana'a"
