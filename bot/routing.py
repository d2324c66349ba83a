"""Who hears about a story: the active rules (shipped topics and every chat's rules), compiled
once and rebuilt on change, and the chats each rule's matches go to.

`bot.rules` only turns text into matches; this module ties those matches to chats (their
subscriptions and their own rules, kept by `bot.chats`): `RuleBook.route` gives each story one
delivery per chat that should hear about it now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from bot.chats import ChatDirectory
from bot.errors import RuleError
from bot.models import Delivery, Rule, Story, Topic
from bot.rules.engine import RuleSet
from bot.rules.entities import Entities, shipped_entities
from bot.rules.topics import topic_rule

log = logging.getLogger(__name__)


class RuleBook:
    """Keeps a compiled RuleSet in step with the topics and the stored chat rules.

    `current()` recompiles only when the chats' rules version moved or the topics were replaced
    (`set_topics`), and then only the expressions it has not compiled before: compiled rules are
    cached per expression and the automaton is reused while it holds every term needed.
    `entities` is the catalog rules are parsed against (the App's; the shipped one if None).
    """

    def __init__(self, topics: list[Topic], chats: ChatDirectory, *,
                 entities: Entities | None = None) -> None:
        self.topics = {t.name: t for t in topics}
        self.chats = chats
        self.entities = entities if entities is not None else shipped_entities()
        self._version = -1
        self._rules: dict[str, Rule] = {}
        self._skipped: set[tuple[str, str]] = set()
        self.ruleset = RuleSet([], entities=self.entities)

    def set_topics(self, topics: list[Topic]) -> None:
        """Replace the shared topics (rule files reloaded); the next `current()` recompiles."""
        self.topics = {t.name: t for t in topics}
        self._version = -1

    async def current(self) -> RuleSet:
        """The compiled rules, recompiled if any chat changed its rules since last time."""
        version = await self.chats.rules_version()
        if version != self._version:
            rules = [topic_rule(t) for t in self.topics.values()]
            rules += await self.chats.all_rules()
            self.ruleset = RuleSet(rules, entities=self.entities, on_error=self._skip)
            self._rules = {r.id: r for r in self.ruleset.rules}
            self._version = version
        return self.ruleset

    async def route(self, stories: Sequence[Story], *, alerted: Mapping[str, Iterable[str]]
                    ) -> list[tuple[Delivery, ...]]:
        """For each story (in order), its deliveries: one per chat of a rule the story
        satisfies with enough outlets, or that was already alerted about it (`alerted`, by
        story id: it hears of updates), with the rules that matched, all in sorted order."""
        chats: dict[str, set[str]] = {}
        routed: list[tuple[Delivery, ...]] = []
        for story in stories:
            for rule_id in story.matched:
                rule = self.rule(rule_id)
                if rule is not None and rule_id not in chats:
                    chats[rule_id] = await self.chats_for(rule)
            routed.append(self._deliveries(story, chats=chats, alerted=alerted[story.id]))
        return routed

    def _deliveries(self, story: Story, *, chats: Mapping[str, set[str]],
                    alerted: Iterable[str]) -> tuple[Delivery, ...]:
        by_chat: dict[str, list[str]] = {}
        for rule_id in sorted(story.matched):
            rule = self.rule(rule_id)
            if rule is None or len(story.outlets) < rule.min_outlets:
                continue
            for chat in chats.get(rule_id, ()):
                by_chat.setdefault(chat, []).append(rule_id)
        for chat in alerted:
            by_chat.setdefault(chat, [])
        return tuple(Delivery(chat=chat, story_id=story.id, rule_ids=tuple(rules))
                     for chat, rules in sorted(by_chat.items()))

    def rule(self, rule_id: str) -> Rule | None:
        """An active rule by id."""
        return self._rules.get(rule_id)

    async def chats_for(self, rule: Rule) -> set[str]:
        """The chats a match of `rule` goes to."""
        if rule.chat:
            return {rule.chat}
        return await self.chats.subscribers(rule.topic or "")

    def _skip(self, rule: Rule, exc: RuleError) -> None:
        """Log an invalid stored rule once (e.g. its @entity was removed) and leave it out."""
        if (rule.id, rule.expression) not in self._skipped:
            self._skipped.add((rule.id, rule.expression))
            log.warning("rules: skipping invalid stored rule",
                        extra={"kv": {"rule_id": rule.id, "error": str(exc)}})
