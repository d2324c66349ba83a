"""Negation (`rules/negation.yaml`, bot.rules.negation): a mention a report denies is no
mention. Each cue has a sentence here, in the scripts it is written in (Traditional folds to
Simplified), through both engine paths; a report that also affirms the mention still matches,
and a cue inside a `keep` phrase ("not only") denies nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.models import Article, Rule
from bot.rules.engine import RuleSet
from bot.rules.negation import AFTER, BEFORE, Negation, load_negation, scope, shipped_negation
from tests.test_rules_engine import PATHS

NOW = datetime(2024, 11, 5, tzinfo=UTC)

# (rule, title, matches)
CASES = [
    # denied: what follows the cue in its clause
    ("朝鲜 + 派兵", "朝鲜否认向俄罗斯派兵", False),
    ("朝鲜 + 派兵", "北韓否認派兵援俄", False),
    ("中国 + 台湾 + 演习", "中方:解放军在台湾附近的活动并非演习", False),
    ("中国 + 台湾 + 演习", "國防部:共軍在台灣周邊行動並非演習", False),
    ("中国 + 台湾 + 演习", "中国称解放军在台湾附近的巡航并不是演习", False),
    ("朝鲜 + 派兵", "俄方称朝鲜并没有派兵", False),
    ("朝鲜 + 派兵", "克宫:朝鲜并未向俄罗斯派兵", False),
    ("朝鲜 + 派兵", "俄方:朝鲜並無派兵計畫", False),
    ("朝鲜 + 派兵", "平壤称朝鲜从未派兵海外", False),
    ("朝鲜 + 派兵", "平壤称朝鲜从没有派兵海外", False),
    ("朝鲜 + 派兵", "平壤称朝鲜从来没有派兵海外", False),
    ("朝鲜 + 派兵", "平壤称朝鲜未曾派兵海外", False),
    ("朝鲜 + 派兵", "俄方称朝鲜没有派兵", False),
    ("朝鲜 + 派兵", "韩方称朝鲜此举不是派兵", False),
    ("朝鲜 + 派兵", "分析:朝鲜不会派兵", False),
    ("朝鲜 + 派兵", "朝鲜称无意派兵海外", False),
    ("朝鲜 + 派兵", "朝鲜称不打算派兵", False),
    ("朝鲜 + 派兵", "朝鲜拒绝派兵参战", False),
    ("中国 + 台湾 + 演习", "中国称此次演习不针对台湾", False),
    ("中国 + 台湾 + 演习", "中国称演习无关乎台湾", False),
    # a scenario imagined is no event
    ("俄罗斯 + 袭击", "日本举行防空训练 设想遭俄罗斯袭击", False),
    ("俄罗斯 + 袭击", "自衛隊演練假想俄軍攻擊港口", False),
    ("俄罗斯 + 袭击", "芬兰举行民防演练 模拟俄罗斯无人机袭击电网", False),
    ("俄罗斯 + 袭击", "瑞典海軍演習模擬俄軍攻擊港口", False),
    ("俄罗斯 + 袭击", "Finland holds drills simulating a Russian attack on its ports", False),
    ("俄罗斯 + 袭击", "Estonia's exercise simulated Russian attacks on the grid", False),
    ("俄罗斯 + 袭击", "Drills simulate Russian attacks on Baltic ports", False),
    ("俄罗斯 + 袭击", "Poland's drill simulates Russian attacks on rail lines", False),
    ("俄罗斯 + 袭击", "A simulation of Russian attacks on the grid ran all day", False),
    ("朝鲜 + 派兵", "North Korea denied sending troops to Russia", False),
    ("朝鲜 + 派兵", "North Korea denies sending troops to Russia", False),
    ("朝鲜 + 派兵", "Officials in North Korea deny sending troops", False),
    ("朝鲜 + 派兵", "North Korea, denying sending troops, blames Seoul", False),
    ("朝鲜 + 派兵", "North Korea has not sent troops, Moscow says", False),
    ("朝鲜 + 派兵", "North Korea will never send troops, envoy says", False),
    ("朝鲜 + 派兵", "North Korea didn't send troops, Moscow says", False),
    ("朝鲜 + 派兵", "North Korea didn’t send troops, Moscow says", False),
    ("朝鲜 + 派兵", "North Korea hasn't sent troops, Moscow says", False),
    ("朝鲜 + 派兵", "North Korea hasn’t sent troops, Moscow says", False),
    ("朝鲜 + 派兵", "North Korea haven't sent troops, the envoys say", False),
    ("朝鲜 + 派兵", "North Korea haven’t sent troops, the envoys say", False),
    ("朝鲜 + 派兵", "North Korea won't send troops, Moscow says", False),
    ("朝鲜 + 派兵", "North Korea won’t send troops, Moscow says", False),
    ("朝鲜 + 派兵", "Kim says it isn't North Korean troops in Kursk", False),
    ("朝鲜 + 派兵", "Kim says it isn’t North Korean troops in Kursk", False),
    ("朝鲜 + 派兵", "Kim says it wasn't North Korean troops in Kursk", False),
    ("朝鲜 + 派兵", "Kim says it wasn’t North Korean troops in Kursk", False),
    ("朝鲜 + 派兵", "North Korea has no plans to send troops, envoy says", False),
    ("中国 + 台湾 + 演习", "China says the drills are unrelated to Taiwan", False),
    ("中国 + 台湾 + 演习", "China says the drills have nothing to do with Taiwan", False),
    ("朝鲜 + 派兵", "Moscow ruled out North Korean troops in Ukraine", False),
    ("朝鲜 + 派兵", "Moscow rules out North Korean troops in Ukraine", False),
    ("朝鲜 + 派兵", "North Korea sends shells rather than troops to Russia", False),
    ("朝鲜 + 派兵", "North Korea sends workers instead of troops to Russia", False),
    # denied: what precedes the cue in its clause
    ("中国 + 台湾 + 演习", "中方称演习不针对第三方,与台湾问题无关", False),
    ("中国 + 台湾 + 演习", "中方稱演習與台灣無關", False),
    ("朝鲜 + 派兵", "俄方:朝鲜派兵的报道不实", False),
    ("朝鲜 + 派兵", "俄方:朝鲜派兵纯属谣言", False),
    ("朝鲜 + 派兵", "克宫称朝鲜派兵是谣言", False),
    ("朝鲜 + 派兵", "克宫称朝鲜派兵系谣言", False),
    ("朝鲜 + 派兵", "朝鲜派兵一说不属实", False),
    ("朝鲜 + 派兵", "朝鲜派兵传闻遭否认", False),
    ("朝鲜 + 派兵", "朝鲜派兵传闻被否认", False),
    # the cue denies its own clause only, and nothing inside a `keep` phrase
    ("朝鲜 + 派兵", "朝鲜否认派兵,但韩国称朝鲜已向俄罗斯派兵", True),
    ("朝鲜 + 派兵", "North Korea denied it, but Seoul says North Korea sent troops", True),
    ("朝鲜 + 派兵", "North Korea not only sent troops but also shells", True),
    ("朝鲜 + 派兵", "North Korea has sent not just troops but shells", True),
    ("朝鲜 + 派兵", "It is not the first time North Korea sent troops abroad", True),
    ("朝鲜 + 派兵", "Not for the first time, North Korea sent troops abroad", True),
    ("朝鲜 + 派兵", "这不是第一次朝鲜派兵海外", True),
    ("朝鲜 + 派兵", "这并非第一次朝鲜派兵海外", True),
    ("朝鲜 + 派兵", "这不是首次朝鲜派兵海外", True),
    ("朝鲜 + 派兵", "这并非首次朝鲜派兵海外", True),
    ("朝鲜 + 派兵", "朝鲜不只是派兵,还提供炮弹", True),
    ("朝鲜 + 派兵", "朝鲜并非只派兵,还提供炮弹", True),
    ("朝鲜 + 派兵", "士兵无意中透露朝鲜派兵细节", True),
    ("朝鲜 + 派兵", "韩国称朝鲜已向俄罗斯派兵", True),
    # an act only planned, feared or speculated about has not happened
    ("朝鲜 + 派兵", "分析:朝鲜可能向俄罗斯派兵", False),
    ("朝鲜 + 派兵", "分析:北韓可能向俄羅斯派兵", False),
    ("朝鲜 + 派兵", "韩媒:朝鲜或将派兵援俄", False),
    ("朝鲜 + 派兵", "韩媒:朝鲜恐将派兵援俄", False),
    ("朝鲜 + 派兵", "分析:北韓恐再派兵援俄", False),
    ("朝鲜 + 派兵", "消息:朝鲜拟对俄罗斯派兵", False),
    ("朝鲜 + 派兵", "Seoul says North Korea plans troop deployment to Russia", False),
    ("朝鲜 + 派兵", "North Korea planned to send troops to Russia, Seoul says", False),
    ("朝鲜 + 派兵", "North Korea is planning to send troops to Russia", False),
    ("朝鲜 + 派兵", "North Korea's plan to send troops to Russia", False),
    ("朝鲜 + 派兵", "North Korea intends to send troops to Russia", False),
    ("朝鲜 + 派兵", "Seoul says North Korea intended to send troops", False),
    ("朝鲜 + 派兵", "Does North Korea intend to send troops?", False),
    ("朝鲜 + 派兵", "North Korea threatens to send troops", False),
    ("朝鲜 + 派兵", "North Korea threatened to send troops", False),
    ("朝鲜 + 派兵", "韩国称朝鲜已派兵 可能再增派", True),
    ("菲律宾 + 台风", "Philippines activates evacuation plans before typhoon hits Luzon", True),
    ("菲律宾 + 台风", "Philippines readies contingency plans for the typhoon", True),
    ("菲律宾 + 台风", "Philippines reviews emergency plans after typhoon warning", True),
    ("菲律宾 + 台风", "Philippines drafts rescue plans for typhoon victims", True),
    ("菲律宾 + 台风", "Philippines approves relief plans for typhoon survivors", True),
    ("菲律宾 + 台风", "Philippines updates response plans as a typhoon nears", True),
    ("菲律宾 + 台风", "Tourists cancel travel plans to the Philippines over typhoon", True),
    ("菲律宾 + 台风", "Philippines activates its plans as typhoon nears", True),
    # a claim dismissed: what precedes the cue
    ("朝鲜 + 派兵", "Moscow dismisses claims North Korea sent troops as fake", False),
    ("朝鲜 + 派兵", "Moscow dismisses claims North Korea sent troops as false", False),
    ("朝鲜 + 派兵", "Moscow dismisses claims North Korea sent troops as baseless", False),
    ("朝鲜 + 派兵", "Moscow dismisses claims North Korea sent troops as fabricated", False),
    ("朝鲜 + 派兵", "Moscow dismisses claims North Korea sent troops as untrue", False),
    ("朝鲜 + 派兵", "Seoul says North Korea sent troops, dismissing Moscow's denial as false",
     True),
]


def _matches(expression: str, title: str, *, native: bool,
             negation: Negation | None = None) -> bool:
    ruleset = RuleSet([Rule(id="r", expression=expression)], native=native, negation=negation)
    return bool(ruleset.match(Article(outlet="x", title=title, text="", published=NOW)))


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize(("rule", "title", "matches"), CASES)
def test_a_denied_mention_is_no_mention(rule: str, title: str, matches: bool,
                                        native: bool) -> None:
    assert _matches(rule, title, native=native) is matches


@pytest.mark.parametrize("native", PATHS)
def test_without_cues_a_denial_still_mentions(native: bool) -> None:
    assert _matches("朝鲜 + 派兵", "朝鲜否认向俄罗斯派兵", native=native, negation=Negation())


def test_every_cue_of_the_file_has_a_sentence() -> None:
    written = " ".join(title.lower() for _, title, _ in CASES)
    from bot.text import fold

    negation = shipped_negation()
    missing = [c for c in (*negation.before, *negation.after, *negation.keep)
               if fold(c).lower() not in fold(written)]
    assert not missing


def test_scope_stops_at_the_clause_and_the_reach() -> None:
    text = "north korea did not send troops, seoul says"
    start = text.index("not")
    assert scope(text, 1, start, start + 3, BEFORE, latin=True, chars=12, words=6) \
        == (1, start + 3, text.index(","))
    assert scope(text, 1, start, start + 3, BEFORE, latin=True, chars=12, words=1) \
        == (1, start + 3, text.index("troops"))
    cjk = "中方说,演习与台湾问题无关"
    at = cjk.index("无关")
    assert scope(cjk, 0, at, at + 2, AFTER, latin=False, chars=12, words=6) \
        == (0, cjk.index("演习"), at)
    assert scope(cjk, 0, at, at + 2, AFTER, latin=False, chars=2, words=6) == (0, at - 2, at)


def test_a_bad_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "negation.yaml"
    path.write_text("before: 否认\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="before"):
        load_negation(path)
    path.write_text("before: [否认]\nchars: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="chars"):
        load_negation(path)
    path.write_text("before: [否认]\nafter: [无关]\nkeep: [不仅]\nchars: 8\nwords: 4\n",
                    encoding="utf-8")
    assert load_negation(path) == Negation(("否认",), ("无关",), ("不仅",), 8, 4)
