"""Dating undated articles: the date the text states (zh-Hans, zh-Hant, English), else seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feeds.dating import date_articles, link_day, stated_time
from bot.feeds.seeds import read_seed_folder
from bot.models import Article
from tests.conftest import SEEDS

WED = datetime(2024, 10, 23, 9, 0, tzinfo=UTC)  # 17:00 on Wednesday 23 October in UTC+8
OCT31 = datetime(2024, 10, 31, 9, 0, tzinfo=UTC)  # 11月1日 is the next day: a deadline
SEEN = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _late(year: int, month: int, day: int, *, zone: int = 8) -> datetime:
    """23:59 of that day in UTC+`zone`, as a UTC datetime, for the table below."""
    return datetime(year, month, day, 23, 59, tzinfo=UTC) - timedelta(hours=zone)


def _article(title: str, text: str = "", **fields: object) -> Article:
    """An undated article with this title and text."""
    return Article(outlet="test", title=title, text=text, **fields)  # type: ignore[arg-type]


CASES = [
    # (title, text, reference, expected time or None, words the evidence contains)
    ("外交部就朝鲜派兵答问",
     "【新华社北京10月22日电】外交部发言人毛宁22日表示,中方关注有关报道。",
     WED, _late(2024, 10, 22), "新华社北京10月22日电"),
    ("立法院三讀通過預算案",
     "(中央社記者林克倫台北22日電)立法院會今天三讀通過115年度總預算案。",
     WED, _late(2024, 10, 22), "台北22日電"),
    ("韩美外长会谈",
     "新华社首尔10月22日电 韩国外交部长官赵兑烈22日与美国国务卿会谈。",
     WED, _late(2024, 10, 22, zone=9), "首尔10月22日电"),
    ("行政院拍板電價凍漲", "行政院今（23）日拍板,明年上半年電價凍漲。",
     WED, WED, "今(23)日"),
    ("南韓召見俄羅斯大使", "南韓外交部週一（21日）召見俄羅斯駐首爾大使,抗議北韓派兵。",
     WED, _late(2024, 10, 21), "週一(21日)"),
    ("美国表态", "美国国务院发言人本周一表示,正在与盟友磋商。",
     WED, _late(2024, 10, 21), "本周一"),
    ("北约回应", "北约秘书长吕特星期二说,朝鲜派兵将是重大升级。",
     WED, _late(2024, 10, 22), "星期二"),
    ("克宮回應", "據《今日俄羅斯》報道,克宮發言人昨日表示合作不針對第三國。",
     WED, _late(2024, 10, 22), "昨日"),
    ("奥斯汀访问基辅", "美国国防部长奥斯汀当地时间21日抵达基辅,这是他第四次访问乌克兰。",
     WED, _late(2024, 10, 21), "当地时间21日"),
    ("朝鲜宣布试射导弹",
     "2023年7月27日,士兵们在平壤参加阅兵式。\n朝中社10月22日报道,朝鲜试射了新型导弹。",
     WED, _late(2024, 10, 22), "10月22日"),
    ("欧盟外长会议",
     "自2022年2月24日俄罗斯全面入侵乌克兰以来,欧盟已通过14轮制裁。\n欧盟外长周二在卢森堡开会。",
     WED, _late(2024, 10, 22), "周二"),
    ("普京访朝", "今年6月,普京访问平壤并签署条约。上周,普京向国家杜马提交批准法案。",
     WED, None, ""),
    ("乌方警告", "乌克兰称,这些部队预计将于11月1日做好参战准备。", OCT31, None, ""),
    ("乌方警告", "乌克兰称朝鲜部队11月1日前抵达前线,泽连斯基周二表示。",
     WED, _late(2024, 10, 22), "周二"),
    ("“10·21”事件调查结果公布", "警方今日通报了调查结果。", WED, WED, "今日"),
    ("10月22日外交部例行记者会", "发言人回答了有关朝鲜的问题。",
     WED, _late(2024, 10, 22), "10月22日"),
    ("朝鲜施压", "外交部周三(10月21日)表示……", WED, _late(2024, 10, 21), "10月21日"),
    ("旧闻重提", "韩国国防部周六(10月21日)表示……",
     WED, _late(2023, 10, 21), "周六(10月21日)"),
    ("年终回顾", "外交部12月30日宣布新的签证便利措施。",
     datetime(2025, 1, 2, 3, tzinfo=UTC), _late(2024, 12, 30), "12月30日"),
    ("外交部例行记者会", "2024年10月15日(周二),外交部发言人林剑主持例行记者会。",
     WED, _late(2024, 10, 15), "2024年10月15日"),
    ("South Korea summons envoy",
     "SEOUL, Oct 21 (Reuters) - South Korea summoned Russia's ambassador on Tuesday.",
     WED, _late(2024, 10, 21, zone=9), "SEOUL, Oct 21 (Reuters)"),
    ("Pentagon says", "WASHINGTON, October 22, 2024 — The Pentagon said on Wednesday that...",
     WED, _late(2024, 10, 22, zone=0), "October 22, 2024"),
    ("Pyongyang responds", "North Korea's foreign ministry said on Monday (Oct. 21) that ...",
     WED, _late(2024, 10, 21, zone=0), "Monday (Oct. 21)"),
    ("Seoul protests", "The ministry said on Tuesday, Oct. 15, that it had lodged a protest.",
     WED, _late(2024, 10, 15, zone=0), "Tuesday, Oct. 15"),
    ("Court ruling", "The Supreme Court ruled on Friday, 24 June, that the right ...",
     datetime(2022, 7, 10, tzinfo=UTC), _late(2022, 6, 24, zone=0), "Friday, 24 June"),
    ("Quake toll rises", "The earthquake struck before dawn on Monday (6 February 2023) ...",
     datetime(2023, 3, 1, tzinfo=UTC), _late(2023, 2, 6, zone=0), "Monday (6 February 2023)"),
    ("TikTok恢復服務", "TikTok週日(19日)恢復在美國的服務。",  # the last Sunday the 19th
     datetime(2025, 4, 10, tzinfo=UTC), _late(2025, 1, 19), "週日(19日)"),
    ("Meeting in Kyiv", "The BBC understands the meeting took place on 21 October 2024 in Kyiv.",
     WED, _late(2024, 10, 21, zone=0), "21 October 2024"),
    ("Zelensky speaks", "Zelensky, who met NATO leaders last Monday, said yesterday that ...",
     WED, _late(2024, 10, 22, zone=0), "yesterday"),
    ("Biden marks 9/11 anniversary", "President Biden on Wednesday laid a wreath at the Pentagon.",
     datetime(2024, 9, 12, 15, tzinfo=UTC), _late(2024, 9, 11, zone=0), "on Wednesday"),
    ("Memorial", "Officials recalled the Sept. 11 attacks at the ceremony.",
     datetime(2024, 9, 20, tzinfo=UTC), None, ""),
    ("Old ties", "In 2019, the two leaders met at the border. The ministry said last June ...",
     WED, None, ""),
    ("Archive", "WASHINGTON, October 21, 2019 — The Pentagon said ...", WED, None, ""),
]


@pytest.mark.parametrize(("title", "text", "reference", "expected", "evidence"), CASES)
def test_stated_time_table(title: str, text: str, reference: datetime,
                           expected: datetime | None, evidence: str) -> None:
    """Each line is dated by its dateline, relative or explicit statement, or not at all."""
    found = stated_time(_article(title, text), reference=reference)
    assert (found.time if found else None) == expected
    assert found is None or evidence in found.evidence


def _seeds() -> list[Article]:
    """The five shipped seeds, in name order; 003 is the undated one."""
    articles, errors = read_seed_folder(SEEDS)
    assert errors == [] and len(articles) == 5
    return articles


def _seed_003() -> Article:
    """Seed 003: no header, so no URL and no date."""
    return next(a for a in _seeds() if Path(a.path or "").name.startswith("003"))


def _is_day(when: datetime, year: int, month: int, day: int) -> bool:
    """True if `when` falls on that day in UTC+8 or in UTC."""
    wanted = datetime(year, month, day).date()
    return wanted in {when.date(), (when + timedelta(hours=8)).date()}


def test_seed_003_is_dated_by_its_feed_mates() -> None:
    """Seed 003 among the other seeds is dated 2024-10-21 by `周一(10月21日)`; others unchanged."""
    seeds = _seeds()
    dated = date_articles(seeds, seen=SEEN)
    assert [a.path for a in dated] == [a.path for a in seeds]
    [text] = [a for a in dated if a.time_source == "text"]
    assert text.published is not None and _is_day(text.published, 2024, 10, 21)
    assert "10月21日" in text.time_evidence
    assert all(a == b for a, b in zip(dated, seeds, strict=True) if b.published is not None)


@pytest.mark.parametrize(("reference", "day"), [
    (datetime(2024, 10, 21, 12, tzinfo=UTC), (2024, 10, 21)),
    (datetime(2026, 12, 6, tzinfo=UTC), (2026, 10, 21)),
])
def test_seed_003_alone(reference: datetime, day: tuple[int, int, int]) -> None:
    """Seed 003 alone is read in the reference's year (a 2026 reference gives 2026: no context)."""
    found = stated_time(_seed_003(), reference=reference)
    assert found is not None and _is_day(found.time, *day) and found.time <= reference
    assert "10月21日" in found.evidence


def test_dated_seeds_state_their_feed_day() -> None:
    """Each dated seed's text, read against its feed time, states a day at most 2 days before."""
    for article in _seeds():
        if article.published is not None:
            found = stated_time(article, reference=article.published)
            assert found is not None
            assert timedelta(0) <= article.published - found.time < timedelta(days=2)


def test_undated_without_statement_is_dated_seen() -> None:
    """An undated article whose text states no date is dated `seen`, marked so."""
    [article] = date_articles([_article("No date here", "Nothing to read.")], seen=SEEN)
    assert (article.published, article.time_source, article.time_evidence) == (SEEN, "seen", "")


def test_feed_mates_of_another_feed_do_not_count() -> None:
    """The reference comes from dated articles of the same feed only, else `seen`."""
    other = _article("Dated", feed_id="b", published=datetime(2024, 10, 23, tzinfo=UTC))
    undated = _article("韩国周一(10月21日)召见俄大使", feed_id="a")
    dated = date_articles([other, undated], seen=SEEN)
    assert dated[0] is other
    assert dated[1].published is not None and _is_day(dated[1].published, 2026, 10, 21)


def test_the_time_of_the_news_is_the_reference_without_feed_mates() -> None:
    """Without dated feed mates, the text is read against the newest news time when that is
    earlier than `seen` (a replay of old news), and against `seen` when the news are newer."""
    undated = _article("韩国周一(10月21日)召见俄大使", feed_id="a")
    news = datetime(2024, 11, 4, tzinfo=UTC)
    [replayed] = date_articles([undated], seen=SEEN, news=news)
    assert replayed.published is not None and _is_day(replayed.published, 2024, 10, 21)
    [live] = date_articles([undated], seen=SEEN, news=SEEN + timedelta(hours=3))
    assert live.published is not None and _is_day(live.published, 2026, 10, 21)


def _folder(*times: datetime) -> list[Article]:
    """Dated mates of one feed (an archive folder), one at each of `times`."""
    return [_article(f"Dated {n}", feed_id="a", published=when) for n, when in enumerate(times)]


ARCHIVE = (datetime(2022, 10, 24, 9, tzinfo=UTC), datetime(2023, 3, 28, 6, tzinfo=UTC),
           datetime(2023, 3, 29, 2, tzinfo=UTC), datetime(2024, 11, 5, 3, tzinfo=UTC),
           datetime(2025, 6, 14, 8, tzinfo=UTC))


@pytest.mark.parametrize(("title", "text", "day"), [
    ("缅甸3月28日发生强震", "", (2023, 3, 28)),  # month and day: the mates of late March 2023
    ("緬甸強震", "（中央社曼谷3月28日電）緬甸中部28日發生強烈地震。", (2023, 3, 28)),
    ("Strong quake hits Myanmar", "BANGKOK, March 28 (Reuters) - A strong earthquake...",
     (2023, 3, 28)),
    ("缅甸地震", "缅甸2023年3月28日发生强震。", (2023, 3, 28)),  # background against 2025
    ("美国大选", "美国选民11月5日投票。", (2024, 11, 5)),
    ("六月十日的消息", "6月10日，议会表决。", (2025, 6, 10)),  # no mate near: read as before
    ("辛偉誠當選保守黨黨魁", "英國前財相辛偉誠周一（24日）自動當選。", (2022, 10, 24)),
])
def test_an_archive_folder_dates_a_stated_day_in_the_year_its_mates_come_from(
        title: str, text: str, day: tuple[int, int, int]) -> None:
    """In a folder spanning years, a month and day is read in the year of the dated mates it
    falls within two days of (newest first), not always in the newest mate's year."""
    undated = _article(title, text, feed_id="a")
    dated = date_articles([*_folder(*ARCHIVE), undated], seen=SEEN)[-1]
    assert dated.published is not None and _is_day(dated.published, *day), dated.published
    assert dated.time_source == "text"


def test_a_mate_gives_the_year_not_the_time() -> None:
    """Read in a mate's year, a report known by its day is dated at that day's last minute
    like any other (it does not take the time of the mate that gave the year)."""
    undated = _article("缅甸3月28日发生强震", feed_id="a")
    dated = date_articles([*_folder(*ARCHIVE), undated], seen=SEEN)[-1]
    assert dated.published == _late(2023, 3, 28)


def test_a_stated_weekday_that_does_not_fit_the_newest_year_looks_further() -> None:
    """`7月13日星期三` against a newest mate of 14 July 2025 (the 13th a Sunday) is not read as
    2025: the mates of 13 July 2022, a Wednesday, give the year."""
    mates = _folder(datetime(2022, 7, 13, 5, tzinfo=UTC), datetime(2025, 7, 14, 2, tzinfo=UTC))
    undated = _article("斯里兰卡总统逃往马尔代夫",
                       "斯里兰卡总统7月13日星期三凌晨乘飞机逃往马尔代夫。", feed_id="a")
    dated = date_articles([*mates, undated], seen=SEEN)[-1]
    assert dated.published is not None and _is_day(dated.published, 2022, 7, 13)


def test_a_weekday_or_bare_day_keeps_the_newest_mate_as_reference() -> None:
    """A weekday or a bare day names no month: nothing ties it to an older mate's year, so it
    is read against the newest mate as before (the latest such day not after it)."""
    weekday = _article("议会周一表决", feed_id="a")
    bare = _article("（中央社台北10日電）立法院今天表決。", feed_id="a")
    dated = date_articles([*_folder(*ARCHIVE), weekday, bare], seen=SEEN)
    assert dated[-2].published is not None and _is_day(dated[-2].published, 2025, 6, 9)
    assert dated[-1].published is not None and _is_day(dated[-1].published, 2025, 6, 10)


def test_a_live_feed_reads_an_older_stated_day_as_before() -> None:
    """Mates all of this week: a report stating a day ten days back keeps that day (no mate
    is near it, so the newest mate's reading stands)."""
    week = [datetime(2025, 6, d, 9, tzinfo=UTC) for d in (10, 12, 14)]
    undated = _article("议会6月4日表决", feed_id="a")
    dated = date_articles([*_folder(*week), undated], seen=SEEN)[-1]
    assert dated.published is not None and _is_day(dated.published, 2025, 6, 4)


_FRAGMENTS = st.sampled_from([
    "周一", "(10月21日)", "今(23)日", "昨天", "今日", "2024年", "12月", "31日", "29日", "2月",
    "电", "【新华社北京", "SEOUL, ", "Oct. ", "31", " (Reuters) - ", "on Monday", "today",
    "\n", ",", "上周", "将于", "9999年", "0000年", "当地时间", "星期日", "February 29",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=16).map("".join),
       st.text(max_size=20),
       st.datetimes(timezones=st.just(UTC)) | st.datetimes())
def test_stated_time_never_raises_nor_dates_ahead(text: str, title: str,
                                                  reference: datetime) -> None:
    """On any text and reference, stated_time returns None or a UTC time by reference + 1 day."""
    found = stated_time(_article(title, text), reference=reference)
    if found is not None:
        ref = reference if reference.tzinfo else reference.replace(tzinfo=UTC)
        assert found.time.tzinfo is UTC and found.time - ref <= timedelta(days=1)
        assert ref - found.time <= timedelta(days=401) and len(found.evidence) <= 48


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.booleans(), st.text(max_size=30)),
                max_size=6))
def test_date_articles_dates_every_article(items: list[tuple[str, bool, str]]) -> None:
    """date_articles keeps order and length and gives every article an aware time."""
    articles = [_article(text or "t", text, feed_id=feed,
                         published=datetime(2024, 10, 21, tzinfo=UTC) if dated else None)
                for feed, dated, text in items]
    dated = date_articles(articles, seen=SEEN)
    assert [a.title for a in dated] == [a.title for a in articles]
    assert all(a.published is not None and a.published.tzinfo is not None for a in dated)


@pytest.mark.parametrize(("url", "day"), [
    ("https://www.cna.com.tw/news/aopl/202306200018.aspx", (2023, 6, 20)),
    ("https://www.rfi.fr/cn/国际/20250310-加拿大自由党选出卡尼为新党魁", (2025, 3, 10)),
    ("https://www.zaobao.com.sg/realtime/world/story20250909-7452316", (2025, 9, 9)),
    ("https://www.reuters.com/world/syrian-rebels-aleppo-2024-11-30/", (2024, 11, 30)),
    ("https://www.theguardian.com/world/2024/mar/26/baltimore-bridge", (2024, 3, 26)),
    ("https://www.cnn.com/2024/03/26/us/baltimore/index.html", (2024, 3, 26)),
    ("http://world.people.com.cn/n1/2024/0326/c1002-40203890.html", (2024, 3, 26)),
    ("https://www.bbc.com/news/business-67494165", None),  # an id, not a day
    ("https://udn.com/news/story/6809/8428915", None),
    ("https://x.example/20241345/a", None),  # no 45th day
    ("https://x.example/2099/01/01/a", None),  # after the clock
    ("https://2024-03-26.example/a", None),  # the host is no path
    (None, None),
])
def test_link_day_reads_the_day_outlets_put_in_their_links(
        url: str | None, day: tuple[int, int, int] | None) -> None:
    """The day an item's link names, in the forms outlets use; ids and impossible or future
    days are none."""
    found = link_day(url, latest=SEEN.date())
    assert (found.timetuple()[:3] if found else None) == day


def test_an_undated_report_is_read_against_its_links_day_not_its_mates() -> None:
    """A bare `19日` in a folder whose mates are of 2025 belongs to the June 2023 its link
    names; with no statement near it, the link's day stands; a link without a day changes
    nothing."""
    mates = _folder(datetime(2025, 9, 12, 3, tzinfo=UTC))
    titan = _article("觀光潛水器失聯",
                     "（中央社波士頓19日綜合外電報導）一艘觀光潛水器18日下潛後失聯。", feed_id="a",
                     url="https://www.cna.com.tw/news/aopl/202306200018.aspx")
    bare = _article("Bridge collapses", "A ship struck the bridge.", feed_id="a",
                    url="https://www.cnn.com/2024/03/26/us/baltimore/index.html")
    far = _article("议会表决", "议会7月1日表决。", feed_id="a",
                   url="https://news.example/2024/03/26/vote")
    plain = _article("（中央社台北10日電）立法院今天表決。", feed_id="a",
                     url="https://udn.com/news/story/6809/8428915")
    dated = date_articles([*mates, titan, bare, far, plain], seen=SEEN)[1:]
    assert dated[0].published == _late(2023, 6, 19)
    assert "19日" in dated[0].time_evidence and "2023-06-20" in dated[0].time_evidence
    assert dated[1].published == datetime(2024, 3, 26, 23, 59, tzinfo=UTC)
    assert dated[1].time_evidence == "link: 2024-03-26"
    assert dated[2].published is not None and _is_day(dated[2].published, 2024, 3, 26)
    assert dated[3].published is not None and _is_day(dated[3].published, 2025, 9, 10)
    assert all(a.time_source == "text" for a in dated)
