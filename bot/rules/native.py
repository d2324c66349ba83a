"""The compiled rules as flat int32 tables for the C core (`bot.rules._cmatch`), which runs
`RuleSet.match` for one article: automaton pass, literals, rule tests and reported terms.

Compiling stays in Python (bot.rules.engine); each compiled node lowers itself into `Tables`,
which belong to one compiler (one entity set) and only grow, like its key and literal ids:

- terms: every string `match` reports (a display, an alias as written), interned, so the core
  hands out the same str objects and compares terms by id;
- literals (indexed by literal id): title flag, the keys in order of folded text, each with the
  alias term, the alias's rank among the leaf's aliases as written, and its mask keys; then the
  gap aliases (first key, second key, alias term);
- nodes, hash-consed (an identical subtree is stored once, its per-article work done once):
  LEAF lit display, SOURCE outlet, NOT child, AND/OR n children, NEAR left right distance;
- outlets: each `source:` name and rule source, casefolded, by id.

`core` snapshots the tables with one rule set's roots, triggers and sources into a
`_cmatch.Core`; the C side checks every offset and id before it uses them. The module is
optional: without a C compiler at install time `AVAILABLE` is False and the engine runs its
Python path, which gives the same results.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from bot.rules.entities import GAP_CHARS, GAP_WORDS

_cmatch: ModuleType | None
try:
    from bot.rules import _cmatch
except ImportError:  # installed without a C compiler: the engine's Python path runs instead
    _cmatch = None

AVAILABLE = _cmatch is not None
LEAF, SOURCE, NOT, AND, OR, NEAR = range(6)
BIND_SHIFT = 16  # a NEAR's distance field: the distance, and its binding flags shifted by this
# The C core keeps offsets in 32 bits; longer articles go through the Python path.
MAX_CHARS = 1 << 29

Entry = tuple[int, str, tuple[int, ...]]  # key, alias as written, mask keys


def _ints(values: Iterable[int] = ()) -> array[int]:
    out = array("i", values)
    assert out.itemsize == 4
    return out


class Tables:
    """One compiler's terms, outlets, literals and nodes in the layouts the C core reads."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self._term_ids: dict[str, int] = {}
        self.outlets: dict[str, int] = {}
        self.lit_offsets = _ints()
        self.lit_data = _ints()
        self.nodes = _ints()
        self.node_count = 0
        self.generation = 0  # bumped when the nodes are cleared: older root offsets are stale
        self._node_ids: dict[tuple[int, ...], int] = {}
        self._terms_tuple: tuple[str, ...] = ()

    def term(self, text: str) -> int:
        found = self._term_ids.get(text)
        if found is None:
            found = self._term_ids[text] = len(self.terms)
            self.terms.append(text)
        return found

    def outlet(self, name: str) -> int:
        """The id of a casefolded outlet name."""
        return self.outlets.setdefault(name, len(self.outlets))

    def node(self, kind: int, *fields: int) -> int:
        """The offset of a node record (the same fields: the same record)."""
        signature = (kind, *fields)
        found = self._node_ids.get(signature)
        if found is None:
            found = self._node_ids[signature] = len(self.nodes)
            self.nodes.extend((kind, self.node_count, *fields))
            self.node_count += 1
        return found

    def clear_nodes(self) -> None:
        """Forget the nodes (the compiler dropped the programs that refer to them)."""
        self.nodes = _ints()
        self.node_count = 0
        self.generation += 1
        self._node_ids.clear()

    def has_literal(self, lit: int) -> bool:
        return lit < len(self.lit_offsets) and self.lit_offsets[lit] >= 0

    def literal(self, lit: int, *, title: bool, entries: Sequence[Entry],
                gaps: Sequence[tuple[int, int, str]]) -> None:
        """Record a literal: its keys (in the order ties are reported), then its gap aliases."""
        if lit >= len(self.lit_offsets):
            self.lit_offsets.extend([-1] * (lit + 1 - len(self.lit_offsets)))
        self.lit_offsets[lit] = len(self.lit_data)
        rank = {alias: i for i, alias in enumerate(sorted(alias for _, alias, _ in entries))}
        record = [int(title), len(entries)]
        for k, alias, masks in entries:
            record += [k, self.term(alias), rank[alias], len(masks), *masks]
        record.append(len(gaps))
        for a, b, alias in gaps:
            record += [a, b, self.term(alias)]
        self.lit_data.extend(record)

    def triggers(self, triggers: tuple[int | str, ...] | None) -> bytes:
        """One rule's triggers: n (-1: test on every article), then literals or -2 - outlet."""
        if triggers is None:
            return _ints([-1]).tobytes()
        return _ints([len(triggers), *(t if isinstance(t, int) else -2 - self.outlet(t)
                                       for t in triggers)]).tobytes()

    def terms_tuple(self) -> tuple[str, ...]:
        if len(self._terms_tuple) != len(self.terms):
            self._terms_tuple = tuple(self.terms)
        return self._terms_tuple


def automaton(keys: list[tuple[int, str, int]]) -> Any:
    """The C automaton over (key id, folded text, edges: 1 left, 2 right word boundary)."""
    assert _cmatch is not None
    return _cmatch.Automaton(keys)


def core(tables: Tables, automaton: Any, *, latin: bytearray, roots: Sequence[int],
         triggers: Iterable[bytes], sources: Iterable[tuple[int, Iterable[str]]],
         ids: tuple[str, ...], statics: tuple[tuple[str, ...] | None, ...],
         cues: tuple[dict[int, int], int, int] = ({}, 0, 0)) -> Any:
    """One rule set's C core: the tables as they are now, and its rules in order; `sources`:
    (rule index, outlet names casefolded) for the rules limited to some outlets; `cues`: the
    negation cue kind of some keys (bot.rules.negation), characters and words they reach."""
    assert _cmatch is not None
    kinds, chars, words = cues
    cue_bytes = bytearray(len(latin)) if kinds else bytearray()
    for k, kind in kinds.items():
        cue_bytes[k] = kind
    flat = _ints()
    for rule, names in sources:
        outlets = sorted({tables.outlet(n) for n in names})
        flat.extend((rule, len(outlets), *outlets))
    return _cmatch.Core(automaton, bytes(latin), tables.lit_offsets, tables.lit_data,
                        tables.nodes, tables.node_count, tables.terms_tuple(), _ints(roots),
                        b"".join(triggers), flat, ids, statics, len(tables.outlets), GAP_CHARS,
                        GAP_WORDS, bytes(cue_bytes), chars, words)
