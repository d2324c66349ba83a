"""The command menu Telegram shows (setMyCommands), in English and in Chinese."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Bot, BotCommand
from telegram.error import TelegramError

log = logging.getLogger(__package__)

COMMAND_MENU: tuple[tuple[str, str, str], ...] = (
    ("start", "What this bot does", "机器人简介"),
    ("help", "Commands and how to use them", "命令列表与用法"),
    ("rule", "Add, list, delete or test a rule: /rule add 朝鲜 + 派兵",
     "添加、查看、删除或测试规则：/rule add 朝鲜 + 派兵"),
    ("rules", "This chat's rules", "本聊天的规则"),
    ("topics", "Shared topics", "公共话题"),
    ("subscribe", "Follow a shared topic: /subscribe <topic>", "订阅公共话题：/subscribe <话题>"),
    ("unsubscribe", "Stop following a topic", "取消订阅话题"),
    ("digest", "Daily digest: /digest at 07:30 Asia/Shanghai, off, now",
     "每日摘要：/digest at 07:30 Asia/Shanghai、off、now"),
    ("mute", "Pause alerts: /mute 2h", "暂停提醒：/mute 2h"),
    ("unmute", "Resume alerts", "恢复提醒"),
    ("quiet", "Quiet hours: /quiet 23:00-07:00, off", "免打扰时段：/quiet 23:00-07:00、off"),
    ("tz", "Time zone for alert times: /tz Asia/Taipei", "提醒时间的时区：/tz Asia/Taipei"),
    ("feeds", "The feeds polled (bot admins)", "新闻源（仅机器人管理员）"),
    ("status", "Feed health and this chat's settings", "新闻源状态与本聊天的设置"),
    ("lang", "Reply language: /lang en or /lang zh", "回复语言：/lang en 或 /lang zh"),
    ("whoami", "Your user id, for NEWSBOT_ADMINS", "你的用户 ID（用于 NEWSBOT_ADMINS）"),
)
COMMANDS = tuple(name for name, _, _ in COMMAND_MENU)


async def register_menu(bot: Bot, *, scrub: Callable[[str], str]) -> None:
    """setMyCommands in English for everyone and in Chinese for `zh` users; a failure is
    logged (with `scrub` applied) and the commands still work without the menu."""
    english = [BotCommand(name, en) for name, en, _ in COMMAND_MENU]
    chinese = [BotCommand(name, zh) for name, _, zh in COMMAND_MENU]
    try:
        await bot.set_my_commands(english)
        await bot.set_my_commands(chinese, language_code="zh")
    except TelegramError as exc:
        log.warning("telegram: unable to set the command menu", extra={"kv": {
            "error": scrub(exc.message)}})
