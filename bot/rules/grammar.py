"""Rule expressions (first version): terms joined by `+` or spaces must all occur.

    expression := term (("+" | " ") term)*
    term       := word | '"' phrase '"'

`朝鲜 + 派兵` matches an article that mentions both. Terms are folded like article text (NFKC,
Traditional -> Simplified, case). Errors carry the 0-based position of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import RuleError
from bot.text import fold

MAX_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a rule, already folded for matching."""

    text: str
    phrase: bool = False


def parse(expression: str) -> tuple[Term, ...]:
    """The terms of an AND rule; raises RuleError naming the position of any problem."""
    if len(expression) > MAX_LENGTH:
        raise RuleError(f"rule is longer than {MAX_LENGTH} characters", expression=expression,
                        position=MAX_LENGTH)
    terms: list[Term] = []
    pos, expect_term = 0, True
    while pos < len(expression):
        ch = expression[pos]
        if ch.isspace():
            pos += 1
        elif ch == "+":
            if expect_term:
                raise RuleError("expected a term before '+'", expression=expression,
                                position=pos)
            expect_term, pos = True, pos + 1
        elif ch == '"':
            end = expression.find('"', pos + 1)
            if end < 0:
                raise RuleError("unterminated phrase", expression=expression, position=pos)
            if not expression[pos + 1:end].strip():
                raise RuleError("empty phrase", expression=expression, position=pos)
            terms.append(Term(fold(expression[pos + 1:end].strip()), phrase=True))
            expect_term, pos = False, end + 1
        else:
            end = pos
            while end < len(expression) and not expression[end].isspace() \
                    and expression[end] not in '+"':
                end += 1
            terms.append(Term(fold(expression[pos:end])))
            expect_term, pos = False, end
    if not terms or expect_term:
        raise RuleError("expected a term", expression=expression, position=len(expression))
    return tuple(terms)
