"""History is not news: event times read from reports in the three scripts, the rule options
that ask for history or corroboration, and `stories explain` showing the event time.

A feature on the Korean War has 朝鲜 and 派兵 in it and is not what `朝鲜 + 派兵` promises; a
2024 report that quotes a 1950 treaty is news all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.dedup.explain import explain, explain_text
from bot.dedup.index import StoryIndex
from bot.errors import RuleError
from bot.models import Article, Rule
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.routing import RuleBook
from bot.rules.engine import RuleSet
from bot.rules.grammar import RuleOptions, parse_rule
from bot.rules.grammar import format as format_rule
from bot.rules.history import shipped_history
from bot.store import Store

PUBLISHED = datetime(2024, 11, 1, 9, 0, tzinfo=UTC)

# (title, lead, the earliest year the report points back to)
HISTORY = {
    "hans-dated": ("1894年东学党起义：朝鲜王朝请清朝派兵",
                   "1894年，朝鲜爆发东学农民运动，朝鲜王朝请求清朝派兵镇压，日本随即出兵。", 1894),
    "hant-dated": ("1949年7月 解放軍朝鮮族師團回國",
                   "1949年7月，解放軍第164師的朝鮮族官兵奉命回到朝鮮，後來編入朝鮮人民軍。", 1949),
    "en-dated": ("The North Korean pilots of 1967",
                 "In 1967, North Korea sent fighter pilots to defend Hanoi, documents show.", 1967),
    "hans-relative": ("上世纪的朝鲜派兵",
                      "上世纪60年代，朝鲜曾向越南派兵，这段历史鲜为人知。", 1960),
    "hant-relative": ("50年前 北韓派兵越南的往事",
                      "半個世紀前，北韓曾派遣空軍飛行員參加越戰。", 1955),
    "en-relative": ("Fifty years ago, North Korea sent pilots abroad",
                    "Fifty years ago, North Korean pilots flew alongside Hanoi's air force.", 1974),
    "en-since": ("28 years since the Gangneung submarine incursion",
                 "Gangneung residents remembered on Sunday the day, 28 years since, when a North "
                 "Korean submarine ran aground and its crew fled inland.", 1996),
    "hans-event": ("抗美援朝：志愿军出兵朝鲜",
                   "中国人民志愿军跨过鸭绿江出兵朝鲜，开始了抗美援朝战争。", 1950),
    "hans-war-start": ("朝鲜战争爆发：朝鲜派兵南下",
                       "1950年6月，朝鲜人民军越过三八线，朝鲜派兵南下。", 1950),
    "hant-event": ("抗美援朝出國作戰74週年 北韓紀念中國派兵",
                   "北韓紀念中國人民志願軍出兵朝鮮74週年，金正恩致函習近平。", 1950),
    "en-the-year": ("India marks the 2019 Balakot air strikes",
                    "Indian leaders marked on Wednesday the anniversary of the 2019 air strikes "
                    "on a camp in Balakot.", 2019),
    "en-event": ("How Chinese troops entered the Korean War",
                 "Chinese People's Volunteers crossed the Yalu River into North Korea.", 1950),
}

# Reports of 2024 events that name the past: still news.
CURRENT = {
    "en-first-in-years": (
        "North Korean troops fight abroad for the first time in 70 years since the armistice",
        "Seoul said on Monday that North Korean soldiers had joined Russian units in Kursk."),
    "en-1950-treaty": (
        "North Korea deploys troops to Russia, citing 1950 treaty",
        "South Korea said on Wednesday that North Korea has deployed troops to Russia. "
        "Pyongyang pointed to the 1950 treaty of friendship it says binds the two countries."),
    "hans-1950-treaty": (
        "朝鲜出兵援俄 国际社会谴责",
        "朝鲜向俄罗斯派兵一事引发国际社会强烈谴责。平壤援引1950年签署的条约作为理由。"),
    "hans-korean-war": (
        "朝鲜向俄罗斯派兵 韩国国情院周五证实",
        "韩国国家情报院10月18日表示，朝鲜已向俄罗斯派遣1500名特种部队士兵。"
        "这是朝鲜自1950年代朝鲜战争以来首次大规模海外派兵。"),
    "hant-treaty-this-year": (
        "北韓軍隊抵達庫斯克 烏克蘭：本週將交戰",
        "烏克蘭情報總局週一表示，北韓士兵已抵達俄羅斯庫斯克州。北韓與俄羅斯於2024年6月簽署條約。"),
    "en-the-year-in-passing": (
        "India strikes Pakistan after Kashmir attack",
        "India launched missile strikes on nine sites on Wednesday. It is the deepest strike "
        "into Pakistan since the 2019 Balakot air strikes."),
    "en-1961-treaty": (
        "North Korean troops in Kursk, Ukraine says",
        "Ukraine's military intelligence said on Monday North Korean troops had reached Kursk. "
        "The pact signed in June echoes a 1961 treaty of mutual defence."),
}


def _article(title: str, text: str, *, published: datetime | None = PUBLISHED,
             url: str = "") -> Article:
    return Article(outlet="VOA", title=title, text=text, published=published,
                   url=url or f"https://example.org/{abs(hash(title))}")


@pytest.mark.parametrize("case", sorted(HISTORY))
def test_reports_about_the_past_are_historical_with_their_year(case: str) -> None:
    """Dated (`1894年`, `1949年7月`, `In 1967`), relative (`上世纪`, `50年前`, `Fifty years
    ago`) and named-event (抗美援朝, Korean War) reports in each script are history."""
    title, lead, year = HISTORY[case]
    found = shipped_history().event_time(_article(title, lead))
    assert found.historical, found
    assert found.year == year and found.evidence


@pytest.mark.parametrize(("title", "hypothetical"), [
    ("Would Beijing ever send warships to the Gulf?", True),
    ("What if the Houthis closed the strait for a year?", True),
    ("WOULD SEOUL SEND ARMS TO KYIV?", True),
    ("Could China blockade the island within weeks?", True),
    ("Might Tehran close the Strait of Hormuz?", True),
    ("Moscow could send more troops, Kyiv warns", False),
    ("如果美伊开战，俄罗斯会出兵吗？", True),
    ("假如日本修宪 自卫队会出海作战吗?", True),
    ("假若停火破裂，以军会重返加沙吗？", True),
    ("倘若中东战火扩大，油价会破百吗？", True),
    ("萬一台海生變，美軍會介入嗎？", True),
    ("假设朝鲜再次核试 中国会制裁吗？", True),
    ("若是北约扩员 俄军会增兵边境吗？", True),
    ("Why did North Korea send troops to Russia?", False),
    ("Are North Korean troops already in Kursk?", False),
    ("North Korea would send troops, Seoul says", False),
    ("如果谈判失败 乌方称将继续作战", False),
    ("朝鲜为何向俄罗斯派兵？", False),
    ("Woulda shoulda: a review of the season?", False),
])
def test_a_headline_asking_what_would_happen_is_no_news(title: str, hypothetical: bool) -> None:
    """A question with a conditional (`Would ... ever ...?`, `如果...会...吗？`) is about no
    event and counts as history; a question about what happened, or a conditional that is no
    question, stays news."""
    for found in (shipped_history().event_time(_article(title, "")).historical,
                  shipped_history().historical(_article(title, ""))):
        assert found is hypothetical


def test_a_hypothetical_headline_alerts_only_rules_that_ask_for_history() -> None:
    """`朝鲜 + 派兵` stays silent on a hypothetical question; `history:any` takes it."""
    rules = RuleSet([Rule(id="news", expression="朝鲜 + 派兵"),
                     Rule(id="any", expression="朝鲜 + 派兵 history:any")])
    assert set(rules.match(_article("如果中东开战，朝鲜会派兵吗？", ""))) == {"any"}
    assert set(rules.match(_article("朝鲜为何向俄罗斯派兵？", ""))) == {"news", "any"}


@pytest.mark.parametrize("case", sorted(CURRENT))
def test_current_reports_that_quote_the_past_stay_news(case: str) -> None:
    """A 2024 report quoting a 1950 or 1961 treaty, or naming the Korean War in passing, is
    news: what points to its own days (周五, on Monday) or the story's lead decides."""
    title, lead = CURRENT[case]
    found = shipped_history().event_time(_article(title, lead))
    assert not found.historical, found


def test_an_undated_report_is_read_in_the_latest_year_it_names() -> None:
    """Without a publication time (a seed file without a date), `2024年10月` makes the report's
    year 2024: its 1950 treaty is long past, its troops are news. A named event still makes
    an undated feature history."""
    history = shipped_history()
    now = datetime(2026, 12, 6, tzinfo=UTC)
    current = _article("朝鲜向俄罗斯派兵", "2024年10月，朝鲜援引1950年的条约向俄罗斯派遣了部队。",
                       published=None)
    past = _article("抗美援朝：志愿军出兵朝鲜", "志愿军跨过鸭绿江。", published=None)
    assert not history.event_time(current, now=now).historical
    assert history.event_time(past, now=now).historical


# --- rule options ---------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "canonical", "options"), [
    ("朝鲜 + 派兵 outlets>=2", "朝鲜 + 派兵 outlets>=2", RuleOptions(min_outlets=2)),
    ("outlets>=3 + 朝鲜 + 派兵", "朝鲜 + 派兵 outlets>=3", RuleOptions(min_outlets=3)),
    ("朝鲜 + 派兵 history:any", "朝鲜 + 派兵 history:any", RuleOptions(history="any")),
    ("朝鲜 + 派兵 history:only outlets>=2", "朝鲜 + 派兵 outlets>=2 history:only",
     RuleOptions(min_outlets=2, history="only")),
    ('朝鲜 + "outlets>=2"', '朝鲜 + "outlets>=2"', RuleOptions()),  # quoted: a phrase
])
def test_options_parse_and_print_back(expression: str, canonical: str,
                                      options: RuleOptions) -> None:
    """Options stand at the top level, in any order; the canonical text prints them last and
    parses back to the same rule."""
    ast, found = parse_rule(expression)
    assert found == options
    assert format_rule(ast, found) == canonical
    assert parse_rule(canonical) == (ast, found)


@pytest.mark.parametrize(("expression", "position", "message"), [
    ("朝鲜 + 派兵 outlets>=0", 8, "from 1 to 50"),
    ("朝鲜 + 派兵 outlets>=x", 8, "outlets>=N"),
    ("朝鲜 + 派兵 history:maybe", 8, "history:any"),
    ("朝鲜 + (派兵 outlets>=2)", 9, "top level"),
    ("朝鲜 + 派兵 outlets>=2 outlets>=3", 19, "twice"),
])
def test_malformed_options_name_their_position(expression: str, position: int,
                                               message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(expression)
    assert caught.value.position == position and message in caught.value.message


def test_history_option_decides_which_rules_a_past_report_matches() -> None:
    """By default a report about the past matches no rule; `history:any` takes it as well as
    news, `history:only` takes nothing else."""
    ruleset = RuleSet([Rule(id="default", expression="朝鲜 + 派兵"),
                       Rule(id="any", expression="朝鲜 + 派兵 history:any"),
                       Rule(id="only", expression="朝鲜 + 派兵 history:only")])
    past = _article(*HISTORY["hans-war-start"][:2])  # (志愿军出兵朝鲜: sent to North Korea)
    news = _article(*CURRENT["hans-1950-treaty"])
    assert set(ruleset.match(past)) == {"any", "only"}
    assert set(ruleset.match(news)) == {"default", "any"}


# --- explain --------------------------------------------------------------------------------


async def test_explain_shows_each_reports_event_time(store: Store) -> None:
    """`stories explain` gives each archived report's event time: history with its year and
    evidence, or news with what points to its own days; the historical one alerted nobody."""
    chats = ChatDirectory(store)
    await chats.add_rule("test:1", "朝鲜 + 派兵")
    outbox = Outbox(store)
    await outbox.ensure_group()
    pipeline = Pipeline(store, index=StoryIndex(store, window_seconds=72 * 3600,
                                                     seen_seconds=86_400),
                        rules=RuleBook([], chats), outbox=outbox,
                        archive=Archive(store, ttl=86_400), clock=lambda: PUBLISHED)
    past = await pipeline.process(_article(*HISTORY["hans-event"][:2]))
    news = await pipeline.process(_article(*CURRENT["hans-korean-war"]))
    assert past.assignment is not None and news.assignment is not None
    assert past.deliveries == () and [d.chat for d in news.deliveries] == ["test:1"]
    rows, text = {}, ""
    for story_id in dict.fromkeys([past.assignment.story.id, news.assignment.story.id]):
        view = await explain(store, story_id)
        assert view is not None
        rows |= {row["title"]: row for row in view["articles"]}
        text += explain_text(view)
    assert rows[HISTORY["hans-event"][0]]["event_time"] == {
        "historical": True, "year": 1950, "evidence": "抗美援朝, 中国人民志愿军"}
    assert rows[CURRENT["hans-korean-war"][0]]["event_time"] == {
        "historical": False, "year": None, "evidence": "周五, 10月18日"}
    assert "events: history, 1950 (抗美援朝, 中国人民志愿军): alerts only rules with" in text
    assert "events: news (周五, 10月18日)" in text


def test_the_fast_check_agrees_with_the_full_event_time_on_every_local_report() -> None:
    """`History.historical` (what `RuleSet.match` asks, reading the rest of the lead only
    when the title or first sentence point back) says what `event_time(...).historical`
    says, on every seed, dev, held-out (all three sets) and intent-set report and on the cases
    above."""
    from bot.feeds.seeds import read_seed_folder
    from tests.conftest import REPO

    history = shipped_history()
    folders = [REPO / "seeds", REPO / "tests/data/dev", REPO / "tests/data/heldout",
               REPO / "tests/data/heldout2", REPO / "tests/data/heldout3",
               *(REPO / "tests/data/intent").iterdir()]
    articles = [article for folder in folders if folder.is_dir()
                for article in read_seed_folder(folder)[0]]
    articles += [_article(title, lead) for title, lead, *_ in (*HISTORY.values(),
                                                                 *CURRENT.values())]
    assert len(articles) > 300
    verdicts = [(a.url, history.historical(a)) for a in articles]
    assert verdicts == [(a.url, history.event_time(a).historical) for a in articles]
    assert sum(v for _, v in verdicts) >= len(HISTORY)
