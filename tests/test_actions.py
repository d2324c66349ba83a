"""The buttons under an alert (bot/actions.py) on the real store, after the seeds went through
the real pipeline: why it matched, more of the story, mute its updates, a story aged out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import i18n
from bot.actions import StoryActions, action_data, parse_action
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.dedup.index import StoryIndex
from bot.feeds.seeds import read_seed_folder
from bot.models import Topic
from bot.outbox import Outbox
from bot.pipeline import Pipeline
from bot.routing import RuleBook
from bot.store import Store
from tests.conftest import SEEDS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 72 * 3600
CHAT, OTHER = "telegram:-100", "slack:C9"
TOPICS = [Topic(name="dprk-troops", expression="朝鲜 + 派兵"),
          Topic(name="korea-arms", expression="韩国 + 武器")]
BIG_STORY = "韩国指朝鲜派兵增援俄侵乌战争 北约回应"  # seeds 001 (DW), 002 (VOA), 003


@pytest.fixture
async def world(store: Store) -> tuple[StoryActions, ChatDirectory, str]:
    """The seeds placed and matched; CHAT follows dprk-troops and has a rule of its own;
    returns the actions, the chats and the big story's id."""
    chats = ChatDirectory(store)
    rules = RuleBook(TOPICS, chats)
    await chats.subscribe(CHAT, "dprk-troops")
    await chats.add_rule(CHAT, "北约 + 朝鲜")
    pipeline = Pipeline(store, index=StoryIndex(store, window_seconds=WINDOW,
                                                seen_seconds=WINDOW),
                        rules=rules, outbox=Outbox(store),
                        archive=Archive(store, ttl=WINDOW), clock=lambda: NOW)
    articles, errors = read_seed_folder(SEEDS)
    assert not errors
    outcomes = await pipeline.process_many(articles)
    [big] = {o.assignment.story.id for o in outcomes
             if o.assignment and o.assignment.story.headline == BIG_STORY}
    return StoryActions(store, chats, rules, clock=lambda: NOW), chats, big


def test_button_data_round_trips_and_fits_telegram() -> None:
    """`nb:<action>:<story>` within 64 bytes; anything else is not ours."""
    data = action_data("why", "20241021-f3e0b601709b")
    assert data == "nb:why:20241021-f3e0b601709b" and len(data.encode()) <= 64
    assert parse_action(data) == ("why", "20241021-f3e0b601709b")
    for other in ("nb:drop:x", "xx:why:x", "nb:why:", "why", ""):
        assert parse_action(other) is None
    with pytest.raises(ValueError):
        action_data("drop", "x")


async def test_why_lists_this_chats_rules_and_topics_with_their_terms(
        world: tuple[StoryActions, ChatDirectory, str]) -> None:
    """"Why" names the chat's own rule and its topic that the story matched, with the terms,
    and nothing of other chats."""
    actions, _, big = world
    reply = await actions.handle(chat=CHAT, data=action_data("why", big), can_manage=False)
    assert reply.ok and not reply.notice
    lines = reply.text.split("\n")
    assert lines[0] == f"Why “{BIG_STORY}” was sent here:"
    assert any(line.startswith("• rule dprk-troops: 朝鲜 + 派兵 — matched ") and "派兵" in line
               for line in lines)
    assert any(line.startswith("• rule #1: 北约 + 朝鲜 — matched ") for line in lines)
    other = await actions.handle(chat=OTHER, data=action_data("why", big), can_manage=True)
    assert other.text.split("\n")[1] == i18n.text("en", "action.why_none")


async def test_more_lists_the_outlets_and_reports_in_the_chats_zone_and_language(
        world: tuple[StoryActions, ChatDirectory, str]) -> None:
    """"More" lists each report: outlet, local time, title, link; in Chinese after /lang zh."""
    actions, chats, big = world
    reply = await actions.handle(chat=CHAT, data=action_data("more", big), can_manage=False)
    lines = reply.text.split("\n")
    assert lines[0] == f"“{BIG_STORY}”: 3 outlets"
    assert lines[1].startswith("• DW, 2024-10-21 11:47 UTC: 韩国指朝鲜派兵增援俄侵乌战争")
    assert "https://www.dw.com/" in lines[1] and len(lines) == 4
    await chats.set_language(CHAT, "zh")
    await chats.set_timezone(CHAT, "Asia/Shanghai")
    zh = await actions.handle(chat=CHAT, data=action_data("more", big), can_manage=False)
    assert zh.text.split("\n")[0] == f"“{BIG_STORY}”：3 家媒体"
    assert zh.text.split("\n")[1].startswith("• DW，2024-10-21 19:47 CST：")


async def test_mute_needs_the_right_to_manage_and_is_remembered(
        world: tuple[StoryActions, ChatDirectory, str]) -> None:
    """A member may not mute the chat's updates; a manager may, once; the store says so."""
    actions, chats, big = world
    refused = await actions.handle(chat=CHAT, data=action_data("mute", big), can_manage=False)
    assert not refused.ok and refused.text == i18n.text("en", "refused.manage")
    assert await chats.muted_stories(CHAT, [big]) == set()
    done = await actions.handle(chat=CHAT, data=action_data("mute", big), can_manage=True)
    assert done.ok and done.notice
    assert done.text == f"No more updates of “{BIG_STORY}” in this chat."
    again = await actions.handle(chat=CHAT, data=action_data("mute", big), can_manage=True)
    assert again.text == f"Updates of “{BIG_STORY}” were already muted in this chat."
    assert await chats.muted_stories(CHAT, [big, "other"]) == {big}
    assert await chats.muted_stories(OTHER, [big]) == set()


async def test_a_story_that_aged_out_is_refused_politely(
        world: tuple[StoryActions, ChatDirectory, str]) -> None:
    """A press on an alert whose story is no longer stored says so; so does foreign data."""
    actions, _, _ = world
    gone = await actions.handle(chat=CHAT, data=action_data("why", "20200101-000000000000"),
                                can_manage=True)
    assert not gone.ok and gone.text == i18n.text("en", "action.gone")
    foreign = await actions.handle(chat=CHAT, data="game:42", can_manage=True)
    assert not foreign.ok and foreign.text == i18n.text("en", "action.unknown")
