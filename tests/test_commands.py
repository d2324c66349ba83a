"""The command interpreter over a real store: every command, its usage line, both languages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from bot import i18n
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter, CommandReply, CommandRequest, split_command
from bot.dedup.index import StoryIndex
from bot.feeds.guard import url_problem
from bot.feeds.seeds import read_seed_folder
from bot.feeds.sources import feed_id
from bot.models import Article, FeedSpec, Topic
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.routing import RuleBook
from bot.store import AddedFeeds, Store
from bot.timeparse import clock_time, duration, time_range
from tests.conftest import SEEDS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
WINDOW = 72 * 3600
CHAT, USER, ADMIN = "telegram:-100", "telegram:42", "telegram:7"
TOPICS = [Topic(name="dprk-troops", expression="朝鲜 + 派兵",
                description="North Korea sends troops abroad"),
          Topic(name="korea-arms", expression="韩国 + 武器", description="Korean arms trade")]
FILE_FEED = FeedSpec(id=feed_id("https://www.voachinese.com/rss"),
                     url="https://www.voachinese.com/rss", outlet="VOA")
BIG_STORY = "韩国指朝鲜派兵增援俄侵乌战争 北约回应"  # 001 (DW), joined by 002 (VOA) and 003


@dataclass
class Bot:
    """The interpreter with the parts a test pokes at directly."""

    store: Store
    chats: ChatDirectory
    pipeline: Pipeline
    commands: CommandInterpreter
    now: datetime = LATER

    async def say(self, text: str, *, chat: str = CHAT, user: str = USER,
                  can_manage: bool = True) -> CommandReply:
        """Send one command as `user` in `chat`."""
        return await self.commands.handle(CommandRequest(chat=chat, user=user, text=text,
                                                         can_manage=can_manage))

    async def file(self, articles: list[Article]) -> list[str]:
        """Run articles through the real pipeline; returns their story ids."""
        outcomes = await self.pipeline.process_many(articles)  # dated as one batch
        return [o.assignment.story.id for o in outcomes if o.assignment]


@pytest.fixture
def bot(store: Store) -> Bot:
    """An interpreter wired like the app, with a clock one hour after the articles arrive."""
    chats = ChatDirectory(store)
    rules = RuleBook(TOPICS, chats)
    archive = Archive(store, ttl=WINDOW + 86_400)
    index = StoryIndex(store, window_seconds=WINDOW, seen_seconds=30 * 86_400)
    pipeline = Pipeline(store, index=index, rules=rules, outbox=Outbox(store), archive=archive,
                        clock=lambda: NOW)
    made = Bot(store, chats, pipeline, CommandInterpreter(
        store, chats=chats, rules=rules, archive=archive, admins=(ADMIN,), feeds=[FILE_FEED],
        clock=lambda: made.now))
    return made


@pytest.fixture
async def seeded(bot: Bot) -> Bot:
    """The interpreter after the five seed articles went through the pipeline."""
    articles, errors = read_seed_folder(SEEDS)
    assert not errors
    await bot.file(articles)
    return bot


def _head(lang: str, key: str) -> str:
    """The fixed start of a message template: its first line, up to its first field."""
    return i18n.MESSAGES[key][lang].split("{")[0].split("\n")[0]


def _usage(lang: str, key: str) -> str:
    return i18n.text(lang, f"usage.{key}", max_days=30)


# --- parsing and the catalogue --------------------------------------------------------------


def test_catalogue_has_every_key_in_both_languages_with_the_same_fields() -> None:
    """Each message exists in English and Chinese, and both use the same format fields."""
    for key, templates in i18n.MESSAGES.items():
        assert set(templates) == set(i18n.LANGUAGES), key
        assert len({frozenset(i18n.fields_of(t)) for t in templates.values()}) == 1, key


@pytest.mark.parametrize(("text", "expected"), [
    ("/rule add 朝鲜 + 派兵", ("rule", "add 朝鲜 + 派兵")),
    ("/rule@newsbot_bot add 朝鲜", ("rule", "add 朝鲜")),
    ("  /RULES  ", ("rules", "")),
    ("/help@newsbot_bot", ("help", "")),
    ("/", ("", "")),
    ("", ("", "")),
    ("rule list", ("rule", "list")),
    ("/rule\nadd 朝鲜", ("rule", "add 朝鲜")),
])
def test_split_command(text: str, expected: tuple[str, str]) -> None:
    """The command word is lower-cased, a Telegram @bot suffix dropped, the rest kept."""
    assert split_command(text) == expected


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("2h", 7200), ("1d", 86_400), ("45min", 2700), ("30d", 30 * 86_400),
    ("1.5h", 5400), ("2 hours", 7200), ("２ｈ", 7200), ("30分钟", 1800), ("2小時", 7200),
    ("1天", 86_400), ("1 week", 604_800),
    ("0m", None), ("31d", None), ("2x", None), ("h", None), ("-1h", None), ("2 parsecs", None),
])
def test_durations_as_people_type_them(text: str, seconds: int | None) -> None:
    """Durations in units of English or Chinese, full-width too, above zero and at most
    `maximum` (the 30 days /mute allows)."""
    found = duration(text, maximum=timedelta(days=30))
    assert (found.total_seconds() if found else None) == seconds


@pytest.mark.parametrize(("text", "expected"), [
    ("23:00-07:00", ((23, 0), (7, 0))), ("23：00－07：00", ((23, 0), (7, 0))),
    ("２３：００-０７：３０", ((23, 0), (7, 30))), ("22:30 – 6:45", ((22, 30), (6, 45))),
    ("22:30~06:45", ((22, 30), (6, 45))), ("22:30至06:45", ((22, 30), (6, 45))),
    ("22:30 to 06:45", ((22, 30), (6, 45))),
    ("22:30", None), ("25:00-07:00", None), ("23-07", None), ("23:00-", None), ("", None),
])
def test_time_ranges_as_people_type_them(text: str,
                                         expected: tuple[tuple[int, int], ...] | None) -> None:
    """Two 24-hour clock times joined by a dash, tilde, 至 or `to`; full-width forms read as
    ASCII (a Chinese input method types `：` and `－`)."""
    found = time_range(text)
    assert (tuple((t.hour, t.minute) for t in found) if found else None) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("7:30", (7, 30)), ("07:30", (7, 30)), ("７：３０", (7, 30)), ("23:59", (23, 59)),
    ("24:00", None), ("7.30", None), ("7:3", None), ("730", None),
])
def test_clock_times_as_people_type_them(text: str, expected: tuple[int, int] | None) -> None:
    """A 24-hour time of day, full-width forms too."""
    found = clock_time(text)
    assert ((found.hour, found.minute) if found else None) == expected


@pytest.mark.parametrize(("url", "problem"), [
    ("https://www.voachinese.com/api/zyqmoeqvrm", None),
    ("http://8.8.8.8/feed", None),
    ("http://127.0.0.1/x", "feeds.internal"),
    ("http://localhost:8080/rss", "feeds.internal"),
    ("http://api.localhost/rss", "feeds.internal"),
    ("http://[::1]/rss", "feeds.internal"),
    ("http://[::ffff:127.0.0.1]/rss", "feeds.internal"),
    ("http://10.1.2.3/rss", "feeds.internal"),
    ("http://192.168.0.1/rss", "feeds.internal"),
    ("http://169.254.169.254/latest/meta-data", "feeds.internal"),
    ("http://127.1/rss", "feeds.internal"),
    ("http://2130706433/rss", "feeds.internal"),
    ("http://0x7f000001/rss", "feeds.internal"),
    ("http://0.0.0.0/rss", "feeds.internal"),
    ("http://redis:6379/", "feeds.internal"),
    ("http://printer.local/rss", "feeds.internal"),
    ("ftp://example.com/rss", "feeds.bad_url"),
    ("example.com/rss", "feeds.bad_url"),
    ("http://example.com:99999/rss", "feeds.bad_url"),
    ("http://xn--ls8h.la/", "feeds.bad_host.idna"),
    ("http://rss..example.com/feed", "feeds.bad_host.empty_label"),
    (f"http://{'a' * 64}.example.com/feed", "feeds.bad_host.long_label"),
    ("http://-news-.example.com/feed", "feeds.bad_host.hyphen"),
    ("http://xn--a.com/feed", "feeds.bad_host.idna"),
    ("http://💩.la/feed", "feeds.bad_host.idna"),
    ("http://999.1.1.1/feed", "feeds.bad_host.idna"),
    ("http://exämple.com/feed", None),
])
def test_url_problem(url: str, problem: str | None) -> None:
    """Only http(s) URLs whose host is a valid name (or address), not an obviously internal
    one, may become feeds."""
    found = url_problem(url)
    assert (found[0] if found else None) == problem


# --- help, unknown commands, usage lines ----------------------------------------------------


@pytest.mark.parametrize("text", ["/start", "/help", "/help@newsbot_bot", "/"])
async def test_help_lists_every_command(bot: Bot, text: str) -> None:
    """/start and /help (and Slack's bare /newsbot) describe the bot and list each command."""
    reply = await bot.say(text)
    assert reply.ok and reply.lines[0] == i18n.text("en", "help.intro").splitlines()[0]
    for command in ("/rule add", "/rule list", "/rule del", "/rule test", "/topics",
                    "/subscribe", "/unsubscribe", "/digest at", "/digest off", "/digest now",
                    "/mute", "/unmute", "/feeds", "/feeds add", "/feeds del", "/status",
                    "/lang"):
        assert any(line.startswith(command + " ") for line in reply.lines), command


async def test_unknown_command_points_to_help(bot: Bot) -> None:
    """An unknown command names itself and points to /help."""
    reply = await bot.say("/frobnicate now")
    assert not reply.ok
    assert reply.text == "Unknown command /frobnicate. Send /help for the list of commands."


USAGE_CASES = [
    ("/rule", "rule_add"), ("/rule frob", "rule_test"), ("/rule add", "rule_add"),
    ("/rule list extra", "rule_list"), ("/rule del", "rule_del"), ("/rule del one", "rule_del"),
    ("/rule test", "rule_test"), ("/topics all", "topics"), ("/subscribe", "subscribe"),
    ("/subscribe a b", "subscribe"), ("/unsubscribe", "unsubscribe"),
    ("/digest", "digest_at"), ("/digest at", "digest_at"), ("/digest soon", "digest_now"),
    ("/digest at 07:30 UTC extra", "digest_at"), ("/digest off now", "digest_off"),
    ("/mute", "mute"), ("/unmute now", "unmute"), ("/status please", "status"),
    ("/lang", "lang"), ("/lang fr", "lang"), ("/feeds frob", "feeds_add"),
    ("/feeds add", "feeds_add"), ("/feeds del", "feeds_del"), ("/feeds del a b", "feeds_del"),
    ("/mute mode", "mute_mode"), ("/mute mode loud", "mute_mode"), ("/quiet", "quiet"),
    ("/quiet 25:00-07:00", "quiet"), ("/quiet 07:00-07:00", "quiet"), ("/tz a b", "tz"),
]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
@pytest.mark.parametrize(("text", "usage"), USAGE_CASES)
async def test_malformed_commands_answer_with_their_usage(bot: Bot, lang: str, text: str,
                                                          usage: str) -> None:
    """Each malformed command answers `Usage:` with its usage line, in the chat's language."""
    await bot.chats.set_language(CHAT, lang)
    reply = await bot.say(text, user=ADMIN)
    assert not reply.ok
    assert reply.text.startswith(_head(lang, "usage")) and _usage(lang, usage) in reply.text


# --- rules ----------------------------------------------------------------------------------


async def test_rule_add_reports_id_parsed_rule_and_window_count(seeded: Bot) -> None:
    """/rule add stores the rule and answers its number, the parsed rule and the stories hit."""
    reply = await seeded.say("/rule add 朝鲜 AND 派兵")
    assert reply.ok and reply.lines == ("Rule #1 added: 朝鲜 + 派兵",
                                        "  朝鲜 = @dprk: North Korea (DPRK)",
                                        "  派兵 = @send-troops: send troops (派兵)",
                                        "Stories in the stored window (96 h) it would have "
                                        "matched: 2")
    same = await seeded.say("/rule add 朝鲜 派兵")
    assert not same.ok and same.text == "This chat already has that rule as #1."
    second = await seeded.say("/rule add title:北约")
    assert second.lines[0] == "Rule #2 added: title:北约" and second.lines[-1].endswith(": 1")
    rules = await seeded.chats.rules_of(CHAT)
    assert [(r.id, r.expression) for r in rules] == [(f"chat:{CHAT}:1", "朝鲜 AND 派兵"),
                                                      (f"chat:{CHAT}:2", "title:北约")]


async def test_a_lone_surrogate_in_a_command_becomes_a_replacement_character(
        seeded: Bot) -> None:
    """A chat client's bad escape (an unpaired UTF-16 surrogate) neither breaks folding nor
    the store: the rule is kept with U+FFFD in its place and still matches its other terms."""
    reply = await seeded.say("/rule add 朝鲜\ud800 | 派兵")
    assert reply.ok and reply.lines[0] == "Rule #1 added: 朝鲜\ufffd | 派兵"
    assert [r.expression for r in await seeded.chats.rules_of(CHAT)] == ["朝鲜\ufffd | 派兵"]
    assert reply.lines[-1].endswith(": 2")  # the stories with 派兵


@pytest.mark.parametrize(("text", "column", "caret"), [
    ("/rule add 朝鲜 + (派兵", 6, "         ^"),
    ("/rule add 朝鲜 +", 5, "        ^"),
    ("/rule test -演习", 1, "  ^"),
    ("/rule add @nowhere", 1, "  ^"),
])
async def test_rule_errors_quote_the_position(bot: Bot, text: str, column: int,
                                              caret: str) -> None:
    """An invalid rule is not stored; the reply names the column and puts a caret under it."""
    reply = await bot.say(text)
    expression = text.split(maxsplit=2)[2]
    assert not reply.ok and reply.lines[0].startswith(f"Invalid rule at column {column}: ")
    assert reply.lines[1:] == (f"  {expression}", caret)
    assert await bot.chats.rules_of(CHAT) == []


async def test_rule_list_and_delete(bot: Bot) -> None:
    """/rule list and /rules show the chat's rules by number; /rule del removes one."""
    assert (await bot.say("/rules")).text == i18n.text("en", "rule.list.empty")
    await bot.say("/rule add 朝鲜 + 派兵")
    await bot.say("/rule add 制裁 | sanctions")
    listed = await bot.say("/rule list")
    assert listed.lines == ("Rules of this chat:", "#1  朝鲜 + 派兵", "#2  制裁 | sanctions")
    assert (await bot.say("/rule del #1")).text == "Rule #1 deleted."
    assert (await bot.say("/rules")).lines == ("Rules of this chat:", "#2  制裁 | sanctions")
    gone = await bot.say("/rule del 1")
    assert not gone.ok and gone.text == "This chat has no rule #1; see /rule list."
    assert (await bot.say("/rules", chat="slack:C1")).text == i18n.text("en", "rule.list.empty")


async def test_rule_test_lists_matching_stories_without_saving(seeded: Bot) -> None:
    """/rule test shows the stories a rule matches, biggest first, with terms; nothing stored."""
    reply = await seeded.say("/rule test 朝鲜 派兵", can_manage=False)
    assert reply.ok and reply.lines[0] == "朝鲜 + 派兵 matches 2 stories in the stored window " \
                                          "(96 h)."
    assert reply.lines[1:3] == ("  朝鲜 = @dprk: North Korea (DPRK)",
                                "  派兵 = @send-troops: send troops (派兵)")
    assert reply.lines[3].startswith(f"• {BIG_STORY} — ") and reply.lines[3].endswith(
        "[朝鲜, 派兵]")
    assert len(reply.lines[3].split(" — ")[1].split(" · ")) == 3
    assert len(reply.lines) == 5 and await seeded.chats.rules_of(CHAT) == []


async def test_rule_test_shows_at_most_five_stories(bot: Bot) -> None:
    """With more than five matching stories, five are listed and the rest counted."""
    places = ["Oslo harbour", "Lima stadium", "Nairobi market", "Osaka railway", "Quito volcano",
              "Perth vineyard", "Reykjavik glacier"]
    articles = [Article(outlet=f"Outlet{n}", title=f"Zebra escapes near {place}",
                        text=f"{place} {n} " * 20 + f"unique{n} words about {place} zebra",
                        url=f"https://news{n}.example.com/{n}",
                        published=NOW - timedelta(days=n * 3))
                for n, place in enumerate(places)]
    assert len(set(await bot.file(articles))) == 7
    reply = await bot.say("/rule test zebra")
    assert reply.lines[0] == "zebra matches 7 stories in the stored window (96 h)."
    assert reply.lines[1].startswith("  zebra -> ")  # its Chinese renderings (斑马)
    assert len(reply.lines) == 8 and reply.lines[-1] == "…and 2 more"
    assert all(line.endswith("[zebra]") for line in reply.lines[2:7])


# --- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["/rule add 朝鲜 + 派兵", "/rule del 1", "/subscribe dprk-troops",
                                  "/unsubscribe dprk-troops", "/digest at 07:30",
                                  "/digest off", "/mute 2h", "/unmute", "/lang zh"])
async def test_only_chat_managers_change_settings(bot: Bot, text: str) -> None:
    """Without can_manage (a Telegram group member who is not an admin) changes are refused."""
    reply = await bot.say(text, can_manage=False)
    assert not reply.ok and reply.text == i18n.text("en", "refused.manage")
    assert await bot.chats.rules_of(CHAT) == [] and await bot.chats.topics_of(CHAT) == set()
    assert await bot.chats.digest_of(CHAT) is None and await bot.chats.language(CHAT) is None


@pytest.mark.parametrize("text", ["/rule list", "/rules", "/rule test 朝鲜", "/topics",
                                  "/digest now", "/status", "/help"])
async def test_anyone_may_list_and_test(bot: Bot, text: str) -> None:
    """Listing, testing, the digest and status need no management right."""
    assert (await bot.say(text, can_manage=False)).ok


@pytest.mark.parametrize("text", ["/feeds", "/feeds add https://example.com/rss",
                                  f"/feeds del {FILE_FEED.id}"])
async def test_feeds_are_for_bot_admins_only(bot: Bot, text: str) -> None:
    """A user not in NEWSBOT_ADMINS is refused politely, even as a chat manager."""
    reply = await bot.say(text, can_manage=True)
    assert not reply.ok and reply.text == i18n.text("en", "refused.admin")
    assert await AddedFeeds(bot.store).all() == []


# --- topics ---------------------------------------------------------------------------------


async def test_topics_subscribe_and_unsubscribe(bot: Bot) -> None:
    """/topics marks the followed topics; /subscribe and /unsubscribe change them."""
    assert (await bot.say("/subscribe DPRK-troops")).text == "Subscribed to dprk-troops."
    assert (await bot.say("/subscribe dprk-troops")).text == \
        "This chat already follows dprk-troops."
    assert (await bot.say("/topics")).lines == (
        "Shared topics (follow one with /subscribe <topic>):",
        "✓ dprk-troops — North Korea sends troops abroad (subscribed)",
        "• korea-arms — Korean arms trade")
    assert await bot.chats.subscribers("dprk-troops") == {CHAT}
    assert (await bot.say("/unsubscribe dprk-troops")).text == "Unsubscribed from dprk-troops."
    assert (await bot.say("/unsubscribe korea-arms")).text == \
        "This chat does not follow korea-arms."
    assert await bot.chats.topics_of(CHAT) == set()


@pytest.mark.parametrize(("text", "names"), [
    ("/subscribe dprk-trops", "dprk-troops"),
    ("/unsubscribe korea-arm", "korea-arms"),
    ("/subscribe weather", "dprk-troops, korea-arms"),
])
async def test_unknown_topic_lists_the_closest_names(bot: Bot, text: str, names: str) -> None:
    """An unknown topic is answered with the closest names (all of them if none is close)."""
    topic = text.split()[1]
    reply = await bot.say(text)
    assert not reply.ok and reply.text == f"There is no topic {topic}. Closest: {names}"
    assert await bot.chats.topics_of(CHAT) == set()


# --- digest ---------------------------------------------------------------------------------


async def test_digest_now_lists_the_three_outlet_story_first(seeded: Bot) -> None:
    """/digest now lists today's matching stories, most outlets first, one line each."""
    await seeded.say("/subscribe dprk-troops")
    reply = await seeded.say("/digest now")
    assert reply.lines[0] == f"Daily digest, {LATER:%Y-%m-%d}: 2 stories"
    assert reply.lines[1].startswith(f"1. {BIG_STORY} — ")
    assert len(reply.lines[1].split(" — ")[1].split(" · ")) == 3
    assert reply.lines[2].startswith("2. ") and len(reply.lines) == 3
    assert reply.stories is not None  # for the platforms: with summaries and links
    first, second = reply.stories.stories
    assert first.headline == BIG_STORY and len(first.outlets) == 3
    assert "召见" in first.summary and "大使" in first.summary
    assert second.headline == "韩国与欧盟同声强烈谴责朝鲜出兵援俄攻乌"  # seed 000


async def test_digest_now_follows_chat_rules_and_the_last_24_hours(seeded: Bot) -> None:
    """A chat's own rules feed its digest; stories first seen over 24 hours ago are left out."""
    assert (await seeded.say("/digest now")).text == i18n.text("en", "digest.follows_nothing")
    await seeded.say("/rule add 武器贸易")
    assert (await seeded.say("/digest now")).lines[1].startswith("1. 韩国敦促朝俄停止武器贸易")
    seeded.now = NOW + timedelta(hours=25)
    assert (await seeded.say("/digest now")).text == i18n.text("en", "digest.empty")


async def test_times_typed_with_a_chinese_input_method_work_in_every_command(bot: Bot) -> None:
    """Full-width colons, dashes and digits (what a Chinese input method types) and Chinese
    units read the same in /quiet, /digest at and /mute."""
    assert (await bot.say("/quiet 23：00－07：00")).text == (
        "Quiet hours 23:00-07:00 (UTC): alerts are held, not lost.")
    assert await bot.chats.quiet_hours(CHAT) == (time(23, 0), time(7, 0))
    assert (await bot.say("/digest at ７：３０")).text == "Daily digest at 07:30 (UTC)."
    muted = await bot.say("/mute 2小时")
    assert muted.ok
    assert await bot.chats.muted_until(CHAT, now=bot.now) == bot.now + timedelta(hours=2)


async def test_digest_at_validates_and_stores_time_and_zone(bot: Bot) -> None:
    """/digest at stores HH:MM and an IANA zone; bad times and zones are rejected."""
    reply = await bot.say("/digest at 07:30 Asia/Shanghai")
    assert reply.text == "Daily digest at 07:30 (Asia/Shanghai)."
    assert await bot.chats.digest_of(CHAT) == ("07:30", "Asia/Shanghai")
    assert await bot.chats.digest_chats() == {CHAT}
    late = await bot.say("/digest at 25:00")
    assert not late.ok and late.text == "Invalid time 25:00: use 24-hour HH:MM, e.g. 07:30."
    zone = await bot.say("/digest at 08:00 Mars/Olympus")
    assert not zone.ok and zone.text.startswith("Unknown time zone Mars/Olympus")
    assert (await bot.say("/digest at 8:05")).text == "Daily digest at 08:05 (Asia/Shanghai)."
    assert (await bot.say("/digest at 9:00 europe/berlin")).text == \
        "Daily digest at 09:00 (Europe/Berlin)."
    assert (await bot.say("/digest off")).text == "Daily digest turned off."
    assert await bot.chats.digest_of(CHAT) is None and await bot.chats.digest_chats() == set()
    assert (await bot.say("/digest off")).text == "The daily digest was already off."


# --- mute -----------------------------------------------------------------------------------


async def test_mute_stores_until_and_unmute_lifts_it(bot: Bot) -> None:
    """/mute 2h stores the end of the mute; /unmute lifts it; bad durations are rejected."""
    reply = await bot.say("/mute 2h")
    assert reply.text == "Alerts muted until 2026-01-01 03:00 UTC."
    assert await bot.chats.muted_until(CHAT, now=LATER) == LATER + timedelta(hours=2)
    assert await bot.chats.muted_until(CHAT, now=LATER + timedelta(hours=3)) is None
    bad = await bot.say("/mute 90x")
    assert not bad.ok and bad.text.startswith("Invalid duration 90x")
    assert (await bot.say("/unmute")).text == "Alerts unmuted."
    assert await bot.chats.muted_until(CHAT, now=LATER) is None
    assert (await bot.say("/unmute")).text == "Alerts were not muted."


# --- feeds ----------------------------------------------------------------------------------


async def test_feeds_add_list_and_delete(bot: Bot) -> None:
    """Admins add http(s) feeds (stored with an id from the URL), list and remove them."""
    url = "https://www.dw.com/zh/rss"
    added = await bot.say(f"/feeds add {url} DW Chinese", user=ADMIN)
    assert added.text == f"Feed {feed_id(url)} added: {url} · DW Chinese"
    assert await AddedFeeds(bot.store).all() == [FeedSpec(id=feed_id(url), url=url,
                                                          outlet="DW Chinese")]
    listed = await bot.say("/feeds", user=ADMIN)
    assert listed.lines == ("Feeds (2):",
                            f"{FILE_FEED.id}  {FILE_FEED.url} · VOA (feeds file)",
                            f"{feed_id(url)}  {url} · DW Chinese (added from chat)")
    again = await bot.say(f"/feeds add {url}", user=ADMIN)
    assert not again.ok and again.text == f"That feed is already listed as {feed_id(url)}."
    assert not (await bot.say(f"/feeds add {FILE_FEED.url}", user=ADMIN)).ok
    in_file = await bot.say(f"/feeds del {FILE_FEED.id}", user=ADMIN)
    assert in_file.text == f"Feed {FILE_FEED.id} comes from the feeds file; remove it there."
    assert (await bot.say(f"/feeds del {feed_id(url)}", user=ADMIN)).text == \
        f"Feed {feed_id(url)} removed."
    assert (await bot.say("/feeds del abc", user=ADMIN)).text == "There is no feed abc; see /feeds."
    assert await AddedFeeds(bot.store).all() == []


@pytest.mark.parametrize(("url", "reply"), [
    ("http://127.0.0.1/x", "Refused: 127.0.0.1 is an internal address; feeds must be public "
                           "http(s) URLs."),
    ("http://localhost/rss", "Refused: localhost is an internal address; feeds must be public "
                             "http(s) URLs."),
    ("file:///etc/passwd", "Not an http(s) feed URL: file:///etc/passwd"),
])
async def test_feeds_add_refuses_internal_and_non_http_urls(bot: Bot, url: str,
                                                            reply: str) -> None:
    """Internal literal hosts and non-http(s) URLs are refused and nothing is stored."""
    answer = await bot.say(f"/feeds add {url}", user=ADMIN)
    assert not answer.ok and answer.text == reply
    assert await AddedFeeds(bot.store).all() == []


async def test_feeds_add_refuses_names_that_resolve_to_internal_addresses(bot: Bot) -> None:
    """A public-looking name is looked up when added: refused if ANY of its addresses is
    internal (a rebinding name listing a public and a private address included); a name that
    does not resolve now is accepted (the fetcher checks every connection)."""
    answers = {"intranet.example.com": ["10.20.30.40"],
               "rebind.example.net": ["93.184.216.34", "fd00::7"],
               "news.example.org": ["93.184.216.34", "2606:2800:220:1::1"]}
    asked: list[tuple[str, int]] = []

    async def dns(host: str, port: int) -> list[str]:  # stands in for the network's resolver
        asked.append((host, port))
        if host not in answers:
            raise OSError(f"cannot resolve {host}")
        return answers[host]

    bot.commands = CommandInterpreter(  # the same interpreter, with this resolver
        bot.store, chats=bot.chats, rules=bot.commands.rules, archive=bot.commands.archive,
        admins=(ADMIN,), feeds=[FILE_FEED], clock=bot.commands.clock, resolve=dns)
    refused = await bot.say("/feeds add https://intranet.example.com/rss", user=ADMIN)
    assert not refused.ok and refused.text == (
        "Refused: intranet.example.com resolves to the internal address 10.20.30.40; feeds "
        "must be public http(s) URLs.")
    rebind = await bot.say("/feeds add http://rebind.example.net:8080/feed", user=ADMIN)
    assert not rebind.ok and "fd00::7" in rebind.text
    assert await AddedFeeds(bot.store).all() == []
    assert (await bot.say("/feeds add https://news.example.org/rss", user=ADMIN)).ok
    assert (await bot.say("/feeds add https://unknown.example.org/rss", user=ADMIN)).ok
    assert asked == [("intranet.example.com", 443), ("rebind.example.net", 8080),
                     ("news.example.org", 443), ("unknown.example.org", 443)]
    assert [f.url for f in await AddedFeeds(bot.store).all()] == [
        "https://news.example.org/rss", "https://unknown.example.org/rss"]


async def test_feeds_add_looks_names_up_with_the_system_resolver(bot: Bot) -> None:
    """The default resolver is the system's: a name missing from DNS is accepted (checked
    again at fetch time); `localhost`, resolved by the system, is refused before any lookup."""
    assert (await bot.say("/feeds add https://no-such-host.invalid/rss", user=ADMIN)).ok
    assert not (await bot.say("/feeds add http://localhost./rss", user=ADMIN)).ok


# --- status and language --------------------------------------------------------------------


async def test_status_shows_feed_health_and_the_chat_settings(bot: Bot) -> None:
    """/status lists feed health and last poll, then this chat's rules, topics, digest, mute."""
    await bot.store.update_feed_state(FILE_FEED.id, {"status": "ok", "errors": 0,
                                                     "last_poll": NOW.timestamp()})
    await bot.say("/feeds add https://www.rfi.fr/cn/rss RFI", user=ADMIN)
    rfi = feed_id("https://www.rfi.fr/cn/rss")
    await bot.store.record_feed_error(rfi, kind="http", message="HTTP 503")
    for command in ("/rule add 朝鲜 + 派兵", "/subscribe korea-arms",
                    "/digest at 07:30 Asia/Shanghai", "/mute 30m", "/quiet 23:00-07:00"):
        assert (await bot.say(command)).ok, command
    assert (await bot.say("/status", can_manage=False)).lines == (
        "Feeds: 2 (1 ok, 1 failing); last poll 2026-01-01 00:00 UTC",
        f"  ✗ {rfi} RFI — 1 error in a row: http",
        f"  ✓ {FILE_FEED.id} VOA — polled 2026-01-01 00:00 UTC",
        "Rules: #1 朝鲜 + 派兵",
        "Topics: korea-arms",
        "Digest: 07:30 Asia/Shanghai",
        "Mute: until 2026-01-01 01:30 UTC",
        "Quiet hours: 23:00-07:00 (Asia/Shanghai); alerts held: 0")
    admin = await bot.say("/status", user=ADMIN)
    assert admin.lines[1] == f"  ✗ {rfi} RFI — 1 error in a row: http: HTTP 503"


async def test_status_shows_websub_subscriptions(bot: Bot) -> None:
    """A feed pushed by its WebSub hub says until when; a denied or failing subscription
    says why to admins (only its state to others); an expired one is not shown."""
    until = NOW + timedelta(days=10)
    await bot.store.update_feed_state(FILE_FEED.id, {
        "status": "ok", "last_poll": NOW.timestamp(), "websub_status": "active",
        "websub_until": until.timestamp()})
    url = "https://www.rfi.fr/cn/rss"
    await bot.say(f"/feeds add {url} RFI", user=ADMIN)
    await bot.store.update_feed_state(feed_id(url), {
        "status": "ok", "last_poll": NOW.timestamp(), "websub_status": "denied",
        "websub_error": "hub denied: topic not allowed"})
    lines = (await bot.say("/status", user=ADMIN)).lines
    assert lines[1:3] == (
        f"  ✓ {FILE_FEED.id} VOA — polled 2026-01-01 00:00 UTC · pushed by its WebSub hub "
        "until 2026-01-11 00:00 UTC",
        f"  ✓ {feed_id(url)} RFI — polled 2026-01-01 00:00 UTC · WebSub denied: hub denied: "
        "topic not allowed")
    assert (await bot.say("/status")).lines[2] == (
        f"  ✓ {feed_id(url)} RFI — polled 2026-01-01 00:00 UTC · WebSub denied")
    bot.now = until + timedelta(seconds=1)
    assert (await bot.say("/status")).lines[1] == (
        f"  ✓ {FILE_FEED.id} VOA — polled 2026-01-01 00:00 UTC")


async def test_status_of_a_fresh_chat(bot: Bot) -> None:
    """A chat with nothing set and feeds never polled says so."""
    assert (await bot.say("/status")).lines == (
        "Feeds: 1 (0 ok, 0 failing); last poll never",
        f"  · {FILE_FEED.id} VOA — not polled yet",
        "Rules: none", "Topics: none", "Digest: off", "Mute: off",
        "Quiet hours: off (UTC); alerts held: 0")


async def test_lang_switches_this_chats_replies(bot: Bot) -> None:
    """/lang zh makes this chat's replies Chinese (other chats stay English); /lang en reverts."""
    assert (await bot.say("/lang zh")).text == "本聊天此后将用中文回复。"
    assert await bot.chats.language(CHAT) == "zh"
    assert (await bot.say("/help")).lines[0].startswith("newsbot 监测新闻源")
    assert (await bot.say("/help", chat="slack:C1")).lines[0].startswith("newsbot watches")
    assert (await bot.say("/lang en")).text == "Replies in this chat will be in English."
    assert (await bot.say("/nope")).text.startswith("Unknown command /nope.")


SCRIPT = [  # (user, command, message key its first line comes from), run in order
    (USER, "/start", "help.intro"),
    (USER, "/rules", "rule.list.empty"),
    (USER, "/rule add 朝鲜 + 派兵", "rule.added"),
    (USER, "/rule add 朝鲜 派兵", "rule.duplicate"),
    (USER, "/rule add 朝鲜 + (", "rule.invalid"),
    (USER, "/rule list", "rule.list.header"),
    (USER, "/rule test 朝鲜 + 派兵", "rule.test.header"),
    (USER, "/rule del 9", "rule.not_found"),
    (USER, "/rule del 1", "rule.deleted"),
    (USER, "/topics", "topics.header"),
    (USER, "/subscribe dprk-troops", "topic.subscribed"),
    (USER, "/subscribe dprk-troops", "topic.already"),
    (USER, "/subscribe weather", "topic.unknown"),
    (USER, "/digest now", "digest.title"),
    (USER, "/unsubscribe dprk-troops", "topic.unsubscribed"),
    (USER, "/unsubscribe dprk-troops", "topic.not_followed"),
    (USER, "/digest now", "digest.follows_nothing"),
    (USER, "/digest at 07:30 Asia/Shanghai", "digest.set"),
    (USER, "/digest at 24:00", "digest.bad_time"),
    (USER, "/digest at 07:30 Nowhere/Else", "digest.bad_zone"),
    (USER, "/digest off", "digest.off"),
    (USER, "/digest off", "digest.was_off"),
    (USER, "/mute 2h", "mute.set"),
    (USER, "/mute 99d", "mute.bad"),
    (USER, "/unmute", "mute.off"),
    (USER, "/unmute", "mute.was_off"),
    (USER, "/mute mode digest", "mute.mode_digest"),
    (USER, "/mute mode batch", "mute.mode_batch"),
    (USER, "/mute mode later", "usage"),
    (USER, "/quiet 22:30-06:45", "quiet.set"),
    (USER, "/quiet 22:30", "usage"),
    (USER, "/quiet off", "quiet.off"),
    (USER, "/tz Asia/Taipei", "tz.set"),
    (USER, "/tz", "tz.current"),
    (USER, "/tz Mars/Olympus", "digest.bad_zone"),
    (USER, "/feeds", "refused.admin"),
    (ADMIN, "/feeds", "feeds.header"),
    (ADMIN, "/feeds add https://www.bbc.com/zhongwen/simp/index.xml BBC", "feeds.added"),
    (ADMIN, "/feeds add https://www.bbc.com/zhongwen/simp/index.xml", "feeds.exists"),
    (ADMIN, "/feeds add http://192.168.1.1/rss", "feeds.internal"),
    (ADMIN, "/feeds add gopher://example.com/", "feeds.bad_url"),
    (ADMIN, f"/feeds del {FILE_FEED.id}", "feeds.in_file"),
    (ADMIN, "/feeds del nothing", "feeds.not_found"),
    (ADMIN, f"/feeds del {feed_id('https://www.bbc.com/zhongwen/simp/index.xml')}",
     "feeds.deleted"),
    (USER, "/status", "status.feeds"),
    (USER, "/whatever", "unknown"),
]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
async def test_every_command_replies_in_the_chats_language(seeded: Bot, lang: str) -> None:
    """Each command's reply comes from the catalogue in the chat's language."""
    await seeded.chats.set_language(CHAT, lang)
    for user, command, key in SCRIPT:
        reply = await seeded.say(command, user=user)
        assert reply.lines[0].startswith(_head(lang, key)), (command, reply.text)
    await seeded.chats.set_language(CHAT, "en" if lang == "zh" else "zh")
    assert (await seeded.say(f"/lang {lang}")).text == i18n.text(lang, "lang.set")


@pytest.mark.parametrize(("key", "fields", "en", "zh"), [
    ("digest.title", {"date": "2026-01-10", "count": 1},
     "Daily digest, 2026-01-10: 1 story", "每日摘要（2026-01-10）：1 条新闻"),
    ("digest.title", {"date": "2026-01-10", "count": 2},
     "Daily digest, 2026-01-10: 2 stories", "每日摘要（2026-01-10）：2 条新闻"),
    ("digest.title", {"date": "2026-01-10", "count": 0},
     "Daily digest, 2026-01-10: 0 stories", "每日摘要（2026-01-10）：0 条新闻"),
    ("alert.outlet", {"count": 1}, "1 outlet: ", "1 家媒体："),
    ("alert.outlets", {"count": 3}, "3 outlets: ", "3 家媒体："),
    ("held.title", {"count": 1}, "While this chat was muted: 1 story", "静音期间的新闻：1 条"),
])
def test_counts_read_as_words_in_both_languages(key: str, fields: dict[str, object], en: str,
                                                zh: str) -> None:
    """One story, two stories; Chinese counts with its measure word, the same for any number."""
    assert (i18n.text("en", key, **fields), i18n.text("zh", key, **fields)) == (en, zh)
