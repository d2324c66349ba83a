"""The active rules (shipped topics and every chat's rules), compiled once, rebuilt on change."""

from __future__ import annotations

import logging

from bot.chats import ChatDirectory
from bot.errors import RuleError
from bot.models import Rule, Topic
from bot.rules.engine import RuleSet
from bot.rules.topics import topic_rule

log = logging.getLogger(__name__)


class RuleBook:
    """Keeps a compiled RuleSet in step with the stored chat rules."""

    def __init__(self, topics: list[Topic], chats: ChatDirectory) -> None:
        self.topics = {t.name: t for t in topics}
        self.chats = chats
        self._version = -1
        self._rules: dict[str, Rule] = {}
        self.ruleset = RuleSet([])

    async def current(self) -> RuleSet:
        """The compiled rules, recompiled if any chat changed its rules since last time."""
        version = await self.chats.rules_version()
        if version != self._version:
            rules = [topic_rule(t) for t in self.topics.values()]
            rules += [r for r in await self.chats.all_rules() if self._valid(r)]
            self._rules = {r.id: r for r in rules}
            self.ruleset = RuleSet(rules)
            self._version = version
        return self.ruleset

    def rule(self, rule_id: str) -> Rule | None:
        """An active rule by id."""
        return self._rules.get(rule_id)

    async def chats_for(self, rule: Rule) -> set[str]:
        """The chats a match of `rule` goes to."""
        if rule.chat:
            return {rule.chat}
        return await self.chats.subscribers(rule.topic or "")

    @staticmethod
    def _valid(rule: Rule) -> bool:
        try:
            RuleSet([rule])
        except RuleError as exc:
            log.warning("rules: skipping invalid stored rule",
                        extra={"kv": {"rule_id": rule.id, "error": str(exc)}})
            return False
        return True
