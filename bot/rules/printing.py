"""The canonical text of a rule AST: what `/rules` lists and what `format` round-trips through
`parse_rule`."""

from __future__ import annotations

import re

from bot.rules.lexer import KEYWORDS
from bot.rules.nodes import (
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
)

_BARE_SOURCE_RE = re.compile(r"[^\W_][\w.&'-]*")
_PRECEDENCE: dict[type, int] = {Or: 1, And: 2, Near: 3, Not: 4}


def format(node: Node, options: RuleOptions | None = None) -> str:
    """The canonical text of a rule: `parse_rule(format(ast, options)) == (ast, options)`."""
    text = _format(node, 0)
    if options is not None and options.min_outlets > 1:
        text += f" outlets>={options.min_outlets}"
    if options is not None and options.history != "exclude":
        text += f" history:{options.history}"
    return text


def _format(node: Node, need: int) -> str:
    text = _format_bare(node)
    return f"({text})" if _PRECEDENCE.get(type(node), 5) < need else text


def _format_bare(node: Node) -> str:
    if isinstance(node, (Term, Phrase, EntityRef, Source)):
        return _format_leaf(node)
    if isinstance(node, Title):
        return "title:" + _format(node.child, 5)
    if isinstance(node, Not):
        return "-" + _format(node.child, 4)
    if isinstance(node, Near):
        return f"{_format(node.left, 3)} NEAR/{node.distance} {_format(node.right, 4)}"
    if isinstance(node, And):
        return " + ".join(_format(c, 3) for c in node.children)
    return " | ".join(_format(c, 2) for c in node.children)


def _format_leaf(node: Term | Phrase | EntityRef | Source) -> str:
    if isinstance(node, Term):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, EntityRef):
        return f"@{node.name}"
    bare = _BARE_SOURCE_RE.fullmatch(node.name) and node.name not in KEYWORDS \
        and not node.name.startswith("NEAR")
    return f"source:{node.name}" if bare else f'source:"{node.name}"'
