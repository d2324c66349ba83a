"""What compiling one rule yields (`Program`) beside its tree of compiled nodes: the triggers
(leaves of which one must hold, so only triggered rules are tested), the set form of simple
rules, and the plan that finds the terms `match` reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.rules.compiled import AndNode, CompiledNode, Leaf, NearNode, NotNode, OrNode, SourceTest
from bot.rules.scan import Scan

Fast = tuple[frozenset[int], frozenset[int], tuple[frozenset[int], ...], str | None]


@dataclass(frozen=True, slots=True)
class Program:
    """One rule compiled.

    `triggers`: literals (or outlets) of which one must hold for the rule to (None: test it on
    every article). `fast`: for rules shaped `a b -c (d | e) source:x` over leaves, the
    (required, forbidden, any-of groups, outlet) literal sets, tested with set operations
    instead of walking the tree. `names`: what `match` reports when that never varies;
    `plan`: how to find it otherwise (see `_names_plan`). `lowered`: the native tables'
    generation, the root's offset in them, and the triggers as the C core reads them (None:
    no C core).
    """

    root: CompiledNode
    triggers: tuple[int | str, ...] | None
    keys: frozenset[int]
    leaves: tuple[Leaf, ...]
    fast: Fast | None
    names: tuple[str, ...] | None
    plan: tuple[Step, ...]
    lowered: tuple[int, int, bytes] | None


def _cost(node: Leaf | SourceTest) -> int:
    """How often a trigger is expected to fire: many aliases often, long single words rarely."""
    if isinstance(node, SourceTest):
        return 50
    shortest = min((len(alias) for alias in node.keys.values()), default=2)
    return 10 * len(node.trigger) + max(0, 8 - shortest)


def triggers_of(node: CompiledNode) -> tuple[int | str, ...] | None:
    found = _weighted_triggers(node)
    return None if found is None else tuple(t for t, _ in found)


def _weighted_triggers(node: CompiledNode) -> list[tuple[int | str, int]] | None:
    """Leaves of which one must hold whenever `node` holds, with costs (None: cannot tell)."""
    if isinstance(node, Leaf):
        return [(node.lit, _cost(node))]
    if isinstance(node, SourceTest):
        return [(node.name, _cost(node))]
    if isinstance(node, NotNode):
        return _weighted_triggers(node.child.child) if isinstance(node.child, NotNode) else None
    if isinstance(node, OrNode):
        found = [_weighted_triggers(c) for c in node.children]
        return None if any(t is None for t in found) else [t for ts in found if ts
                                                          for t in ts]
    children = [node.left, node.right] if isinstance(node, NearNode) else node.children
    options = [t for t in map(_weighted_triggers, children) if t is not None]
    return min(options, key=lambda ts: sum(c for _, c in ts)) if options else None


def fast_form(root: CompiledNode) -> Fast | None:
    """The set form of a rule made of leaves, negated leaves, OR-groups of leaves, one source."""
    required: set[int] = set()
    forbidden: set[int] = set()
    groups: list[frozenset[int]] = []
    source: str | None = None
    for c in root.children if isinstance(root, AndNode) else [root]:
        if isinstance(c, Leaf):
            required.add(c.lit)
        elif isinstance(c, NotNode) and isinstance(c.child, Leaf):
            forbidden.add(c.child.lit)
        elif isinstance(c, OrNode) and all(isinstance(x, Leaf) for x in c.children):
            groups.append(frozenset(x.lit for x in c.children if isinstance(x, Leaf)))
        elif isinstance(c, SourceTest) and source is None:
            source = c.name
        else:
            return None
    return frozenset(required), frozenset(forbidden), tuple(groups), source


# A step of a names plan: (literal that must hold or -1, what, value). What: _TEXT (value is
# the term), _ALIASES (an entity leaf: the aliases found), _WALK (a node: walk it), _TESTED
# (walk the node if it holds).
Step = tuple[int, int, Any]
_TEXT, _ALIASES, _WALK, _TESTED = range(4)


def names_of(root: CompiledNode) -> tuple[tuple[str, ...] | None, tuple[Step, ...]]:
    """The terms `match` reports if they never depend on the article, and the plan that finds
    them: the same walk as `root.names`, flattened (OR-groups of leaves become conditions)."""
    plan = tuple(_names_plan(root, -1))
    static = all(lit < 0 and what == _TEXT for lit, what, _ in plan)
    return (tuple(dict.fromkeys(v for _, _, v in plan)) if static else None), plan


def _names_plan(node: CompiledNode, lit: int) -> list[Step]:
    if isinstance(node, Leaf):
        return [(lit, _TEXT, node.display) if node.display is not None
                else (lit, _ALIASES, node)]
    if isinstance(node, (NotNode, SourceTest)):
        return []
    if isinstance(node, AndNode):
        return [step for c in node.children for step in _names_plan(c, lit)]
    if isinstance(node, OrNode) and lit < 0:
        return [step for c in node.children for step in (
            _names_plan(c, c.lit) if isinstance(c, Leaf) else [(-1, _TESTED, c)])]
    return [(lit, _WALK, node)]


def run_plan(plan: tuple[Step, ...], scan: Scan) -> tuple[str, ...]:
    """What `root.names` reports, following the rule's names plan."""
    true = scan.true
    out: list[str] = []
    for lit, what, value in plan:
        if lit >= 0 and lit not in true:
            continue
        if what == _TEXT:
            out.append(value)
        elif what != _TESTED or value.test(scan):
            value.names(scan, out)
    return tuple(dict.fromkeys(out))
