"""The Slack Home tab (App Home): the channels a user is in that newsbot alerts, with their
rules, topics, digest, mute and pause, published when the user opens the tab."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from bot import i18n
from bot.chats import ChatDirectory
from bot.commands import CommandInterpreter
from bot.platforms.layout import clip
from bot.platforms.slack.channel import CHANNEL_ID, SlackChannel, api_error
from bot.platforms.slack.render import (
    SECTION_LIMIT,
    Block,
    clip_lines,
    context,
    escape_mrkdwn,
    section,
)
from bot.routing import RuleBook

log = logging.getLogger(__package__)

# The Home tab (App Home): a header, a line on what it shows, then one section per channel.
HOME_MAX_BLOCKS = 100  # Slack's cap for a Home tab view
HOME_CHANNELS = HOME_MAX_BLOCKS - 4  # header, intro, divider, and "… more channels"
HOME_PAGES = 10  # pages of users.conversations read (200 channels each)
_HOME_TEXT = {  # the Home tab's own words, in the user's /lang (set in the app's DM)
    "en": {"title": "newsbot: your channels",
           "intro": "Channels you are in that newsbot alerts (rules, topics or a digest), as "
                    "of {time}. Change them with /newsbot in the channel.",
           "none": "None of the channels you are in has newsbot rules or topics yet. In a "
                   "channel, invite the app (/invite @newsbot) and type /newsbot help.",
           "failed": "newsbot could not list your channels ({error}); try again later.",
           "more": "… and {count} more channels.",
           "paused": "Paused: {reason}, since {since}"},
    "zh": {"title": "newsbot：你的频道",
           "intro": "你所在且由 newsbot 推送的频道（规则、话题或摘要），截至 {time}。"
                    "请在频道中用 /newsbot 修改。",
           "none": "你所在的频道都还没有 newsbot 规则或话题。请在频道中邀请本应用"
                   "（/invite @newsbot），再输入 /newsbot help。",
           "failed": "newsbot 无法列出你的频道（{error}），请稍后再试。",
           "more": "……另有 {count} 个频道。",
           "paused": "已暂停：{reason}，自 {since}"},
}


async def known_channels(chats: ChatDirectory, rules: RuleBook) -> set[str]:
    """The Slack chats (`slack:<channel id>`) newsbot alerts: those with rules of their own,
    following a topic, with a daily digest, or paused; from the store, read-only."""
    known = {rule.chat for rule in await chats.all_rules() if rule.chat}
    for topic in rules.topics:
        known |= await chats.subscribers(topic)
    known |= await chats.digest_chats()
    known |= set(await chats.paused_chats())
    return {chat for chat in known
            if chat.startswith("slack:") and CHANNEL_ID.fullmatch(chat.partition(":")[2])}


async def channel_summary(chats: ChatDirectory, chat: str, *, lang: str,
                          now: datetime) -> list[str]:
    """One channel's lines for the Home tab, plain text: rules, topics, digest, mute, pause."""
    none, off = i18n.text(lang, "word.none"), i18n.text(lang, "word.off")
    rules = await chats.rules_of(chat)
    topics = sorted(await chats.topics_of(chat))
    digest = await chats.digest_of(chat)
    muted = await chats.muted_until(chat, now=now)
    paused = await chats.paused(chat)
    lines = [
        i18n.text(lang, "status.rules", rules="; ".join(
            f"#{r.id.rpartition(':')[2]} {r.expression}" for r in rules) or none),
        i18n.text(lang, "status.topics", topics=", ".join(topics) or none),
        i18n.text(lang, "status.digest", digest=" ".join(digest) if digest else off),
        i18n.text(lang, "status.mute", mute=i18n.text(lang, "status.until", until=_when(muted))
                  if muted else off)]
    if paused is not None:
        lines.append(_HOME_TEXT[lang]["paused"].format(
            reason=i18n.paused_reason(lang, paused.reason), since=_when(paused.at)))
    return lines


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_home(channels: Mapping[str, Sequence[str]], *, lang: str, now: datetime,
                error: str | None = None) -> Block:
    """The Home tab view: a header, what it shows, then one section per channel (a channel
    mention, then its lines escaped); within Slack's 100 blocks and 3,000 characters a
    section. `error` (listing the user's channels failed) replaces the channels."""
    words = _HOME_TEXT.get(lang, _HOME_TEXT[i18n.DEFAULT_LANGUAGE])
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": words["title"]}},
        context(escape_mrkdwn(words["intro"].format(time=_when(now)))),
        {"type": "divider"}]
    if error is not None:
        blocks.append(section(escape_mrkdwn(words["failed"].format(error=error))))
    elif not channels:
        blocks.append(section(escape_mrkdwn(words["none"])))
    for chat in sorted(channels)[:HOME_CHANNELS]:
        lines = [f"*<#{chat.partition(':')[2]}>*",
                 *(escape_mrkdwn(clip(line, SECTION_LIMIT)) for line in channels[chat])]
        blocks.append(section(clip_lines(lines, SECTION_LIMIT)))
    if len(channels) > HOME_CHANNELS:
        blocks.append(context(escape_mrkdwn(words["more"].format(
            count=len(channels) - HOME_CHANNELS))))
    return {"type": "home", "blocks": blocks}



async def publish_home(channel: SlackChannel, commands: CommandInterpreter, user: str) -> None:
    """Publish `user`'s Home tab (views.publish): each channel that user is a member of
    (users.conversations; private ones only where the app is a member too) and that
    newsbot alerts (`known_channels`), with its rules, topics, digest, mute and pause.
    Channels the user is not in are left out: their rules are theirs. Failures are logged."""
    chats = commands.chats
    if not CHANNEL_ID.fullmatch(user):  # user ids look like channel ids: U0123ABCD
        log.debug("slack: app_home_opened without a user id")
        return
    try:
        lang = await chats.language(f"slack:{user}") or i18n.DEFAULT_LANGUAGE
        lang = lang if lang in _HOME_TEXT else i18n.DEFAULT_LANGUAGE
        now = commands.clock()
        known = await known_channels(chats, commands.rules)
        shown: dict[str, list[str]] = {}
        error = None
        try:
            member = await _channels_of(channel, user)
        except SlackApiError as exc:
            error = api_error(exc) or f"HTTP {exc.response.status_code}"
            member = set()
        for chat in sorted(known):
            if chat.partition(":")[2] in member:
                shown[chat] = await channel_summary(chats, chat, lang=lang, now=now)
        await channel.client.views_publish(user_id=user, view=render_home(
            shown, lang=lang, now=now, error=error))
    except Exception as exc:
        log.warning("slack: unable to publish the Home tab", extra={"kv": {
            "user": user, "error": channel._scrub(str(exc) or type(exc).__name__)}})


async def _channels_of(channel: SlackChannel, user: str) -> set[str]:
    """The ids of the channels `user` is a member of, as the app may see them."""
    found: set[str] = set()
    cursor = ""
    for _ in range(HOME_PAGES):
        reply = await channel.client.users_conversations(
            user=user, types="public_channel,private_channel", limit=200,
            cursor=cursor or None)
        found |= {str(c.get("id")) for c in reply.get("channels") or ()}
        cursor = str((reply.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            break
    return found
