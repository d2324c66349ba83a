"""The stated event day in the same-story score: reports of one actor's two events a week
apart stay apart even when they all arrive at one instant; reports of one event join."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.dedup.eventday import days_apart, event_day
from bot.dedup.features import Features
from bot.dedup.index import StoryIndex
from bot.dedup.scoring import EVENT_WEIGHT, Profile, evaluate
from bot.models import Article
from bot.store import Store

INSTANT = datetime(2023, 10, 20, 12, tzinfo=UTC)  # 7 October 2023 was a Saturday
LEAD = ("阿富汗西部赫拉特省{day}发生6.3级地震,造成大量房屋倒塌和人员伤亡。当地官员表示,"
        "救援人员正在赫拉特省津达詹地区的村庄搜寻幸存者,死亡人数可能继续上升。"
        "联合国和多个援助机构已向灾区派出救援队伍,提供帐篷、食品和医疗物资。")


def _quake(outlet: str, day: str) -> Article:
    return Article(outlet=outlet, title=f"阿富汗赫拉特省{day}发生6.3级强烈地震 死伤惨重",
                   text=LEAD.format(day=day), url=f"https://{outlet}.example/{day}",
                   published=INSTANT)


def test_the_event_day_is_the_stated_one_with_its_month() -> None:
    assert event_day(_quake("a", "10月7日")) == event_day(_quake("b", "周六(10月7日)"))
    assert event_day(_quake("a", "今天")) is None  # no month, year or weekday with its day
    assert event_day(Article(outlet="a", title="t", text="10月7日", published=None)) is None


def test_days_apart_counts_past_the_slack_and_across_a_year() -> None:
    assert days_apart(10, (12,)) == 0
    assert days_apart(10, (17, 3)) == 7
    assert days_apart(10, ()) == 0 and days_apart(None, (30,)) == 0
    assert days_apart(10 + 365, (10,)) == 0  # a month and day read in the year before


def test_the_penalty_applies_only_when_both_state_a_day_and_shows_in_the_reason() -> None:
    def feats(day: int | None) -> Features:
        return Features(vector={"quake": 1.0}, salient=("quake",), lead="", event_day=day)
    story = Profile.from_json(Profile.of(feats(100), time=0.0).to_json())
    assert story.days == (100,)
    assert Profile.from_json(Profile.of(feats(None), time=0.0).to_json()).days == ()
    far = evaluate(feats(107), story, time=0.0, window=3600.0)
    assert far.apart == 7 and abs(far.penalty - EVENT_WEIGHT) < 1e-9
    assert "event day 7 days off" in far.reason(0.3)
    assert evaluate(feats(101), story, time=0.0, window=3600.0).penalty == 0.0
    assert evaluate(feats(None), story, time=0.0, window=3600.0).penalty == 0.0


async def test_two_quakes_a_week_apart_at_one_instant_stay_apart(store: Store) -> None:
    index = StoryIndex(store, window_seconds=72 * 3600, seen_seconds=30 * 86_400)
    first = await index.place(_quake("xinhua", "10月7日"), now=INSTANT)
    same = await index.place(_quake("zaobao", "周六(10月7日)"), now=INSTANT)
    later = await index.place(Article(
        outlet="bbc", title="10月15日赫拉特再度天摇地动 灾民露宿街头",
        text=("阿富汗西部赫拉特省10月15日再次发生6.3级地震,震中位于赫拉特市西北约30公里。"
              "塔利班政府卫生部发言人说,已有一人遇难、一百多人受伤,伤者被送往市立医院。"
              "美国地质调查局称,这是一周多来该地区第四次六级以上地震,余震令居民不敢回家。"),
        url="https://bbc.example/15", published=INSTANT), now=INSTANT)
    assert same.kind == "joined" and same.story_id == first.story_id
    assert later.kind == "new" and later.story_id != first.story_id
    assert "event day" in later.reason
