"""`/rule add|list|del|test` and `/rules`: a chat's own rules, checked, stored and backtested
over the stored stories."""

from __future__ import annotations

from bot.chats import ChatDirectory
from bot.commands.call import (
    Call,
    Handler,
    UsageError,
    first_word,
    more,
    need_manage,
    no_args,
    rule_number,
)
from bot.commands.protocol import CommandReply
from bot.commands.ranking import StoryRanking
from bot.errors import RuleError
from bot.routing import RuleBook
from bot.rules.backtest import describe_error, described_terms
from bot.rules.grammar import Node, RuleOptions, parse_rule
from bot.rules.grammar import format as format_rule

MAX_RULES_PER_CHAT = 100
TEST_STORIES = 5


class RuleCommands:
    """A chat's rules: add (refusing duplicates and invalid ones), list, delete, test."""

    def __init__(self, *, chats: ChatDirectory, rules: RuleBook, ranking: StoryRanking) -> None:
        self.chats = chats
        self.rules = rules
        self.ranking = ranking

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"rule": self.rule, "rules": self.list_rules}

    async def rule(self, call: Call, args: str) -> CommandReply:
        """`/rule add|list|del|test ...`."""
        sub, rest = first_word(args)
        handlers: dict[str, Handler] = {
            "add": self.add, "list": self.list_rules, "ls": self.list_rules,
            "del": self.delete, "delete": self.delete, "rm": self.delete,
            "test": self.test}
        handler = handlers.get(sub.lower())
        if handler is None:
            raise UsageError("rule_add", "rule_list", "rule_del", "rule_test")
        return await handler(call, rest)

    async def add(self, call: Call, expression: str) -> CommandReply:
        """Validate, store, and say how many stored stories the rule would have matched."""
        need_manage(call)
        if not expression:
            raise UsageError("rule_add")
        existing = await self.chats.rules_of(call.chat)
        if len(existing) >= MAX_RULES_PER_CHAT:
            return call.fail("rule.too_many", limit=MAX_RULES_PER_CHAT)
        try:
            parsed = parse_rule(expression, entities=self.rules.entities)
            if same := next((r for r in existing if self._parses_to(r.expression, parsed)),
                            None):
                return call.fail("rule.duplicate", number=rule_number(same.id))
            rule = await self.chats.add_rule(call.chat, expression,
                                             entities=self.rules.entities)
            found = await self.ranking.backtest(expression, now=call.now)
            terms = described_terms(expression, entities=self.rules.entities)
        except RuleError as exc:
            return _invalid(call, exc)
        return call.reply(
            call.t("rule.added", number=rule_number(rule.id), rule=format_rule(*parsed)),
            *(f"  {t}" for t in terms),
            call.t("rule.window", hours=self.ranking.hours, count=len(found)))

    def _parses_to(self, expression: str, parsed: tuple[Node, RuleOptions]) -> bool:
        """True when a stored expression means the same rule (same parse, same options)."""
        try:
            return parse_rule(expression, entities=self.rules.entities) == parsed
        except RuleError:
            return False

    async def list_rules(self, call: Call, args: str) -> CommandReply:
        """`/rules`, `/rule list`: the chat's rules with their ids."""
        no_args(args, "rule_list")
        rules = await self.chats.rules_of(call.chat)
        if not rules:
            return call.reply(call.t("rule.list.empty"))
        return call.reply(call.t("rule.list.header"), *(
            call.t("rule.list.item", number=rule_number(r.id), expression=r.expression)
            for r in rules))

    async def delete(self, call: Call, args: str) -> CommandReply:
        """`/rule del <id>`."""
        need_manage(call)
        number = args.removeprefix("#")
        if not number.isdecimal():
            raise UsageError("rule_del")
        number = str(int(number))
        if not await self.chats.delete_rule(call.chat, number):
            return call.fail("rule.not_found", number=number)
        return call.reply(call.t("rule.deleted", number=number))

    async def test(self, call: Call, expression: str) -> CommandReply:
        """Backtest without saving: up to five matching stories and the total."""
        if not expression:
            raise UsageError("rule_test")
        try:
            parsed = parse_rule(expression, entities=self.rules.entities)
            stories = await self.ranking.backtest(expression, now=call.now)
            terms = described_terms(expression, entities=self.rules.entities)
        except RuleError as exc:
            return _invalid(call, exc)
        lines = [call.t("rule.test.header", rule=format_rule(*parsed), count=len(stories),
                        hours=self.ranking.hours), *(f"  {t}" for t in terms)]
        lines += [call.t("rule.test.item", headline=s.headline, outlets=" · ".join(s.outlets),
                         terms=", ".join(s.terms)) for s in stories[:TEST_STORIES]]
        return call.reply(*lines, *more(call, len(stories), TEST_STORIES))


def _invalid(call: Call, exc: RuleError) -> CommandReply:
    """A rule error: the message with its column, then the expression and a caret under it."""
    pointer = describe_error(exc).splitlines()[1:]
    return call.reply(call.t("rule.invalid", column=exc.position + 1, message=exc.message),
                      *pointer, ok=False)
