"""Chats that go away (issue 15), on Telegram: the real python-telegram-bot client against the
loopback Bot API server, the real outbox on the real store. A 403 (blocked, kicked, not a
member) pauses the chat: no retries, no dead letter, its alerts held, the admins told once;
`my_chat_member` (the bot is back) resumes it and the held alerts arrive as one batch; a group
upgraded to a supergroup takes its rules, topics, digest and alerts to the new id. Slack is in
tests/test_chat_lifecycle_slack.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from telegram.error import ChatMigrated, Forbidden

from bot.alerts import AlertComposer
from bot.app import App
from bot.archive import Archive
from bot.chats import ChatDirectory, ChatGoneError, ChatMovedError
from bot.commands import CommandInterpreter
from bot.config import Settings
from bot.digest import Digests
from bot.models import Alert, Delivery, Story
from bot.monitor import Monitor
from bot.outbox import Deliverer, Outbox
from bot.pacing import Pacer
from bot.platforms.telegram import FloodControl, FloodLimits, TelegramChannel, TelegramFrontEnd
from bot.routing import RuleBook
from bot.rules.topics import load_topics
from bot.store import Store, done
from tests.conftest import REPO, SEEDS
from tests.stories import headline, numbered_story, put_matched
from tests.telegram_server import KICKED, BotApiServer
from tests.waiting import until

NOW = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=1)
RULE = "topic:dprk-troops"
ADMIN = 7
USER = 1001
GROUP = -555
SUPERGROUP = -1005550000001
TOPIC = "dprk-troops"


_headline = headline
_story = partial(numbered_story, at=T0)


@dataclass
class Bot:
    """The delivery side wired as bot/app.py wires it, over the loopback Bot API."""

    api: BotApiServer
    store: Store
    chats: ChatDirectory
    outbox: Outbox
    deliverer: Deliverer
    digests: Digests
    channel: TelegramChannel
    interpreter: CommandInterpreter

    async def alert(self, chat: int | str, story: Story) -> None:
        """Store `story` (matched by RULE) and queue its alert for `telegram:<chat>`."""
        await put_matched(self.store, story, RULE, ["朝鲜", "派兵"])
        await self.outbox.put(Delivery(chat=f"telegram:{chat}", story_id=story.id,
                                       rule_ids=(RULE,)))

    def texts(self, chat: int | str) -> list[str]:
        """What the chat shows now: the plain text of every message the bot posted there."""
        return [m["text"] for m in self.api.messages(chat)]

    def attempts(self, chat: int | str) -> list[int]:
        """HTTP status of every sendMessage and editMessageText aimed at `chat`."""
        return [c.status for c in self.api.calls
                if c.method in ("sendMessage", "editMessageText")
                and c.params.get("chat_id") == chat]

    async def dead_letters(self) -> int:
        return int(await done(self.store.redis.llen(self.outbox.dead)))

    async def gauge(self) -> str:
        """The `newsbot_chats_paused` line of /metrics."""
        text = (await Monitor(self.store, outbox=self.outbox, chats=self.chats).exposition()
                ).decode()
        return next(line for line in text.splitlines()
                    if line.startswith("newsbot_chats_paused "))


@pytest.fixture
async def bot(store: Store) -> AsyncIterator[Bot]:
    async with BotApiServer() as api:
        api.add_chat(GROUP, chat_type="group", title="Analysts")
        flood = FloodControl(FloodLimits(chat_interval=0.01, group_rate=0))
        async with TelegramChannel(token=api.token, api_url=api.root, flood=flood) as channel:
            chats = ChatDirectory(store)
            archive = Archive(store, ttl=4 * 86_400)
            composer = AlertComposer(chats=chats, archive=archive)
            rules = RuleBook(load_topics(REPO / "rules"), chats)
            outbox = Outbox(store)
            await outbox.ensure_group()
            deliverer = Deliverer(store, outbox, {"telegram": channel}, composer=composer,
                                  paces={}, gather=0, admins=(f"telegram:{ADMIN}",),
                                  clock=lambda: NOW)
            digests = Digests(store, chats=chats, rules=rules, archive=archive,
                              composer=composer, pacer=Pacer(store, {}), clock=lambda: NOW)
            interpreter = CommandInterpreter(store, chats=chats, rules=rules, archive=archive,
                                             admins=(f"telegram:{ADMIN}",), digests=digests)
            yield Bot(api, store, chats, outbox, deliverer, digests, channel, interpreter)


async def _pause_by_a_block(bot: Bot, chat_id: int | str = USER, description: str | None = None
                            ) -> None:
    if description is None:
        bot.api.block_chat(chat_id)
    else:
        bot.api.block_chat(chat_id, description)
    await bot.alert(chat_id, _story(1))
    assert await bot.deliverer.drain() == 0


# --- 403: paused, held, admins told once ---------------------------------------------------------


async def test_a_blocked_chat_is_paused_once_with_no_retry_no_dead_letter_and_one_admin_notice(
        bot: Bot) -> None:
    """The user blocked the bot: the alert is tried once, the chat is paused with the reason
    and time, the admin gets one message saying so; later alerts are held, not tried."""
    chat = f"telegram:{USER}"
    await _pause_by_a_block(bot)
    assert bot.attempts(USER) == [403]
    assert await bot.dead_letters() == 0 and await bot.outbox.depth() == 0
    paused = await bot.chats.paused(chat)
    assert paused is not None and paused.reason == "blocked" and paused.at == NOW
    assert "bot was blocked by the user" in paused.error
    (notice,) = bot.texts(ADMIN)
    assert notice.startswith(f"[CHAT PAUSED] newsbot can no longer post to {chat}: "
                             "the user blocked the bot")
    assert "/invite" in notice and "unblock" in notice

    await bot.alert(USER, _story(2))
    await bot.alert(USER, _story(3))
    await bot.alert(USER, _story(4))  # three at once would be combined: still held
    await bot.deliverer.drain()
    assert bot.attempts(USER) == [403]  # nothing tried again
    assert len(bot.texts(ADMIN)) == 1  # told once per pause
    assert await bot.chats.held(chat) == ["s1", "s2", "s3", "s4"]
    assert await bot.dead_letters() == 0 and await bot.outbox.depth() == 0
    assert await bot.gauge() == "newsbot_chats_paused 1.0"
    assert set(await bot.chats.paused_chats()) == {chat}


@pytest.mark.parametrize(("chat_id", "description", "reason", "said"), [
    (GROUP, KICKED, "kicked", "机器人被移出了该聊天"),
    ("@wire_news", "Forbidden: bot is not a member of the channel chat", "not_member",
     "机器人不是该聊天的成员"),
    (USER, "Forbidden: user is deactivated", "deactivated", "该用户的账号已注销"),
])
async def test_every_403_pauses_and_the_notice_is_in_the_admins_language(
        bot: Bot, chat_id: int | str, description: str, reason: str, said: str) -> None:
    """Kicked from a group, not a member of a channel, a deleted account: each pauses the chat;
    an admin who chose `/lang zh` is told in Chinese."""
    await bot.chats.set_language(f"telegram:{ADMIN}", "zh")
    await _pause_by_a_block(bot, chat_id, description)
    paused = await bot.chats.paused(f"telegram:{chat_id}")
    assert paused is not None and paused.reason == reason and description in paused.error
    (notice,) = bot.texts(ADMIN)
    assert notice.startswith(f"[聊天已暂停] newsbot 无法再向 telegram:{chat_id} 发送提醒：{said}")
    assert await bot.dead_letters() == 0


async def test_the_channel_raises_its_own_errors_from_ptbs_forbidden_and_chatmigrated(
        bot: Bot) -> None:
    """What the outbox sees: ChatGoneError from PTB's Forbidden, ChatMovedError (the new id)
    from PTB's ChatMigrated, both as the real client raised them."""
    alert = Alert(chat=f"telegram:{USER}", story=_story(1))
    bot.api.block_chat(USER)
    with pytest.raises(ChatGoneError) as gone:
        await bot.channel.send(alert)
    assert isinstance(gone.value.__cause__, Forbidden) and gone.value.reason == "blocked"
    bot.api.migrate_chat(GROUP, SUPERGROUP)
    with pytest.raises(ChatMovedError) as moved:
        await bot.channel.send(Alert(chat=f"telegram:{GROUP}", story=_story(1)))
    assert isinstance(moved.value.__cause__, ChatMigrated)
    assert moved.value.new_chat == f"telegram:{SUPERGROUP}"


async def test_an_admin_who_blocked_the_bot_is_not_told_about_their_own_chat(bot: Bot) -> None:
    """The admin's own private chat is the one paused: no notice is attempted to it."""
    await _pause_by_a_block(bot, ADMIN)
    assert bot.attempts(ADMIN) == [403]
    assert await bot.chats.is_paused(f"telegram:{ADMIN}")


# --- re-added: resumed, held alerts arrive -------------------------------------------------------


async def test_the_bot_back_in_the_chat_resumes_it_and_the_held_alerts_arrive_as_one_batch(
        bot: Bot) -> None:
    """my_chat_member with status member (unblocked) resumes the chat; `kicked` does not; the
    held alerts then arrive as one message and new alerts are sent again."""
    chat = f"telegram:{USER}"
    await _pause_by_a_block(bot)
    await bot.alert(USER, _story(2))
    await bot.deliverer.drain()
    async with TelegramFrontEnd(bot.channel, bot.interpreter, poll_timeout=1.0):
        bot.api.queue_update(bot.api.member_update(USER, old_status="member",
                                                   new_status="kicked", user_id=USER))
        bot.api.queue_command("/help", chat_id=ADMIN, user_id=ADMIN)
        async with asyncio.timeout(30):  # the admin's notice, then the reply to /help
            await bot.api.wait_for_calls("sendMessage", 2, chat_id=ADMIN)
        assert await bot.chats.is_paused(chat)  # blocked again: still paused

        bot.api.unblock_chat(USER)
        bot.api.queue_update(bot.api.member_update(USER, old_status="kicked",
                                                   new_status="member", user_id=USER))
        await until(lambda: _resumed(bot, chat), "the chat resumed", deadline=30)
    assert "my_chat_member" in bot.api.calls_of("getUpdates")[0]["allowed_updates"]
    assert await bot.gauge() == "newsbot_chats_paused 0.0"
    assert bot.texts(USER) == []  # nothing yet: the held alerts go out with the next tick
    assert await bot.digests.release({"telegram": bot.channel}, now=NOW) == 1
    (batch,) = bot.texts(USER)
    assert _headline(1) in batch and _headline(2) in batch
    assert await bot.chats.held(chat) == []

    await bot.alert(USER, _story(3))
    assert await bot.deliverer.drain() == 1
    assert bot.texts(USER)[-1].startswith(_headline(3))


async def _resumed(bot: Bot, chat: str) -> bool:
    return not await bot.chats.is_paused(chat)


async def test_a_group_re_adding_the_bot_as_administrator_resumes_it(bot: Bot) -> None:
    """Kicked from a group, then added back as administrator: resumed; a paused group misses
    no digest attempt while paused (none is tried)."""
    chat = f"telegram:{GROUP}"
    await bot.chats.set_digest(chat, at="07:30", timezone="UTC", now=NOW - timedelta(days=1))
    await _pause_by_a_block(bot, GROUP, KICKED)
    assert await bot.chats.digest_chats() == set()  # no digest tried while paused
    assert await bot.digests.tick({"telegram": bot.channel}, now=NOW) == 0
    assert bot.attempts(GROUP) == [403]
    bot.api.unblock_chat(GROUP)
    async with TelegramFrontEnd(bot.channel, bot.interpreter, poll_timeout=1.0):
        bot.api.queue_update(bot.api.member_update(GROUP, new_status="administrator"))
        await until(lambda: _resumed(bot, chat), "the group resumed", deadline=30)
    assert await bot.chats.digest_chats() == {chat}
    assert await bot.digests.release({"telegram": bot.channel}, now=NOW) == 1
    assert _headline(1) in bot.texts(GROUP)[0]


async def test_restricted_without_the_right_to_post_keeps_the_chat_paused(bot: Bot) -> None:
    """The bot lost the right to post in a group (400 not enough rights): paused; restricted
    again without that right it stays paused; administrator again resumes it."""
    chat = f"telegram:{GROUP}"
    bot.api.add_chat(GROUP, chat_type="supergroup", title="Analysts")
    await _pause_by_a_block(bot, GROUP, "Bad Request: not enough rights to send text messages "
                                        "to the chat")
    paused = await bot.chats.paused(chat)
    assert paused is not None and paused.reason == "no_rights"
    async with TelegramFrontEnd(bot.channel, bot.interpreter, poll_timeout=1.0):
        bot.api.queue_update(bot.api.member_update(GROUP, old_status="member",
                                                   new_status="restricted"))
        bot.api.queue_command("/help", chat_id=ADMIN, user_id=ADMIN)
        async with asyncio.timeout(30):  # the admin's notice, then the reply to /help
            await bot.api.wait_for_calls("sendMessage", 2, chat_id=ADMIN)
        assert await bot.chats.is_paused(chat)
        bot.api.queue_update(bot.api.member_update(GROUP, old_status="restricted",
                                                   new_status="administrator"))
        await until(lambda: _resumed(bot, chat), "the group resumed", deadline=30)


# --- a group upgraded to a supergroup ------------------------------------------------------------


async def test_a_migrated_group_takes_rules_topics_digest_and_alerts_to_its_new_id(
        bot: Bot) -> None:
    """Telegram answers 400 with migrate_to_chat_id: the chat's records move to the new id,
    the new alert is delivered there, an update of an alert sent before edits it in the old
    group's history, and entries still queued for the old id follow."""
    old, new = f"telegram:{GROUP}", f"telegram:{SUPERGROUP}"
    await bot.chats.add_rule(old, "朝鲜 + 派兵")
    await bot.chats.add_rule(old, "俄罗斯")
    await bot.chats.subscribe(old, TOPIC)
    await bot.chats.set_digest(old, at="07:30", timezone="Asia/Shanghai", now=NOW)
    await bot.chats.set_language(old, "zh")
    await bot.alert(GROUP, _story(1))
    assert await bot.deliverer.drain() == 1

    bot.api.migrate_chat(GROUP, SUPERGROUP)
    await bot.alert(GROUP, _story(2))
    await bot.alert(GROUP, _story(1, outlets=("DW", "VOA")))  # the story grows: an edit
    await bot.deliverer.drain()

    assert bot.attempts(GROUP) == [200, 400, 200]  # sent, refused (migrated), edited
    (first,) = bot.texts(GROUP)
    assert _headline(1) in first and "VOA" in first  # edited where it is
    (second,) = bot.texts(SUPERGROUP)
    assert _headline(2) in second
    assert [r.expression for r in await bot.chats.rules_of(new)] == ["朝鲜 + 派兵", "俄罗斯"]
    assert [r.id for r in await bot.chats.rules_of(new)] == [f"chat:{new}:1", f"chat:{new}:2"]
    assert await bot.chats.rules_of(old) == []
    assert await bot.chats.topics_of(new) == {TOPIC} and await bot.chats.topics_of(old) == set()
    assert await bot.chats.subscribers(TOPIC) == {new}
    assert await bot.chats.digest_of(new) == ("07:30", "Asia/Shanghai")
    assert await bot.chats.digest_chats() == {new}
    assert await bot.chats.language(new) == "zh"
    assert await bot.chats.moved_to(old) == new
    assert not await bot.chats.is_paused(old) and not await bot.chats.is_paused(new)
    assert await bot.dead_letters() == 0 and await bot.outbox.depth() == 0
    assert bot.texts(ADMIN) == []  # a migration is not a pause

    await bot.alert(GROUP, _story(3))  # routed to the old id before the move was seen
    assert await bot.deliverer.drain() == 1
    assert _headline(3) in bot.texts(SUPERGROUP)[-1]
    assert len(bot.texts(GROUP)) == 1


async def test_the_migration_service_message_moves_the_chat_before_any_alert(bot: Bot) -> None:
    """The `migrate_to_chat_id` service message seen by the front end moves the records at
    once; the next alert goes straight to the supergroup."""
    old, new = f"telegram:{GROUP}", f"telegram:{SUPERGROUP}"
    await bot.chats.add_rule(old, "朝鲜 + 派兵")
    async with TelegramFrontEnd(bot.channel, bot.interpreter, poll_timeout=1.0):
        bot.api.queue_update(bot.api.migration_update(GROUP, SUPERGROUP))
        await until(lambda: bot.chats.moved_to(old), "the chat moved", deadline=30)
    assert [r.expression for r in await bot.chats.rules_of(new)] == ["朝鲜 + 派兵"]
    await bot.alert(GROUP, _story(1))
    assert await bot.deliverer.drain() == 1
    assert bot.attempts(GROUP) == [] and len(bot.texts(SUPERGROUP)) == 1


# --- the service and the CLI ---------------------------------------------------------------------


def _newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


async def test_the_running_bot_pauses_a_blocked_chat_and_newsbot_outbox_lists_it(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """`run --once` wired by bot/app.py on the seeds: the blocked chat's alert is refused once,
    makes no dead letter, and `newsbot outbox` (text and JSON) lists the chat as paused."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {SEEDS}\n")
    async with BotApiServer() as api:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_"))}
        env |= {"REDIS_URL": redis_url, "NEWSBOT_KEY_PREFIX": key_prefix,
                "NEWSBOT_FEEDS": str(feeds), "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
                "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root}
        settings = Settings(**{k: v for k, v in env.items()  # type: ignore[arg-type]
                               if k.startswith(("NEWSBOT_", "TELEGRAM_", "REDIS_"))})
        api.block_chat(USER)
        async with App(settings) as app:
            await app.chats.subscribe(f"telegram:{USER}", TOPIC)
            assert await app.run_once() == 0
            assert await done(store.redis.llen(app.outbox.dead)) == 0
        assert [c.status for c in api.calls if c.method == "sendMessage"] == [403]

        shown = _newsbot("outbox", env=env)
        assert shown.returncode == 0, shown.stderr
        assert "dead letters: 0" in shown.stdout and "paused chats: 1" in shown.stdout
        assert f"telegram:{USER}  blocked since " in shown.stdout
        listed = _newsbot("outbox", "--json", env=env)
        (paused,) = json.loads(listed.stdout)["paused"]
        assert paused["chat"] == f"telegram:{USER}" and paused["reason"] == "blocked"
        assert "blocked by the user" in paused["error"]
