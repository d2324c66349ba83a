"""The shipped catalog states actions as reports state them: each alias of an action, and each
way it is tied to whoever a rule names, with a sentence written for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import Article, Rule
from bot.rules.engine import RuleSet
from tests.test_rules_engine import PATHS

NOW = datetime(2024, 11, 5, tzinfo=UTC)


def _matches(expression: str, title: str, text: str = "", *, native: bool) -> bool:
    ruleset = RuleSet([Rule(id="r", expression=expression)], native=native)
    return bool(ruleset.match(Article(outlet="x", title=title, text=text, published=NOW)))


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize(("rule", "title", "text", "matches"), [
    # sending, in every script
    ("朝鲜 + 派兵", "韩国情报机构称朝鲜已向俄罗斯派兵", "", True),
    ("朝鲜 + 派兵", "北韓出兵援俄 南韓強烈譴責", "", True),
    ("朝鲜 + 派兵", "South Korea says North Korea has sent troops to Russia", "", True),
    ("朝鲜 + 派兵", "Pyongyang deployed about 11,000 troops to Russia's Kursk region", "", True),
    # the situation: someone's forces somewhere, fighting, killed, captured, withdrawn
    ("朝鲜 + 派兵", "Blinken says 8,000 North Korean soldiers are in Russia's Kursk region",
     "", True),
    ("朝鲜 + 派兵", "國情院:北韓軍隊被編入俄海軍陸戰隊", "", True),
    ("朝鲜 + 派兵", "白宫:至少3000名朝鲜军人已抵达俄罗斯东部", "", True),
    ("朝鲜 + 派兵", "乌克兰俘虏两名朝鲜士兵", "", True),
    ("朝鲜 + 派兵", "Pentagon confirms North Korean forces suffered casualties in Kursk",
     "", True),
    ("朝鲜 + 派兵", "金正恩迎接从俄罗斯撤回的朝鲜工兵部队", "", True),
    ("朝鲜 + 派兵", "Ukrainians inflict casualties on North Korean troops, Zelensky says",
     "", True),
    ("朝鲜 + 派兵", "朝鲜从库尔斯克撤军", "", True),
    ("朝鲜 + 派兵", "Troops from North Korea seen near the front line", "", True),
    # whose troops: the action is that of whom the rule names
    ("朝鲜 + 派兵", "俄罗斯向库尔斯克增兵 试图击退越境乌军",
     "乌方说,俄军调集更多兵力。另据报道,朝鲜官员本周访问莫斯科讨论经济合作。", False),
    ("朝鲜 + 派兵", "U.S. troops stay in South Korea",
     "Washington keeps about 28,500 troops in the South, officials said, while North Korea "
     "held a party meeting in Pyongyang.", False),
    ("朝鲜 + 派兵", "Parliament extends South Korean troop deployments abroad",
     "Lawmakers voted to keep troops overseas while North Korea stepped up its rhetoric.",
     False),
    # troops alone never stand for sending troops
    ("派兵", "North Korean soldiers marched in Pyongyang", "", False),
    ("朝鲜 + 派兵", "韩国外交部表示,朝鲜半岛局势紧张,海外派兵仍会维持", "", False),
    # troops at home are not troops sent: the border, the DMZ, a parade beside them
    ("朝鲜 + 派兵", "北韓士兵越過軍事分界線 南韓鳴槍警告", "", False),
    ("朝鲜 + 派兵", "韩军:朝鲜在军事分界线附近增派兵力", "", False),
    ("朝鲜 + 派兵", "数名朝鲜士兵进入非军事区", "", False),
    ("朝鲜 + 派兵", "北韓士兵在非軍事區埋設地雷", "", False),
    ("朝鲜 + 派兵", "朝鲜军队举行阅兵", "", False),
    ("朝鲜 + 派兵", "北韓部隊閱兵 新型飛彈亮相", "", False),
    ("朝鲜 + 派兵", "North Korean soldiers briefly crossed the military demarcation line", "",
     False),
    ("朝鲜 + 派兵", "North Korean troops dig trenches in the demilitarized zone", "", False),
    ("朝鲜 + 派兵", "North Korean soldiers seen near the DMZ", "", False),
    ("朝鲜 + 派兵", "North Korean troops rehearse for a military parade", "", False),
    ("朝鲜 + 派兵", "韩国称朝鲜已向俄罗斯派兵", "资料图:朝鲜在平壤举行阅兵式,民众观看。", True),
    # the name of the place is not the country
    ("朝鲜", "朝鲜族居民欢度中秋", "", False),
    # bare 俄 is Russia, but not in the words that only contain it
    ("@russia", "俄无人机夜袭基辅", "", True),
    ("@russia", "中俄举行联合巡航", "", True),
    ("@russia", "白俄总统访华", "", False),
    ("@russia", "白俄羅斯舉行閱兵", "", False),
    ("@russia", "俄罗斯族群众欢度节日", "", False),
    ("@russia", "俄亥俄州发生火车脱轨", "", False),
    ("@russia", "俄勒冈州山火蔓延", "", False),
    ("@russia", "俄勒岡州山火蔓延", "", False),
    ("@russia", "俄克拉何马州遭龙卷风袭击", "", False),
    ("@russia", "俄克拉荷马州遭龙卷风袭击", "", False),
    ("@russia", "俄克拉荷馬州遭龍捲風襲擊", "", False),
    ("@russia", "俄顷雨停", "", False),
    ("@russia", "俄頃雨停", "", False),
    ("@russia", "俄而风起", "", False),
    # Iran and Israel, and Israel's army; words that only contain 以军 are not it
    ("@iran", "伊朗政府宣布新预算", "", True),
    ("@iran", "德黑兰举行集会", "", True),
    ("@iran", "德黑蘭舉行集會", "", True),
    ("@iran", "Iranian officials meet in Tehran", "", True),
    ("@iran", "Iranians vote", "", True),
    ("@iran", "The Islamic Republic of Iran marks a holiday", "", True),
    ("@israel", "以色列政府召开会议", "", True),
    ("@israel", "以军在加沙北部展开行动", "", True),
    ("@israel", "以軍撤出城區", "", True),
    ("@israel", "以色列国防军发表声明", "", True),
    ("@israel", "以色列國防軍發表聲明", "", True),
    ("@israel", "以国防军发言人称", "", True),
    ("@israel", "以國防軍發言人稱", "", True),
    ("@israel", "Israelis rally; Israeli officials respond", "", True),
    ("@israel", "Israel Defense Forces say the IDF struck a depot", "", True),
    ("@israel", "该国以军事手段回应", "", False),
    ("@israel", "該國以軍事手段回應", "", False),
    ("@israel", "该地以军工产业为主", "", False),
    ("@israel", "該地以軍工產業為主", "", False),
    ("@israel", "该校以军人子弟为主", "", False),
    ("@israel", "該校以軍人子弟為主", "", False),
    ("@israel", "该国以军费开支为重点", "", False),
    ("@israel", "該國以軍費開支為重點", "", False),
    ("@israel", "该国以军队为后盾", "", False),
    ("@israel", "該國以軍隊為後盾", "", False),
    # punishment under the law at home is no sanction
    ("伊朗 + 制裁", "伊朗警方依法制裁走私者", "", False),
    ("伊朗 + 制裁", "伊朗贪官受到法律制裁", "", False),
    ("伊朗 + 制裁", "欧盟宣布制裁伊朗航运公司", "", True),
    # an organization in every script; a philosopher who shares its first characters is not it
    ("胡塞 + 袭击", "Houthis attacked a cargo ship in the Red Sea", "", True),
    ("胡塞 + 袭击", "葉門青年運動襲擊紅海貨輪", "", True),
    ("胡塞", "鲁汶胡塞尔档案馆推进现象学手稿数字化", "", False),
    # Taiwan as the island (台岛) and around it (环台); China's armed forces are China
    ("@taiwan", "东部战区在台岛以东海域组织远海训练", "", True),
    ("@taiwan", "共機臺島周邊活動 國防部監控", "", True),
    ("@taiwan", "海巡署:共艦環台航行 全程監控", "", True),
    ("@taiwan", "专家谈解放军环台巡航常态化", "", True),
    ("@china", "解放军海军舰艇编队访问新加坡", "", True),
    ("@china", "共軍軍機擾台 國防部嚴密監控", "", True),
    ("@china", "中国军队参加国际维和行动", "", True),
    ("@china", "東部戰區發布海空聯合巡航影片", "", True),
    ("@china", "PLA warships sail through the Strait", "", True),
    ("@china", "People's Liberation Army sends jets near the island", "", True),
    ("@china", "The Chinese military tests a new drone", "", True),
    ("@china", "Eastern Theater Command releases patrol footage", "", True),
    ("@china", "Plaza hotel reopens", "", False),
    # a named operation names the sides it involves, in every script
    ("中国 + 台湾 + 演习", "东部战区:“联合利剑—2024B”演习圆满完成", "", True),
    ("中国 + 台湾 + 演习", "聯合利劍2024B 單日共機153架次", "", True),
    ("中国 + 台湾 + 演习", "Joint Sword drills end after two days", "", True),
    ("中国 + 台湾 + 演习", "专家解读“海峡雷霆”演练", "", True),
    ("中国 + 台湾 + 演习", "海峽雷霆演習 國軍全程監控", "", True),
    ("中国 + 台湾 + 演习", "Analysts weigh Strait Thunder exercise", "", True),
    ("@pla-taiwan-drills", "海峡雷霆-2025A", "", True),
    ("@taiwan", "Joint Sword-2024A", "", True),
    # a leader acts for their country beside an action (`acts_for`), in every script
    ("韩国 + 戒严", "尹錫悅宣布緊急戒嚴", "", True),
    ("韩国 + 戒严", "在野党指尹锡悦宣布戒严违宪", "", True),
    ("韩国 + 戒严", "Lawmakers vote to lift the martial law declared by Yoon", "", True),
    ("韩国 + 戒严", "Yoon Suk Yeol declares emergency martial law", "", True),
    ("韩国 + 戒严", "Opposition says Yoon's martial law decree broke the constitution", "", True),
    ("朝鲜 + 派兵", "金正恩下令向俄罗斯派兵", "", True),
    ("俄罗斯 + 袭击", "Putin orders new attacks on Kyiv", "", True),
    # beside no action at all, naming the leader names the country
    ("美国 + 关税", "Trump unveils sweeping reciprocal levies", "", True),
    ("美国 + 关税", "川普宣布對進口汽車課徵25%關稅", "", True),
    ("美国 + 关税", "前总统特朗普谈关税", "", False),
    ("美国 + 关税", "普京谈关税", "", False),
    # but only for their own country, and never as what is done to it
    ("韩国 + 戒严", "泰国军方宣布全国实施戒严", "", False),
    ("韩国 + 戒严", "韩国总统出访俄罗斯", "普京宣布在边境地区实施戒严。", False),
    ("韩国 + 戒严", "Putin declares martial law in four annexed regions",
     "South Korea's president condemned the move on Thursday.", False),
    ("韩国 + 戒严", "金正恩宣布戒严", "", False),
    ("韩国", "尹锡悦发表讲话", "", False),
    ("俄罗斯 + 制裁", "普京宣布制裁多名西方官员", "", False),
    # a report that calls the leader former is not of their time in office (`former`)
    ("韩国 + 戒严", "前总统尹锡悦妻子被捕", "尹锡悦本人因戒严风波被罢免。", False),
    ("韩国 + 戒严", "前總統尹錫悅出庭", "尹錫悅宣布戒嚴一案今日開庭。", False),
    ("日本 + 派兵", "前首相石破茂访美", "石破茂宣布派兵。", False),
    ("日本 + 派兵", "首相石破茂访美", "石破茂宣布派兵。", True),
    ("美国 + 派兵", "首相石破茂访美", "石破茂宣布派兵。", False),
    ("日本 + 派兵", "前任首相石破茂表示", "石破茂下令派兵。", False),
    ("日本 + 派兵", "前总理石破茂表示", "石破茂下令派兵。", False),
    ("中国 + 派兵", "前国家主席习近平", "习近平下令派兵。", False),
    ("中国 + 派兵", "前領導人習近平", "习近平下令派兵。", False),
    ("美国 + 派兵", "Former President Trump says he would send troops", "", False),
    ("美国 + 派兵", "Ex-president Donald Trump vows to send troops", "", False),
    ("美国 + 派兵", "Ex-prime minister Trump sends troops", "", False),
    ("美国 + 派兵", "Ex-leader Trump sent troops", "", False),
    ("美国 + 派兵", "Trump sends troops to the border", "", True),
    ("韩国 + 戒严", "李在明宣布戒严", "前总统尹锡悦出庭。", True),
])
def test_actions_as_reports_state_them(rule: str, title: str, text: str, matches: bool,
                                       native: bool) -> None:
    """Each phrasing of an action matches a rule naming its actor, and only theirs."""
    assert _matches(rule, title, text, native=native) is matches


@pytest.mark.parametrize("native", PATHS)
def test_the_actors_name_in_the_headline_binds_an_action_in_the_text(native: bool) -> None:
    """A report whose headline names North Korea and whose text says troops were sent
    matches `朝鲜 + 派兵`, though the two are far apart."""
    assert _matches("朝鲜 + 派兵", "朝鲜", "据多家媒体报道," + "相关情况" * 10 + "已派兵。",
                    native=native)
