"""Tokens -> the rule AST by recursive descent (bot.rules.grammar has the grammar), with the
checks a rule must pass: bounded depth and size, NEAR only between things with positions, and
something that has to occur."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import RuleError
from bot.rules.lexer import Token
from bot.rules.nodes import (
    MAX_DEPTH,
    MAX_TERMS,
    And,
    EntityRef,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Source,
    Term,
    Title,
)
from bot.text import fold

if TYPE_CHECKING:
    from bot.rules.entities import Entities

_STARTS_TERM = frozenset({"word", "phrase", "entity", "field", "lparen", "not"})


class Parser:
    """Recursive descent over the tokens; depth is bounded by MAX_DEPTH."""

    def __init__(self, expression: str, tokens: list[Token], entities: Entities) -> None:
        self.expression = expression
        self.tokens = tokens
        self.entities = entities
        self.i = 0
        self.depth = 0
        self.count = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, pos: int) -> RuleError:
        return RuleError(message, expression=self.expression, position=pos)

    def rule(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("empty rule: expected a term", self.tok.pos)
        node = self.or_()
        if self.tok.kind == "rparen":
            raise self.error("unmatched ')'", self.tok.pos)
        if self.tok.kind != "end":  # pragma: no cover - every other token starts a term
            raise self.error(f"unexpected {self.tok.value!r}", self.tok.pos)
        if _vacuous(node):
            first = _culprit(node)
            raise self.error("a rule needs something that must occur: with only negations "
                             "it would match almost every article", first)
        return node

    def expect_term(self, after: Token) -> None:
        if self.tok.kind not in _STARTS_TERM:
            what = "end of rule" if self.tok.kind == "end" else repr(self.tok.value)
            raise self.error(f"expected a term after {after.value!r}, found {what}",
                             self.tok.pos)

    def or_(self) -> Node:
        first = self.and_()
        children = [first]
        while self.tok.kind == "or":
            op = self.tok
            self.i += 1
            self.expect_term(op)
            children.append(self.and_())
        return _flat(Or, children, first.pos)

    def and_(self) -> Node:
        first = self.near()
        children = [first]
        while True:
            if self.tok.kind in ("plus", "and"):
                op = self.tok
                self.i += 1
                self.expect_term(op)
            elif self.tok.kind not in _STARTS_TERM:
                break
            children.append(self.near())
        return _flat(And, children, first.pos)

    def near(self) -> Node:
        left = self.unary()
        while self.tok.kind == "near":
            op = self.tok
            self.i += 1
            self.expect_term(op)
            right = self.unary()
            for side in (left, right):
                if not _positional(side):
                    raise self.error("NEAR joins terms, phrases, @entities, title: of those or "
                                     "(A | B) groups, not negations, AND or source:", side.pos)
            left = Near(left, right, int(op.value), pos=left.pos)
        return left

    def unary(self) -> Node:
        nots: list[Token] = []
        while self.tok.kind == "not":
            nots.append(self.tok)
            self.i += 1
            if self.tok.kind not in _STARTS_TERM:
                self.expect_term(nots[-1])
        node = self.primary()
        for op in reversed(nots):
            node = Not(node, pos=op.pos)
        return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "lparen":
            return self.group(tok)
        if tok.kind == "field":
            return self.field(tok)
        if tok.kind in ("word", "phrase", "entity"):
            self.i += 1
            return self.leaf(tok)
        if tok.kind in ("plus", "and", "or", "near"):
            raise self.error(f"expected a term before {tok.value!r}", tok.pos)
        if tok.kind == "rparen":
            raise self.error("unmatched ')'", tok.pos)
        raise self.error("expected a term", tok.pos)

    def group(self, tok: Token) -> Node:
        self.enter(tok)
        self.i += 1
        if self.tok.kind == "rparen":
            raise self.error("empty parentheses", tok.pos)
        node = self.or_()
        if self.tok.kind != "rparen":
            raise self.error("unbalanced parentheses: '(' is never closed", tok.pos)
        self.i += 1
        self.depth -= 1
        return node

    def field(self, tok: Token) -> Node:
        self.i += 1
        if tok.value == "source":
            value = self.tok
            if value.kind not in ("word", "phrase"):
                raise self.error("source: needs an outlet name, e.g. source:VOA", tok.pos)
            self.i += 1
            self.counted(tok)
            return Source(value.value, pos=tok.pos)
        if self.tok.kind not in ("word", "phrase", "entity", "lparen", "field"):
            raise self.error("title: needs a term, phrase, @entity or (group) right after it",
                             tok.pos)
        self.enter(tok)
        node = Title(self.primary(), pos=tok.pos)
        self.depth -= 1
        return node

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"rule nests deeper than {MAX_DEPTH} levels", tok.pos)

    def counted(self, tok: Token) -> None:
        self.count += 1
        if self.count > MAX_TERMS:
            raise self.error(f"rule has more than {MAX_TERMS} terms", tok.pos)

    def leaf(self, tok: Token) -> Node:
        self.counted(tok)
        if tok.kind == "entity":
            entity = self.entities.resolve(tok.value)
            if entity is None:
                hint = ", ".join(f"@{n}" for n in self.entities.suggest(tok.value))
                raise self.error(f"unknown entity @{tok.value}"
                                 + (f"; did you mean {hint}?" if hint else ""), tok.pos)
            return EntityRef(entity.name, pos=tok.pos)
        if not fold(tok.value).strip():
            raise self.error("empty term", tok.pos)
        return (Phrase if tok.kind == "phrase" else Term)(tok.value, pos=tok.pos)


def _flat(kind: type[And] | type[Or], children: list[Node], pos: int) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat), pos=pos)


def _positional(node: Node) -> bool:
    """True when the node has occurrences with positions (so NEAR can measure distances)."""
    if isinstance(node, (Term, Phrase, EntityRef, Near)):
        return True
    if isinstance(node, Title):
        return _positional(node.child)
    if isinstance(node, Or):
        return all(_positional(c) for c in node.children)
    return False


def _vacuous(node: Node) -> bool:
    """The rule's value on an article where none of its terms occur and no source matches."""
    if isinstance(node, Not):
        return not _vacuous(node.child)
    if isinstance(node, Title):
        return _vacuous(node.child)
    if isinstance(node, And):
        return all(_vacuous(c) for c in node.children)
    if isinstance(node, Or):
        return any(_vacuous(c) for c in node.children)
    return False


def _culprit(node: Node) -> int:
    """The position of the negation that makes a vacuous rule match everything."""
    if isinstance(node, Not):
        return node.pos
    if isinstance(node, Title):
        return _culprit(node.child)
    if isinstance(node, (And, Or)):
        return _culprit(next(c for c in node.children if _vacuous(c)))
    return node.pos  # pragma: no cover - leaves are never vacuous
