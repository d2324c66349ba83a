"""The command replies tests/test_commands.py leaves out: the rule limit, no topics configured,
the command aliases, and the Chinese forms of refusals, /status, /feeds, /topics, the empty
digest and the "and N more" line. Same real interpreter over the real store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import i18n
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import MAX_RULES_PER_CHAT, CommandInterpreter
from bot.dedup.index import StoryIndex
from bot.feeds.sources import feed_id
from bot.models import Article, Topic
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.routing import RuleBook
from bot.store import Store
from tests.test_commands import ADMIN, CHAT, FILE_FEED, NOW, TOPICS, WINDOW, Bot


def _bot(store: Store, topics: list[Topic]) -> Bot:
    """The interpreter wired as in tests/test_commands.py, with the given shared topics."""
    chats = ChatDirectory(store)
    rules = RuleBook(topics, chats)
    archive = Archive(store, ttl=WINDOW + 86_400)
    index = StoryIndex(store, window_seconds=WINDOW, seen_seconds=30 * 86_400)
    pipeline = Pipeline(store, index=index, rules=rules, outbox=Outbox(store), archive=archive,
                        clock=lambda: NOW)
    made = Bot(store, chats, pipeline, CommandInterpreter(
        store, chats=chats, rules=rules, archive=archive, admins=(ADMIN,), feeds=[FILE_FEED],
        clock=lambda: made.now))
    return made


@pytest.fixture
def bot(store: Store) -> Bot:
    """An interpreter with the two test topics, one hour after the articles arrive."""
    return _bot(store, TOPICS)


@pytest.fixture
async def zh(bot: Bot) -> Bot:
    """The same, in a chat whose language is Chinese."""
    await bot.chats.set_language(CHAT, "zh")
    return bot


# --- replies no test reached --------------------------------------------------------------------


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
async def test_a_full_chat_is_told_to_delete_a_rule_first(bot: Bot, lang: str) -> None:
    """At MAX_RULES_PER_CHAT rules, `/rule add` refuses with the limit and stores nothing."""
    await bot.chats.set_language(CHAT, lang)
    for n in range(MAX_RULES_PER_CHAT):
        await bot.chats.add_rule(CHAT, f"term{n}")
    reply = await bot.say("/rule add 朝鲜 + 派兵")
    assert not reply.ok
    assert reply.text == i18n.text(lang, "rule.too_many", limit=MAX_RULES_PER_CHAT)
    assert len(await bot.chats.rules_of(CHAT)) == MAX_RULES_PER_CHAT


@pytest.mark.parametrize(("lang", "says"), [("en", "No shared topics are configured."),
                                            ("zh", "没有配置公共话题。")])
async def test_topics_when_no_rule_file_has_any(store: Store, lang: str, says: str) -> None:
    """With no shared topics, `/topics` says so instead of printing an empty list."""
    bot = _bot(store, [])
    await bot.chats.set_language(CHAT, lang)
    reply = await bot.say("/topics")
    assert reply.ok and reply.text == says


# --- aliases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["/rule ls", "/rule list", "/rules"])
async def test_rule_list_aliases(bot: Bot, text: str) -> None:
    """`/rule ls` lists the chat's rules just as `/rule list` and `/rules` do."""
    await bot.say("/rule add 朝鲜 + 派兵")
    assert (await bot.say(text)).lines == ("Rules of this chat:", "#1  朝鲜 + 派兵")


@pytest.mark.parametrize("text", ["/rule del #1", "/rule delete 1", "/rule rm 01"])
async def test_rule_delete_aliases(bot: Bot, text: str) -> None:
    """`/rule delete`, `/rule rm` and a `#` before the number delete the rule like `/rule del`."""
    await bot.say("/rule add 朝鲜 + 派兵")
    assert (await bot.say(text)).text == "Rule #1 deleted."
    assert await bot.chats.rules_of(CHAT) == []


@pytest.mark.parametrize("word", ["del", "delete", "rm"])
async def test_feeds_delete_aliases(bot: Bot, word: str) -> None:
    """`/feeds delete` and `/feeds rm` remove a feed added from chat like `/feeds del`."""
    url = "https://www.rfi.fr/cn/rss"
    assert (await bot.say(f"/feeds add {url}", user=ADMIN)).ok
    assert (await bot.say(f"/feeds {word} {feed_id(url)}", user=ADMIN)).text == \
        f"Feed {feed_id(url)} removed."


@pytest.mark.parametrize(("word", "lang"), [("中文", "zh"), ("cn", "zh"), ("ZH", "zh"),
                                            ("english", "en"), ("英文", "en")])
async def test_lang_takes_the_names_of_the_languages(bot: Bot, word: str, lang: str) -> None:
    """`/lang` also takes 中文, cn, english and 英文, in any case."""
    reply = await bot.say(f"/lang {word}")
    assert reply.text == i18n.text(lang, "lang.set")
    assert await bot.chats.language(CHAT) == lang


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
async def test_feeds_add_with_an_overlong_outlet_gets_its_usage(bot: Bot, lang: str) -> None:
    """An outlet name over 64 characters is a malformed `/feeds add`: its usage line, no feed."""
    await bot.chats.set_language(CHAT, lang)
    reply = await bot.say(f"/feeds add https://www.rfi.fr/cn/rss {'R' * 65}", user=ADMIN)
    assert not reply.ok
    assert reply.text == i18n.text(lang, "usage", usage=i18n.text(lang, "usage.feeds_add"))
    assert len((await bot.say("/feeds", user=ADMIN)).lines) == 2  # the header and the file's


# --- Chinese forms of replies only tested in English ------------------------------------------


@pytest.mark.parametrize("text", ["/rule add 朝鲜 + 派兵", "/subscribe dprk-troops", "/mute 2h",
                                  "/digest at 07:30", "/lang en"])
async def test_a_group_member_is_refused_politely_in_chinese(zh: Bot, text: str) -> None:
    """In a Chinese chat a non-administrator's change is refused in Chinese and not made."""
    reply = await zh.say(text, can_manage=False)
    assert not reply.ok
    assert reply.text == ("抱歉，只有本聊天的管理员可以更改规则、话题、摘要、静音或语言设置。"
                          "任何人都可以查看和测试：/rule list、/rule test、/topics。")
    assert await zh.chats.rules_of(CHAT) == [] and await zh.chats.topics_of(CHAT) == set()
    assert await zh.chats.language(CHAT) == "zh"


async def test_status_in_chinese(zh: Bot) -> None:
    """/status gives feed health, last poll, rules, topics, digest and mute in Chinese."""
    await zh.store.update_feed_state(FILE_FEED.id, {"status": "ok", "errors": 0,
                                                    "last_poll": NOW.timestamp()})
    await zh.say("/feeds add https://www.rfi.fr/cn/rss RFI", user=ADMIN)
    rfi = feed_id("https://www.rfi.fr/cn/rss")
    await zh.store.record_feed_error(rfi, kind="http", message="HTTP 503")
    for command in ("/rule add 朝鲜 + 派兵", "/subscribe korea-arms",
                    "/digest at 07:30 Asia/Shanghai", "/mute 30m"):
        assert (await zh.say(command)).ok, command
    assert (await zh.say("/status", can_manage=False)).lines[:7] == (
        "新闻源：2 个（1 个正常，1 个出错）；最近抓取：2026-01-01 00:00 UTC",
        f"  ✗ {rfi} RFI — 连续 1 次出错：http",
        f"  ✓ {FILE_FEED.id} VOA — 抓取于 2026-01-01 00:00 UTC",
        "规则：#1 朝鲜 + 派兵",
        "话题：korea-arms",
        "摘要：07:30 Asia/Shanghai",
        "静音：直到 2026-01-01 01:30 UTC")
    admin = (await zh.say("/status", user=ADMIN)).lines
    assert admin[1] == f"  ✗ {rfi} RFI — 连续 1 次出错：http: HTTP 503"


async def test_feeds_list_in_chinese_says_where_each_feed_came_from(zh: Bot) -> None:
    """/feeds in Chinese marks the feeds file's feeds and those added from chat."""
    url = "https://www.dw.com/zh/rss"
    assert (await zh.say(f"/feeds add {url} DW", user=ADMIN)).text == \
        f"已添加新闻源 {feed_id(url)}：{url} · DW"
    assert (await zh.say("/feeds", user=ADMIN)).lines == (
        "新闻源（2 个）：",
        f"{FILE_FEED.id}  {FILE_FEED.url} · VOA（配置文件）",
        f"{feed_id(url)}  {url} · DW（从聊天添加）")


async def test_topics_in_chinese_mark_the_followed_ones(zh: Bot) -> None:
    """/topics in Chinese marks the topics this chat follows."""
    assert (await zh.say("/subscribe dprk-troops")).text == "已订阅 dprk-troops。"
    assert (await zh.say("/topics")).lines == (
        "公共话题（用 /subscribe <话题> 订阅）：",
        "✓ dprk-troops — North Korea sends troops abroad（已订阅）",
        "• korea-arms — Korean arms trade")


async def test_empty_digest_in_chinese(zh: Bot) -> None:
    """/digest now with nothing new for the followed topics says so in Chinese."""
    await zh.say("/subscribe dprk-troops")
    assert (await zh.say("/digest now")).text == "过去 24 小时内没有符合本聊天规则或话题的新闻。"


async def test_rule_test_counts_the_rest_in_chinese(zh: Bot) -> None:
    """Beyond five matching stories, /rule test in Chinese counts the rest."""
    places = ["Oslo harbour", "Lima stadium", "Nairobi market", "Osaka railway", "Quito volcano",
              "Perth vineyard", "Reykjavik glacier"]
    articles = [Article(outlet=f"Outlet{n}", title=f"Zebra escapes near {place}",
                        text=f"{place} {n} " * 20 + f"unique{n} words about {place} zebra",
                        url=f"https://news{n}.example.com/{n}",
                        published=NOW - timedelta(days=n * 3))
                for n, place in enumerate(places)]
    assert len(set(await zh.file(articles))) == 7
    reply = await zh.say("/rule test zebra")
    assert reply.lines[0] == "zebra 在已存储的时间窗口（96 小时）内匹配 7 条新闻。"
    assert len(reply.lines) == 8 and reply.lines[-1] == "……另有 2 条"
