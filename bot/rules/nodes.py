"""The rule AST (what `bot.rules.grammar.parse` returns), a rule's options and the grammar's
limits. Every node is frozen and records the 0-based position it was written at (positions do
not count in equality, so two spellings of one rule compare equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LENGTH = 500
MAX_TERMS = 50
MAX_DEPTH = 8
MAX_NEAR = 100
MAX_OUTLETS = 50
HISTORY_CHOICES = ("any", "only")


@dataclass(frozen=True, slots=True)
class Term:
    """A bare word as written; an entity's name or alias stands for the whole entity."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A quoted phrase, matched as written (folded), never expanded."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class EntityRef:
    """`@name`: every alias of an entity (`name` is the entity's canonical id)."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Source:
    """`source:NAME`: the article's outlet is NAME."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Title:
    """`title:X`: X occurs in the title."""

    child: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """`-X`: X does not occur."""

    child: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """All children hold (nested ANDs are flattened)."""

    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child holds (nested ORs are flattened)."""

    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Near:
    """`left NEAR/distance right`."""

    left: Node
    right: Node
    distance: int
    pos: int = field(default=0, compare=False)


Node = Term | Phrase | EntityRef | Source | Title | Not | And | Or | Near
LEAVES = (Term, Phrase, EntityRef, Source)


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """What a rule says besides what must occur: `outlets>=N` (alert once the story has N
    outlets) and `history:any` / `history:only` (also / only reports about the past)."""

    min_outlets: int = 1
    history: str = "exclude"  # "exclude" (the default), "any" or "only"


def leaves(node: Node) -> list[Node]:
    """Every term, phrase, entity and source of a rule, left to right."""
    if isinstance(node, LEAVES):
        return [node]
    if isinstance(node, (Title, Not)):
        return leaves(node.child)
    if isinstance(node, Near):
        return leaves(node.left) + leaves(node.right)
    assert isinstance(node, (And, Or))
    return [leaf for child in node.children for leaf in leaves(child)]

