"""The compiled nodes of a rule: leaves (a term, a phrase or an entity's aliases, settled once
per article for all rules) and the operators over them (source:, NOT, AND, OR, NEAR).

Each node can `test` itself on a `Scan`, list its `occurrences` (for NEAR and `match_detail`),
report the terms that made it hold (`names`, `evidence`) and `lower` itself into the C core's
tables (bot.rules.native), so both engine paths evaluate the same tree.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from itertools import islice

from bot.rules import native
from bot.rules.entities import GAP_CHARS, GAP_WORDS
from bot.rules.scan import (
    OTHER,
    MatchedTerm,
    Occ,
    Scan,
    any_close,
    bound,
    by_position,
    done_by,
    leaf_occurrences,
    matched_terms,
    new_occ,
    ordered_pairs,
    within,
)


class Leaf:
    """A term, a phrase or an entity: any of its keys (or gap pairs) occurring, unmasked.

    Whether a leaf holds is settled once per article for all rules (its literal id `lit`
    is in `scan.true`); plain leaves (no masks, no gaps) hold as soon as a key occurs.
    """

    __slots__ = ("display", "entity", "gaps", "keys", "keyset", "latin", "lit", "masks",
                 "order", "plain", "title", "trigger")

    def __init__(self, *, lit: int, keys: dict[int, str], order: tuple[int, ...],
                 latin: dict[int, bool], title: bool, display: str | None,
                 gaps: tuple[tuple[int, int, str], ...] = (),
                 masks: Mapping[int, tuple[int, ...]] | None = None, entity: bool = False
                 ) -> None:
        self.lit = lit
        self.entity = entity  # an entity's leaf: the same literal may have other displays
        self.keys = keys  # key id -> alias as written
        self.order = order  # the keys by folded text: ties at one position are found so
        self.keyset = frozenset(keys)
        self.latin = latin
        self.title = title
        self.display = display  # None: report the alias found (an @entity)
        self.gaps = gaps
        self.masks = dict(masks or {})
        self.plain = not gaps and not self.masks
        self.trigger = self.keyset | {a for a, _, _ in gaps}

    def test(self, scan: Scan) -> bool:
        return self.lit in scan.true

    def holds(self, scan: Scan) -> bool:
        """Settle a non-plain leaf: an unmasked key occurrence or a gap pair in reach."""
        pool = scan.title if self.title else scan.keys
        for k in pool.intersection(self.keyset):
            if k not in self.masks or any(self._keep(scan, k, f, s, e)
                                          for f, s, e in scan.at(k)):
                return True
        return any(self._gap(scan, a, b) for a, b, _ in self.gaps if a in pool and b in pool)

    def _keep(self, scan: Scan, k: int, f: int, s: int, e: int) -> bool:
        if self.title and f:
            return False
        return not any(mf == f and ms <= s and e <= me for m in self.masks.get(k, ())
                       for mf, ms, me in scan.at(m))

    def occurrences(self, scan: Scan) -> list[Occ]:
        found = scan.memo.get(id(self))
        if found is None:
            display = self.display
            if not self.entity:
                found = self._occurrences(scan, display)
            elif display is None:
                found = self.spots(scan)
            else:
                found = [new_occ((o[0], o[1], o[2], o[3], display, o[5], ()))
                         for o in self.spots(scan)]
            scan.memo[id(self)] = found
        return found

    def spots(self, scan: Scan) -> list[Occ]:
        """Where the leaf occurs (for an entity: reporting the alias found), for NEAR;
        computed once per literal, so the leaves of one entity share the work."""
        if not self.entity:
            return self.occurrences(scan)
        found = scan.spots.get(self.lit)
        if found is None:
            found = scan.spots[self.lit] = self._occurrences(scan, None)
        return found

    def _occurrences(self, scan: Scan, display: str | None) -> list[Occ]:
        pool = scan.title if self.title else scan.keys
        masks, title = self.masks, self.title
        out: list[Occ] = []
        keys = scan.keys
        for k in self.order:
            if k not in pool:
                continue
            alias, latin = self.keys[k], self.latin[k]
            term = display or alias
            masked = k in masks and not keys.isdisjoint(masks[k])
            out += [new_occ((f, s, e, latin, term, alias, ())) for f, s, e in scan.at(k)
                    if not (title and f) and (not masked or self._keep(scan, k, f, s, e))]
        for a, b, alias in self.gaps:
            if a in pool and b in pool:
                latin = self.latin[a] and self.latin[b]
                out += [Occ(x[0], x[1], y[2], latin, display or alias, alias)
                        for x, y in self._gap(scan, a, b)]
        return by_position(out)

    def _gap(self, scan: Scan, a: int, b: int) -> list[tuple[tuple[int, int, int],
                                                              tuple[int, int, int]]]:
        """The occurrences (x, y) of a gap alias `a...b`, in order of x: y after x, within
        GAP_CHARS characters (GAP_WORDS words if both are Latin); kept for the article."""
        found = scan.gaps.get((a, b, self.title))
        if found is not None:
            return found
        found = scan.gaps[a, b, self.title] = []
        xs, ys = scan.at(a), scan.at(b)
        if self.title:
            xs, ys = [x for x in xs if not x[0]], [y for y in ys if not y[0]]
        words = self.latin[a] and self.latin[b]
        distance = GAP_WORDS if words else GAP_CHARS
        for x in xs:
            f, _, e = x
            limit = e + distance
            if self.latin[a]:
                starts = scan.word_starts(f)
                i = bisect_left(starts, e) + distance
                limit = max(limit, starts[i] if i < len(starts) else len(scan.texts[f]))
            for y in islice(ys, bisect_left(ys, (f, e)), None):
                if y[0] != f or y[1] > limit:
                    break
                if y[1] - e <= distance or (
                        words and scan.words_between(f, e, y[1]) <= distance):
                    found.append((x, y))
        return found

    def names(self, scan: Scan, out: list[str]) -> None:
        if self.display is not None:
            out.append(self.display)
        else:
            found = scan.names.get(id(self))
            if found is None:
                found = scan.names[id(self)] = self._aliases_found(scan)
            out.extend(found)

    def _aliases_found(self, scan: Scan) -> tuple[str, ...]:
        """The aliases that occur, in order of first occurrence."""
        if self.gaps:
            return tuple(dict.fromkeys(o.alias for o in self.occurrences(scan)))
        pool = scan.title if self.title else scan.keys
        first = sorted((next(((f, s) for f, s, e in scan.at(k)
                              if self._keep(scan, k, f, s, e)), (2, 0)), self.keys[k])
                       for k in pool.intersection(self.keyset))
        return tuple(dict.fromkeys(alias for (f, _), alias in first if f < 2))

    def evidence(self, scan: Scan, out: list[MatchedTerm]) -> None:
        out.extend(matched_terms(self.occurrences(scan)))

    def lower(self, tables: native.Tables) -> int:
        if not tables.has_literal(self.lit):
            tables.literal(self.lit, title=self.title, gaps=self.gaps, entries=[
                (k, self.keys[k], self.masks.get(k, ())) for k in self.order])
        return tables.node(native.LEAF, self.lit,
                           -1 if self.display is None else tables.term(self.display))


class SourceTest:
    __slots__ = ("name", "written")

    def __init__(self, written: str) -> None:
        self.written = written
        self.name = written.casefold()

    def test(self, scan: Scan) -> bool:
        return scan.outlet == self.name

    def occurrences(self, scan: Scan) -> list[Occ]:  # pragma: no cover - grammar forbids
        return []

    def spots(self, scan: Scan) -> list[Occ]:  # pragma: no cover - grammar forbids
        return []

    def names(self, scan: Scan, out: list[str]) -> None:
        """Sources are conditions, not terms: nothing to show."""

    def evidence(self, scan: Scan, out: list[MatchedTerm]) -> None:
        out.append(MatchedTerm(f"source:{self.written}", self.written, "source", 0, 0))

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.SOURCE, tables.outlet(self.name))


class NotNode:
    __slots__ = ("child",)

    def __init__(self, child: CompiledNode) -> None:
        self.child = child

    def test(self, scan: Scan) -> bool:
        return not self.child.test(scan)

    def occurrences(self, scan: Scan) -> list[Occ]:  # pragma: no cover - grammar forbids
        return []

    def spots(self, scan: Scan) -> list[Occ]:  # pragma: no cover - grammar forbids
        return []

    def names(self, scan: Scan, out: list[str]) -> None:
        """A term that must not occur made nothing match."""

    def evidence(self, scan: Scan, out: list[MatchedTerm]) -> None:
        """A term that must not occur made nothing match."""

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.NOT, self.child.lower(tables))


class AndNode:
    __slots__ = ("children", "order")

    def __init__(self, children: list[CompiledNode]) -> None:
        self.children = children
        self.order = sorted(children, key=lambda c: not isinstance(c, Leaf))  # cheap first

    def test(self, scan: Scan) -> bool:
        return all(c.test(scan) for c in self.order)

    def occurrences(self, scan: Scan) -> list[Occ]:  # pragma: no cover - grammar forbids
        return []

    def spots(self, scan: Scan) -> list[Occ]:  # pragma: no cover - grammar forbids
        return []

    def names(self, scan: Scan, out: list[str]) -> None:
        for c in self.children:
            c.names(scan, out)

    def evidence(self, scan: Scan, out: list[MatchedTerm]) -> None:
        for c in self.children:
            c.evidence(scan, out)

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.AND, len(self.children),
                           *[c.lower(tables) for c in self.children])


class OrNode:
    __slots__ = ("children",)

    def __init__(self, children: list[CompiledNode]) -> None:
        self.children = children

    def test(self, scan: Scan) -> bool:
        return any(c.test(scan) for c in self.children)

    def occurrences(self, scan: Scan) -> list[Occ]:
        found = scan.memo.get(id(self))
        if found is None:
            found = scan.memo[id(self)] = by_position([o for c in self.children
                                                        for o in c.occurrences(scan)])
        return found

    def spots(self, scan: Scan) -> list[Occ]:
        found = scan.spots.get(~id(self))
        if found is None:
            found = scan.spots[~id(self)] = by_position([o for c in self.children
                                                          for o in c.spots(scan)])
        return found

    def names(self, scan: Scan, out: list[str]) -> None:
        for c in self.children:
            if c.test(scan):
                c.names(scan, out)

    def evidence(self, scan: Scan, out: list[MatchedTerm]) -> None:
        for c in self.children:
            if c.test(scan):
                c.evidence(scan, out)

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.OR, len(self.children),
                           *[c.lower(tables) for c in self.children])


class NearNode:
    """A NEAR; with `bind` flags (bot.rules.scan.CLAUSE, AGENT) the binding of an action (on
    the right) to whoever a rule names beside it (on the left): see `scan.bound`; with OTHER,
    the right side's occurrences that no one on the left does (`scan.done_by`), or with a
    distance that no one on the left is bound to (an event another place has)."""

    __slots__ = ("bind", "distance", "left", "right")

    def __init__(self, left: CompiledNode, right: CompiledNode, distance: int,
                 bind: int = 0) -> None:
        self.left, self.right, self.distance, self.bind = left, right, distance, bind

    def test(self, scan: Scan) -> bool:
        if self.bind & OTHER:
            return self.right.test(scan) and bool(self.occurrences(scan))
        if not (self.left.test(scan) and self.right.test(scan)):
            return False
        if self.bind:
            return next(ordered_pairs(scan, self.left.spots(scan), self.right.spots(scan),
                                      self.distance, self.bind), None) is not None
        return any_close(scan, self.left.spots(scan), self.right.spots(scan), self.distance)

    def occurrences(self, scan: Scan) -> list[Occ]:
        """Each close pair as one occurrence, in order of position (the earlier one's)."""
        found = scan.memo.get(id(self))
        if found is None and self.bind & OTHER:
            doers = self.left.spots(scan) if self.left.test(scan) else []
            found = scan.memo[id(self)] = [y for y in self.right.occurrences(scan)
                                           if not any(self._claims(scan, x, y) for x in doers)]
        if found is None:
            found = scan.memo[id(self)] = [
                Occ(a.field, min(a.start, b.start), max(a.end, b.end), a.latin and b.latin,
                     parts=(a, b)) for a, b, _ in ordered_pairs(
                    scan, self.left.occurrences(scan), self.right.occurrences(scan),
                    self.distance, self.bind)]
        return found

    def _claims(self, scan: Scan, who: Occ, act: Occ) -> bool:
        """With OTHER: `who` does `act` (right at it), or with a distance is bound to it."""
        if not self.distance:
            return done_by(scan, who, act)
        return within(scan, who, act, self.distance) and bound(scan, who, act,
                                                               self.bind & ~OTHER)

    def spots(self, scan: Scan) -> list[Occ]:
        return self.occurrences(scan)

    def names(self, scan: Scan, out: list[str]) -> None:
        """The terms of `occurrences`, in order, without building them all: the pairs come in
        the same order, and the walk stops once every term that could occur was seen."""
        if self.bind & OTHER:
            out.extend(dict.fromkeys(t.term for t in leaf_occurrences(self.occurrences(scan))))
            return
        (left, shown_left), (right, shown_right) = _side(self.left, scan), _side(self.right, scan)
        possible = len(_side_terms(left, shown_left) | _side_terms(right, shown_right))
        seen: dict[str, None] = {}
        for x, y, from_left in ordered_pairs(scan, left, right, self.distance, self.bind):
            shown_x, shown_y = (shown_left, shown_right) if from_left else (shown_right,
                                                                             shown_left)
            seen.update(dict.fromkeys(_occ_terms(x, shown_x)))
            seen.update(dict.fromkeys(_occ_terms(y, shown_y)))
            if len(seen) == possible:
                break
        out.extend(seen)

    def evidence(self, scan: Scan, out: list[MatchedTerm]) -> None:
        out.extend(dict.fromkeys(matched_terms(self.occurrences(scan))))

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.NEAR, self.left.lower(tables), self.right.lower(tables),
                           self.distance | self.bind << native.BIND_SHIFT)


CompiledNode = Leaf | SourceTest | NotNode | AndNode | OrNode | NearNode


def _side(node: CompiledNode, scan: Scan) -> tuple[list[Occ], str | None]:
    """A NEAR side's occurrences, and the term they all report (None: each its own)."""
    if isinstance(node, Leaf):
        return node.spots(scan), node.display
    return node.occurrences(scan), None


def _occ_terms(o: Occ, shown: str | None) -> list[str]:
    return [shown] if shown is not None else [t.term for t in leaf_occurrences((o,))]


def _side_terms(occurrences: list[Occ], shown: str | None) -> set[str]:
    if shown is not None:
        return {shown} if occurrences else set()
    return {t.term for t in leaf_occurrences(occurrences)}

