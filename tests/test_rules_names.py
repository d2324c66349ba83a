"""`bot.rules.names`: a place a bare rule term names counts in the forms reports use beside its
name: its abbreviation before a role (菲方, 印軍, 巴國), the pair words naming it (印巴), its
people and adjective in English (Filipino, Philippine, Pakistani), its capital for its
government (曼谷, Bangkok); not inside a longer common word (越来越方便 is no Vietnam, 都柏林 no
Berlin), and a person's name gives no such forms. Both engine paths."""

from __future__ import annotations

import pytest

from bot.rules import names
from bot.rules.english import Phrase
from bot.rules.expand import expand
from tests.test_rules_senses import _matches

# (rule, title, text, matches)
CASES = [
    ("菲律宾 + 海警", "中国海警对菲方船只实施管控", "", True),
    ("菲律宾 + 海警", "菲軍稱中國海警船在仁愛暗沙衝撞補給船", "", True),
    ("菲律宾 + 海警", "China coast guard blocks Philippine supply boat", "", True),
    ("菲律宾 + 海警", "Filipino sailors injured as coast guard ships collide", "", True),
    ("菲律宾 + 海警", "Coast guard rescues Filipinos off Palawan", "", True),
    ("印度 + 巴基斯坦 + 空袭", "印巴互相空襲對方空軍基地", "", True),
    ("印度 + 巴基斯坦", "印軍稱已回擊巴國境內目標", "", True),
    ("印度 + 巴基斯坦", "印方与巴方同意停火", "", True),
    ("印度 + 巴基斯坦", "Indian and Pakistani officers talk on the hotline", "", True),
    ("越南", "越来越方便的网购", "", False),
    ("越南", "越方称将加强合作", "", True),
    ("新加坡", "新媒体改变新闻业", "", False),
    ("新加坡", "新方案公布", "", False),
    ("新加坡", "新方表示欢迎", "", True),
    ("新加坡", "新国家安全法生效", "", False),
    ("印度 + 巴基斯坦", "印軍稱已打擊巴國軍事目標", "", True),
    ("巴基斯坦", "巴西总统访问中国", "", False),
    ("巴基斯坦", "中巴车翻覆 十人受伤", "", False),
    # the capital for the government
    ("泰国 + 柬埔寨", "曼谷指责金边率先开火", "", True),
    ("泰国 + 柬埔寨", "Bangkok and Phnom Penh sign a border accord", "", True),
    ("柬埔寨 + 冲突", "金边称边境冲突已造成平民伤亡", "", True),
    ("德国", "都柏林举行马拉松", "", False),
    ("德国", "柏林宣布增加军费", "", True),
    ("意大利", "罗马尼亚举行总统选举", "", False),
    ("意大利", "Rome says it will send a frigate", "", True),
    ("马尔代夫", "Male voters lean right", "", False),
    # the adjective from its language
    ("泰国 + 柬埔寨", "Thai and Cambodian troops exchange fire", "", True),
    ("波兰", "How to polish old shoes", "", False),
]


@pytest.mark.parametrize("native", [True, False], ids=["c", "python"])
@pytest.mark.parametrize(("rule", "title", "text", "wanted"), CASES)
def test_a_place_counts_in_its_short_forms(rule: str, title: str, text: str, wanted: bool,
                                           native: bool) -> None:
    assert _matches(rule, title, text, native=native) is wanted


def test_forms_come_from_the_dictionary_for_places_only() -> None:
    """An abbreviation whose sense names the place alone gives forms; one of another name
    (竺 "abbr. for 天竺 India (esp. in Tang or Buddhist context)") or a homograph pair (美德
    "virtue", 反日 "anti-Japan") gives none; a person gets no built English forms."""
    india = names.chinese_forms("印度", "india")
    assert {"印方", "印军", "印巴"} <= set(india)
    assert not any(f.startswith("竺") for f in india)
    assert "美德" not in names.chinese_forms("德国", "germany")
    assert "反日" not in names.chinese_forms("日本", "japan")
    assert names.english_forms("菲律宾", "philippines") == ("filipino", "philippine")
    assert names.english_forms("巴基斯坦", "pakistan") == ("pakistani",)
    assert names.english_forms("马科斯", "marcos") == ()
    assert names.english_forms("泰国", "thailand") == ("thai",)  # 泰语 "Thai (language)"
    assert "polish" not in names.english_forms("波兰", "poland")  # also "to polish"
    assert "tagalog" not in names.english_forms("菲律宾", "philippines")
    assert "以方便" in names.guards(("以方",))
    # a country the dictionary neither abbreviates nor names a people of: CLDR's territories
    assert names.english_forms("苏丹", "sudan") == ("sudanese",)
    assert names.english_forms("委内瑞拉", "venezuela") == ("venezuelan",)


def test_a_people_in_ese_has_no_plural_s() -> None:
    """`the Sudanese`, `two Japanese`: shown and matched as written."""
    found = expand("苏丹")
    assert found is not None and "Sudanese" in found.shown() and "Sudaneses" not in found.aliases
    assert Phrase("venezuelan").shown() == "venezuelan(s)"


def test_a_capital_is_read_from_the_dictionary() -> None:
    """`<Name>, capital of <place>`: its Chinese words and English names; not a name the
    dictionary gives as a common word's sense (Phoenix, the bird), and the longer words its
    Chinese word sits in without naming it are guards."""
    assert names.capital("thailand") == names.Capital(("曼谷",), ("Bangkok",))
    assert names.capital("Ukraine").english == ("Kyiv", "Kiev")
    assert names.capital("the Philippines").chinese == ("马尼拉",)
    berlin = names.capital("germany")
    assert berlin.chinese == ("柏林",) and "都柏林" in berlin.guards
    assert "罗马尼亚" in names.capital("italy").guards
    assert "male" not in {n.lower() for n in names.capital("maldives").english}
    assert names.capital("arizona").english == ()  # Phoenix: also the bird, a common word
    assert names.capital("atlantis") == names.Capital()


def test_the_expansion_shows_the_forms() -> None:
    found = expand("菲律宾")
    assert found is not None and found.name
    assert "菲方" in found.shown() and "Filipino(s)" in found.shown()
    assert "菲方便" in found.exclude


def test_an_island_the_dictionary_places_in_a_country_is_one_of_its_places() -> None:
    """`Luzon Island, north Philippines`: 吕宋岛, Luzon Island and, as English reports say it,
    Luzon; an island whose name alone is a common English word (South Island) keeps its whole
    name only."""
    from bot.rules import places

    philippines = next(c for c in places.countries() if "philippines" in c.names)
    assert "吕宋岛" in philippines.places and {"luzon", "luzon island"} <= set(philippines.english)
    new_zealand = next(c for c in places.countries() if "new zealand" in c.names)
    assert "south" not in new_zealand.english
