"""The wired application in-process: platforms start when their tokens are set.

Each test takes the `store` fixture so that its keys are removed afterwards.
"""

from __future__ import annotations

from pathlib import Path

from bot.app import CONSOLE_CHAT, App
from bot.config import Settings
from bot.store import Store
from tests.conftest import REPO
from tests.slack_server import SlackServer
from tests.telegram_server import BotApiServer


def _settings(tmp_path: Path, redis_url: str, key_prefix: str, **extra: object) -> Settings:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {REPO / 'seeds'}\n")
    return Settings(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=key_prefix,  # type: ignore[call-arg]
                    NEWSBOT_FEEDS=feeds, NEWSBOT_RULES_DIR=REPO / "rules",
                    NEWSBOT_DATA_DIR=tmp_path / "data", **extra)


async def test_telegram_starts_with_its_token_and_receives_alerts(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """With TELEGRAM_BOT_TOKEN set the bot checks it (getMe) and alerts subscribed chats."""
    async with BotApiServer() as api:
        settings = _settings(tmp_path, redis_url, key_prefix, TELEGRAM_BOT_TOKEN=api.token,
                             TELEGRAM_API_URL=api.root)
        async with App(settings) as app:
            assert "telegram" in app.channels and len(api.calls_of("getMe")) == 1
            assert await app.chats.topics_of(CONSOLE_CHAT) == set()  # a platform is configured
            await app.chats.subscribe("telegram:1001", "dprk-troops")
            assert await app.run_once() == 2
        sent = api.calls_of("sendMessage")
        assert len(sent) == 2 and {int(c["chat_id"]) for c in sent} == {1001}
        assert any("3 outlets" in c["text"] for c in sent)


async def test_console_follows_topics_without_platforms(tmp_path: Path, redis_url: str,
                                                         key_prefix: str, store: Store) -> None:
    """With no platform token the console chat is subscribed to every shipped topic."""
    async with App(_settings(tmp_path, redis_url, key_prefix)) as app:
        assert set(app.channels) == {"console"}
        assert await app.chats.topics_of(CONSOLE_CHAT) == {t.name for t in app.topics}


async def test_the_app_hands_one_clock_metrics_catalog_and_stop_event_to_every_part(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """App is the one place that wires: the parts that read the time, count, parse rules or
    wait for a platform's slot get the App's own clock, counters, entity catalog and stop
    event, none a default of its own."""
    async with App(_settings(tmp_path, redis_url, key_prefix)) as app:
        assert app.pipeline.clock is app.clock
        assert app.digests.clock is app.clock
        assert app.commands.clock is app.clock
        assert app.deliverer.clock is app.clock
        assert app.pipeline.metrics is app.metrics
        assert app.deliverer.metrics is app.metrics
        assert app.monitor.metrics is app.metrics
        assert app.rules.entities is app.entities
        assert app.pacer.stop is app.stop and app.digests.pacer is app.pacer


async def test_slack_starts_with_its_token_and_receives_alerts(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """With SLACK_BOT_TOKEN set the bot checks it (auth.test) and alerts subscribed channels."""
    async with SlackServer(channels=["C0123"]) as api:
        settings = _settings(tmp_path, redis_url, key_prefix, SLACK_BOT_TOKEN=api.token,
                             SLACK_API_URL=api.api_url)
        async with App(settings) as app:
            assert "slack" in app.channels and len(api.calls_to("auth.test")) == 1
            await app.chats.subscribe("slack:C0123", "dprk-troops")
            assert await app.run_once() == 2
        posts = api.calls_to("chat.postMessage")
        assert len(posts) == 2 and {p.params["channel"] for p in posts} == {"C0123"}


async def test_service_takes_a_telegram_command_then_alerts_once(
        tmp_path: Path, redis_url: str, key_prefix: str, store: Store) -> None:
    """`/rule add 朝鲜 + 派兵` sent to the running bot leads to two alerts; a restart sends none."""
    import asyncio

    from bot.scheduler import serve

    (tmp_path / "empty").mkdir()
    async with BotApiServer() as api:
        settings = _settings(tmp_path, redis_url, key_prefix, TELEGRAM_BOT_TOKEN=api.token,
                             TELEGRAM_API_URL=api.root, NEWSBOT_HTTP_PORT=0)
        quiet = settings.model_copy(update={"feeds_file": tmp_path / "quiet.yaml"})
        quiet.feeds_file.write_text(f"feeds:\n  - path: {tmp_path / 'empty'}\n")
        api.queue_command("/rule add 朝鲜 + 派兵", chat_id=555)
        async with App(quiet) as app:  # the service answers the command over long polling
            stop = asyncio.Event()
            task = asyncio.create_task(serve(app, stop=stop))
            replies = await asyncio.wait_for(api.wait_for_calls("sendMessage", 1, chat_id=555),
                                             60)
            assert "#1" in replies[0]["text"]
            stop.set()
            await asyncio.wait_for(task, 60)
        async with App(settings) as app:  # the seeds arrive: one alert per story
            assert await app.run_once() == 2
        async with App(settings) as again:  # a restart: nothing new, nothing repeated
            assert await again.run_once() == 0
        alerts = [p for p in api.calls_of("sendMessage") if "outlet" in p["text"]]
        assert len(alerts) == 2 and sum("3 outlets" in p["text"] for p in alerts) == 1
