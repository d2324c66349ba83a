"""Rule expressions: text -> AST, with errors that name the 0-based position of the problem.

    rule     := or
    or       := and (("|" | "OR") and)*
    and      := near (["+" | "AND"] near)*          # two terms side by side: AND
    near     := unary ("NEAR/" n unary)*            # left-associative
    unary    := ("-" | "NOT") unary | primary
    primary  := "(" or ")" | '"' phrase '"' | "@" entity | "title:" primary
              | "source:" (word | '"' name '"') | word

Precedence: NOT > NEAR > AND > OR, so `a | b c` is `a | (b + c)` and `-a NEAR/3 b` is an error
(NEAR joins things that occur somewhere: terms, phrases, @entities, `title:` of those, and
parenthesized OR-groups or NEARs of them).

- `朝鲜 + 派兵`, `朝鲜 派兵`, `朝鲜 AND 派兵`: both occur (in the title or the text).
- `制裁 | sanctions`, `制裁 OR sanctions`: either occurs. `-演习`, `NOT 演习`: does not occur.
- `"exact phrase"`: the words as written, never expanded to an entity's aliases.
- `@dprk`: any alias of the entity `dprk` in `rules/entities.yaml` (`@朝鲜` names it by an alias).
  A bare term equal to an entity's name or one of its aliases also stands for the whole entity:
  `朝鲜`, `北韓` and `DPRK` all mean `@dprk`; quote a term (`"朝鲜"`) to match only it.
- `title:A` / `title:(A | B)`: only in the title. `source:VOA` / `source:"Radio Free Asia"`:
  the article's outlet is that one (case-insensitive).
- `A NEAR/n B`: an occurrence of A and one of B at most n words apart when both are Latin-script
  matches, otherwise at most n characters apart (CJK text has no spaces between words).
- Operators are upper-case (`or` is a term); full-width `＋ ｜ （ ） ＂ －` and curly quotes work.

Matching folds both sides the same way (NFKC, Traditional -> Simplified, case), so `北韓` is
`北韩`. Latin terms match whole words (`NK` is not in "bank"); CJK terms match as substrings.

Limits: at most MAX_LENGTH characters, MAX_TERMS terms, MAX_DEPTH nested groups or `title:`,
and NEAR distances up to MAX_NEAR. A rule must have something that has to occur: `-a` and
`a | -b` are rejected, because they would match almost every article.
"""

from __future__ import annotations

from functools import lru_cache

from bot.errors import RuleError
from bot.rules.entities import Entities, shipped_entities
from bot.rules.lexer import Lexer, split_options
from bot.rules.nodes import (
    HISTORY_CHOICES,
    LEAVES,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NEAR,
    MAX_OUTLETS,
    MAX_TERMS,
    And,
    EntityRef,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    RuleOptions,
    Source,
    Term,
    Title,
    leaves,
)
from bot.rules.parser import Parser
from bot.rules.printing import format

__all__ = ["HISTORY_CHOICES", "LEAVES", "MAX_DEPTH", "MAX_LENGTH", "MAX_NEAR", "MAX_OUTLETS",
           "MAX_TERMS", "And", "EntityRef", "Near", "Node", "Not", "Or", "Phrase", "RuleOptions",
           "Source", "Term", "Title", "format", "leaves", "parse", "parse_rule", "rule_options",
           "terms"]


def parse(expression: str, *, entities: Entities | None = None) -> Node:
    """The AST of a rule (its options left out), its @entities and bare terms resolved in
    `entities` (the shipped catalog if None); raises RuleError naming the position of any
    problem."""
    return parse_rule(expression, entities=entities)[0]


def parse_rule(expression: str, *, entities: Entities | None = None
               ) -> tuple[Node, RuleOptions]:
    """The AST of a rule and its options, resolved in `entities` (the shipped catalog if None);
    raises RuleError naming the position of any problem."""
    if entities is None:
        entities = shipped_entities()
    if len(expression) > MAX_LENGTH:
        raise RuleError(f"rule is longer than {MAX_LENGTH} characters", expression=expression,
                        position=MAX_LENGTH)
    tokens, options = split_options(expression, Lexer(expression).tokens())
    return Parser(expression, tokens, entities).rule(), options


@lru_cache(maxsize=65_536)
def rule_options(expression: str) -> RuleOptions:
    """The options of a rule (RuleError if they are malformed or misplaced); remembered, as
    a rule set is rebuilt from the same expressions whenever a rule changes."""
    return split_options(expression, Lexer(expression).tokens())[1]


def terms(expression: str, *, entities: Entities | None = None) -> tuple[str, ...]:
    """The display form of each term of a rule, for listings."""
    return tuple(format(leaf) for leaf in leaves(parse(expression, entities=entities)))
