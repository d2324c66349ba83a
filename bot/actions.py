"""What the buttons under an alert do, on every platform: mute this story's updates in this
chat, say why it matched, list more of the story (its outlets and reports).

A button carries `nb:<action>:<story id>` (Telegram's callback_data allows 64 bytes; Slack's
action value more). `StoryActions.handle` answers a press with an `ActionReply` the front end
shows: a short notice (Telegram answerCallbackQuery, Slack an ephemeral message) or, for
"why" and "more", a message in the chat. A story that aged out of the store is refused
politely; muting needs the right to manage the chat, as `/mute` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot import i18n
from bot.alerts import local_time
from bot.chats import ChatDirectory
from bot.routing import RuleBook
from bot.store import Store

PREFIX = "nb"
ACTIONS = ("mute", "why", "more")
MAX_DATA = 64  # bytes of Telegram's callback_data
MORE_REPORTS = 10  # reports listed by "more"


def action_data(action: str, story_id: str) -> str:
    """`nb:why:20241021-f3e0b601709b`: what a button carries."""
    data = f"{PREFIX}:{action}:{story_id}"
    if action not in ACTIONS or len(data.encode()) > MAX_DATA:
        raise ValueError(f"no button for {action!r} on story {story_id!r}")
    return data


def parse_action(data: str) -> tuple[str, str] | None:
    """(action, story id) of a button's data, or None if it is not one of ours."""
    prefix, _, rest = data.partition(":")
    action, _, story_id = rest.partition(":")
    if prefix != PREFIX or action not in ACTIONS or not story_id or len(story_id) > 48:
        return None
    return action, story_id


@dataclass(frozen=True, slots=True)
class ActionReply:
    """The answer to a press: `text`; `notice` when it is a short notice for the presser
    alone rather than a message in the chat; `ok` False for a refusal."""

    text: str
    notice: bool = True
    ok: bool = True


class StoryActions:
    """Answers button presses from the store (stories, the chat's rules and settings)."""

    def __init__(self, store: Store, chats: ChatDirectory, rules: RuleBook, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.chats = chats
        self.rules = rules
        self.clock = clock

    async def handle(self, *, chat: str, data: str, can_manage: bool) -> ActionReply:
        """The reply to pressing the button carrying `data` under an alert in `chat`."""
        lang = await self.chats.language(chat) or i18n.DEFAULT_LANGUAGE
        parsed = parse_action(data)
        if parsed is None:
            return ActionReply(i18n.text(lang, "action.unknown"), ok=False)
        action, story_id = parsed
        story = await self.store.get_story(story_id)
        if story is None:
            return ActionReply(i18n.text(lang, "action.gone"), ok=False)
        if action == "mute":
            if not can_manage:
                return ActionReply(i18n.text(lang, "refused.manage"), ok=False)
            first = await self.chats.mute_story(chat, story_id)
            key = "action.muted" if first else "action.muted_already"
            return ActionReply(i18n.text(lang, key, headline=story.headline))
        if action == "why":
            return ActionReply(await self._why(chat, lang, story.matched, story.headline),
                               notice=False)
        zone = await self.chats.timezone(chat)
        lines = [i18n.text(lang, "action.more", headline=story.headline,
                           count=len(story.outlets))]
        for article in story.articles[:MORE_REPORTS]:
            lines.append(i18n.text(lang, "action.more_item", outlet=article.outlet,
                                   time=local_time(article.time, zone), title=article.title,
                                   url=article.url or "—"))
        if len(story.articles) > MORE_REPORTS:
            lines.append(i18n.text(lang, "more", count=len(story.articles) - MORE_REPORTS))
        return ActionReply("\n".join(lines), notice=False)

    async def _why(self, chat: str, lang: str, matched: dict[str, tuple[str, ...]],
                   headline: str) -> str:
        """The chat's rules (its own and its topics') the story matched, with the terms."""
        await self.rules.current()
        topics = await self.chats.topics_of(chat)
        lines = [i18n.text(lang, "action.why", headline=headline)]
        for rule_id, terms in matched.items():
            rule = self.rules.rule(rule_id)
            if rule is None or not (rule.chat == chat or rule.topic in topics):
                continue
            name = f"#{rule_id.rpartition(':')[2]}" if rule.chat else rule.topic or rule_id
            lines.append(i18n.text(lang, "action.why_item", rule=name,
                                   expression=rule.expression, terms=", ".join(terms)))
        if len(lines) == 1:
            lines.append(i18n.text(lang, "action.why_none"))
        return "\n".join(lines)
