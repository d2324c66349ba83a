"""Rule files: the shipped entity lists, entities.yaml validation, topics parsed against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.rules.entities import check_entities, load_entities
from bot.rules.topics import load_rule_files, load_topics
from tests.conftest import REPO

SHIPPED = REPO / "rules" / "entities.yaml"


@pytest.mark.parametrize(("alias", "entity"), [
    ("朝鲜", "dprk"), ("北朝鲜", "dprk"), ("北韩", "dprk"), ("北韓", "dprk"), ("朝方", "dprk"),
    ("DPRK", "dprk"), ("North Korea", "dprk"), ("Pyongyang", "dprk"), ("平壤", "dprk"),
    ("韩国", "rok"), ("南韩", "rok"), ("南韓", "rok"), ("ROK", "rok"), ("Seoul", "rok"),
    ("中国", "china"), ("PRC", "china"), ("台湾", "taiwan"), ("臺灣", "taiwan"),
    ("日本", "japan"), ("蒙古国", "mongolia"), ("Ulaanbaatar", "mongolia"),
    ("俄罗斯", "russia"), ("Kremlin", "russia"), ("乌克兰", "ukraine"), ("Kyiv", "ukraine"),
    ("美国", "us"), ("U.S.", "us"), ("欧盟", "eu"), ("北约", "nato"), ("联合国", "un"),
    ("安理会", "unsc"), ("Security Council", "unsc"), ("US", "us"), ("dprk", "dprk"),
    ("金正恩", "kim-jong-un"), ("李在明", "lee-jae-myung"), ("尹锡悦", "yoon-suk-yeol"),
    ("习近平", "xi-jinping"), ("赖清德", "lai-ching-te"), ("高市早苗", "takaichi-sanae"),
    ("石破茂", "ishiba-shigeru"), ("普京", "putin"), ("普丁", "putin"),
    ("泽连斯基", "zelensky"), ("特朗普", "trump"), ("川普", "trump"), ("Rutte", "rutte"),
    ("古特雷斯", "guterres"), ("冯德莱恩", "von-der-leyen"), ("Kaja Kallas", "kallas"),
    ("Yoon", "yoon-suk-yeol"),
    ("派兵", "send-troops"), ("出兵", "send-troops"), ("派遣部队", "send-troops"),
    ("派遣军队", "send-troops"), ("派遣士兵", "send-troops"), ("增兵", "send-troops"),
    ("部署军队", "send-troops"), ("deploy troops", "send-troops"),
    ("troop deployment", "send-troops"), ("导弹试射", "missile-launch"),
    ("试射导弹", "missile-launch"), ("发射导弹", "missile-launch"),
    ("弹道导弹", "missile-launch"), ("missile launch", "missile-launch"),
    ("制裁", "sanctions"), ("sanctions", "sanctions"), ("召见大使", "summon-ambassador"),
    ("summon ambassador", "summon-ambassador"),
])
def test_shipped_aliases_name_the_right_entity(alias: str, entity: str) -> None:
    """Each researched alias (Simplified, Traditional, English) expands to its entity."""
    found = load_entities(SHIPPED).expand(alias)
    assert found is not None and found.name == entity


@pytest.mark.parametrize("term", ["Korea", "America", "Washington", "朝", "韩",
                                  "部署", "派遣", "军队", "大使"])
def test_shipped_lists_leave_out_over_broad_aliases(term: str) -> None:
    """Ambiguous words stand for themselves, not for an entity."""
    assert load_entities(SHIPPED).expand(term) is None


def test_an_operation_names_the_sides_it_involves(tmp_path: Path) -> None:
    """An entity's `involves` adds its aliases to each side's; a bare term that is one of
    them still names the operation itself."""
    path = tmp_path / "entities.yaml"
    path.write_text("entities:\n  a:\n    aliases: [甲]\n  op:\n    aliases: [行动]\n"
                    "    involves: [a]\n", encoding="utf-8")
    entities = load_entities(path)
    assert entities.by_name["a"].aliases == ("甲", "行动")
    found = entities.expand("行动")
    assert found is not None and found.name == "op"


def test_a_leader_acts_for_a_country_only_beside_an_action(tmp_path: Path) -> None:
    """An entity's `acts_for` adds nothing to the country's own aliases (what a bare term and
    story grouping read); `people` are those who act for the country, each with what marks a
    report calling them former."""
    path = tmp_path / "entities.yaml"
    path.write_text("entities:\n  a:\n    kind: country\n    aliases: [甲国]\n"
                    "  p:\n    kind: person\n    acts_for: [a]\n    aliases: [张三]\n"
                    "  q:\n    kind: person\n    aliases: [李四]\n", encoding="utf-8")
    entities = load_entities(path)
    country = entities.by_name["a"]
    assert country.aliases == ("甲国",)
    (person, former), = entities.people(country)
    assert person.name == "p" and "前总统张三" in former.aliases
    assert entities.people(entities.by_name["q"]) == ()
    found = entities.expand("张三")
    assert found is not None and found.name == "p" and found.acts_for == ("a",)


def test_shipped_leaders_act_for_their_country() -> None:
    """Every shipped person acts for the country (or body) their label names."""
    entities = load_entities(SHIPPED)
    people = [e for e in entities if e.kind == "person"]
    assert people and all(len(e.acts_for) == 1 for e in people)
    for person in people:
        side = entities.by_name[person.acts_for[0]]
        assert side.kind in ("country", "organization")
    assert {e.name for e in entities if "rok" in e.acts_for} == {"yoon-suk-yeol",
                                                                 "lee-jae-myung"}


def test_shipped_entities_file_is_valid() -> None:
    """rules/entities.yaml has no problems: no alias is shared by two entities."""
    entities, problems = check_entities(SHIPPED)
    assert problems == [] and len(entities) >= 30


@pytest.mark.parametrize(("text", "where", "message"), [
    ("entities:\n  a:\n    aliases: [x, y]\n  b:\n    aliases: [z, X]\n", ":5:18",
     "alias 'X' of entity 'b' is already an alias of 'a' (line 3)"),
    ("entities:\n  a:\n    aliases: [北韓]\n  b:\n    aliases: [北韩]\n", ":5:15",
     "alias '北韩' of entity 'b' is already an alias of 'a' (line 3)"),
    ("entities:\n  a:\n    aliases: [x]\n    alias: [y]\n", ":4:12", "unknown key 'alias'"),
    ("entities:\n  Bad Name:\n    aliases: [x]\n", ":2:3", "must be lower-case"),
    ("entities:\n  a:\n    aliases: [x]\n    involves: [b]\n", ":4:16",
     "entity 'a' involves 'b', which is no other entity"),
    ("entities:\n  a:\n    aliases: [x]\n    involves: [a]\n", ":4:16",
     "entity 'a' involves 'a', which is no other entity"),
    ("entities:\n  a:\n    aliases: [x]\n    acts_for: [b]\n", ":4:16",
     "entity 'a' acts for 'b', which is no other entity"),
    ("entities:\n  a:\n    aliases: [x]\n    other_senses: x\n", ":4:19", "expected a list"),
    ("entities:\n  a:\n    label: x\n", ":2:3", "needs a list of aliases"),
    ("entities:\n  a:\n    aliases: [x, '...y']\n", ":3:18", "malformed alias"),
    ("entities: [a]\n", ":1:11", "expected a mapping under 'entities'"),
    ("entities:\n  a: [\n", ":3:1", "invalid YAML"),
])
def test_entities_file_problems_name_file_line_col(tmp_path: Path, text: str, where: str,
                                                   message: str) -> None:
    """Each problem in an entities file is reported as file:line:col with a clear message."""
    path = tmp_path / "entities.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = check_entities(path)
    assert any(p.startswith(f"{path}{where}: ") and message in p for p in problems), problems
    with pytest.raises(ConfigError):
        load_entities(path)


@pytest.mark.parametrize(("expression", "column", "message"), [
    ("朝鲜 + ", 21, "expected a term after '+'"),
    ("派兵 + @dprc", 22, "unknown entity @dprc; did you mean @dprk"),
    ("(朝鲜", 17, "unbalanced parentheses: '(' is never closed"),
    ("-朝鲜", 17, "a rule needs something that must occur"),
])
def test_topic_expression_errors_name_file_line_col(tmp_path: Path, expression: str,
                                                    column: int, message: str) -> None:
    """A bad expression in a topic file is reported at its file, line and column."""
    path = tmp_path / "t.yaml"
    path.write_text(f"topics:\n  - name: t\n    expression: {expression}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_topics(tmp_path)
    assert f"{path}:3:{column}: topic 't': {message}" in str(caught.value)


def test_topics_use_the_entities_file_beside_them(tmp_path: Path) -> None:
    """Topics may name entities from the entities.yaml in their folder, which is the catalog
    the folder's rule files give the caller."""
    (tmp_path / "entities.yaml").write_text("entities:\n  widgets:\n    aliases: [widget]\n",
                                            encoding="utf-8")
    (tmp_path / "t.yaml").write_text("topics:\n  - name: w\n    expression: '@widgets'\n",
                                     encoding="utf-8")
    assert [t.name for t in load_topics(tmp_path)] == ["w"]
    assert load_rule_files(tmp_path).entities.resolve("widget") is not None


def test_bad_entities_file_fails_the_rules_folder(tmp_path: Path) -> None:
    """An invalid entities.yaml makes load_topics fail with its file:line:col."""
    (tmp_path / "entities.yaml").write_text(
        "entities:\n  a:\n    aliases: [x]\n  b:\n    aliases: [x]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_topics(tmp_path)
    assert f"{tmp_path / 'entities.yaml'}:5:15:" in str(caught.value)


def test_unknown_topic_key_is_still_reported(tmp_path: Path) -> None:
    """Unknown keys in a topic keep failing the load with file:line:col."""
    (tmp_path / "t.yaml").write_text("topics:\n  - name: t\n    expresion: a\n",
                                     encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_topics(tmp_path)
    assert f"{tmp_path / 't.yaml'}:3:16: unknown key 'expresion'" in str(caught.value)


def test_shipped_rules_folder_loads() -> None:
    """The shipped rules/ folder (topics and entities) is valid."""
    assert [t.name for t in load_topics(REPO / "rules")] == ["dprk-troops"]
