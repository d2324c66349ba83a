"""All active rules in one pass: one Aho-Corasick pass over every folded term, plus a small
boolean program per rule.

Compiling: each rule's AST (bot.rules.grammar) becomes a tree of nodes whose leaves are sets of
term keys (a term, a phrase, or every alias of an entity). Every distinct folded key goes into
pyahocorasick: keys with a word character at an edge (Latin) into one automaton over the text,
the others (CJK) into one over the text's UTF-8 bytes (see `_Automata`). Each rule also gets its
triggers: leaves of which at least one must occur for the rule to hold (grammar rejects rules
that could hold with none of their terms), the set form of simple rules, and a flat plan for the
terms `match` reports.

Matching: fold the title and the text (NFKC, Traditional -> Simplified, case), run the automata
over both once to learn which keys occur as whole words, settle each literal once, then evaluate
only the rules whose triggers occurred. Positions are found only where needed (NEAR, gap aliases,
exclusions, the order of aliases found, `match_detail`) and kept per article. Positions are
offsets into the folded field text; folding keeps the length of almost all text (CJK, ASCII), so
they are usually offsets into the original too.

Two paths run `match`: the C core (bot/rules/_cmatch.c, fed by bot.rules.native: each node
lowers itself into flat tables once per program) does the whole per-article work when the
extension is built, with its own automaton over code points; the Python path below (also what
`match_detail` runs) does it with pyahocorasick and these classes. They return the same thing,
including the order of terms: ties at one position go by folded key text, then gap aliases.

Recompiling is cheap: compiled programs are cached per expression (per entity set) and the
automata are reused while they already hold every key the rules need; the Python path's indexes
and automata are built only when it first runs.
"""

from __future__ import annotations

import re
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from itertools import accumulate, islice
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import ahocorasick

from bot.errors import RuleError
from bot.models import Article, Rule
from bot.rules import grammar as g
from bot.rules import native
from bot.rules.entities import (
    ACTION,
    GAP_CHARS,
    GAP_WORDS,
    Entities,
    Entity,
    gap_parts,
    key,
    shipped_entities,
)
from bot.rules.expand import expand
from bot.rules.grammar import rule_options
from bot.rules.history import History, shipped_history
from bot.text import fold

T = TypeVar("T")
BIND_DISTANCE = 15  # characters (CJK) or words (Latin) between someone and their action
NAME = "name"  # the kind of a bare term the dictionary gives as a proper name (以色列)
WHO_KINDS = frozenset({"country", "person", "organization", "group", NAME})  # who acts
TERM = "term"  # the kind of a bare term's own entity (its expansion; ACTION for a verb)

FIELDS = ("title", "text")
_WORD_SPLIT_RE = re.compile(r"([^\W_]+)")
_CACHE_CAP = 100_000


class MatchedTerm(NamedTuple):
    """One occurrence that made a rule match: the rule's term, what was found, and where.

    `term` is the rule's term as written (for an @entity: the alias found), `alias` the alias
    or term text found, `field` "title", "text" or "source", offsets into the folded field.
    """

    term: str
    alias: str
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule an article satisfies, with every occurrence of its positive terms."""

    rule: Rule
    hits: tuple[MatchedTerm, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """The distinct terms that matched, in order of first occurrence."""
        return tuple(dict.fromkeys(h.term for h in self.hits if h.field != "source"))


class _Occ(NamedTuple):
    """An occurrence: of a leaf (`term` as reported, `alias` found) or of a NEAR (`parts`)."""

    field: int
    start: int
    end: int
    latin: bool
    term: str = ""
    alias: str = ""
    parts: tuple[_Occ, ...] = ()


_new_occ = partial(tuple.__new__, _Occ)  # what namedtuple._make does, minus the checks


def _leaf_occurrences(occurrences: Iterable[_Occ]) -> Iterator[_Occ]:
    """The leaf occurrences inside (NEAR occurrences are made of two others)."""
    for o in occurrences:
        if o.parts:
            yield from _leaf_occurrences(o.parts)
        else:
            yield o


def _matched(occurrences: Iterable[_Occ]) -> Iterator[MatchedTerm]:
    for o in _leaf_occurrences(occurrences):
        yield MatchedTerm(o.term, o.alias, FIELDS[o.field], o.start, o.end)


def is_word_char(ch: str) -> bool:
    """Letters and digits of space-separated scripts; CJK, kana and Hangul are not."""
    return (ch.isalnum() or ch == "_") and ch < "\u1100"


def _is_latin(text: str) -> bool:
    return all(ch < "\u1100" or not ch.isalnum() for ch in text)


class _Scan:
    """One article after the automaton pass: which keys occur, and which literals hold.

    Positions are found only for the keys that need them (NEAR, gap aliases, exclusions, the
    order of aliases found, match_detail), with `str.find`, and kept for the article.
    """

    __slots__ = ("edges", "gaps", "keys", "memo", "names", "outlet", "positions", "spots",
                 "starts", "strings", "texts", "title", "true", "words")

    def __init__(self, texts: tuple[str, str], keys: set[int], title: set[int], outlet: str,
                 *, positions: dict[int, list[tuple[int, int, int]]], strings: list[str],
                 edges: list[tuple[bool, bool]]) -> None:
        self.texts = texts
        self.keys = keys  # key ids with a whole-word occurrence in the title or the text
        self.title = title  # key ids with one in the title
        self.outlet = outlet
        self.strings = strings  # key id -> folded key text
        self.edges = edges  # key id -> (check left boundary, check right boundary)
        self.positions = positions  # key id -> its occurrences: word-edged keys' from the
        # automaton pass, others' found when first asked for
        self.true: set[int] = set()  # literal ids (leaves) that hold in this article
        self.memo: dict[int, list[_Occ]] = {}  # id(node) -> its occurrences
        self.spots: dict[int, list[_Occ]] = {}  # literal (~id(node)) -> where it occurs
        self.names: dict[int, tuple[str, ...]] = {}  # id(leaf) -> the aliases it found
        self.words: dict[int, list[int]] = {}
        # (a, b, title only) -> the occurrences of the gap alias `a...b` (see `_Leaf._gap`)
        self.gaps: dict[tuple[int, int, bool], list[tuple[tuple[int, int, int],
                                                          tuple[int, int, int]]]] = {}
        self.starts: dict[int, tuple[list[_Occ], list[tuple[int, int]], int]] = {}

    def at(self, k: int) -> list[tuple[int, int, int]]:
        """Every whole-word occurrence (field, start, end) of key k, in order of position."""
        found = self.positions.get(k)
        if found is None:
            edges = self.edges[k]
            found = self.positions[k] = (
                _find_all(self.texts, self.strings[k]) if k in self.keys and not any(edges)
                else [])  # word-edged keys that occur have their positions already
        return found

    def words_between(self, field: int, start: int, end: int) -> int:
        """How many words start in [start, end) of one field."""
        starts = self.word_starts(field)
        return bisect_left(starts, end) - bisect_left(starts, start)

    def word_starts(self, field: int) -> list[int]:
        """Offsets where words start in one field (computed when NEAR first needs them)."""
        found = self.words.get(field)
        if found is None:
            parts = _WORD_SPLIT_RE.split(self.texts[field])  # [gap, word, gap, ..., gap]
            found = self.words[field] = list(accumulate(map(len, parts)))[:-1:2]
        return found


def _find_all(texts: tuple[str, str], word: str) -> list[tuple[int, int, int]]:
    """The occurrences of `word` (overlapping ones too) in the title and the text."""
    out: list[tuple[int, int, int]] = []
    length = len(word)
    for f, text in enumerate(texts):
        i = text.find(word)
        while i >= 0:
            out.append((f, i, i + length))
            i = text.find(word, i + 1)
    return out


def _close(scan: _Scan, a: _Occ, b: _Occ, distance: int, *, ordered: bool) -> bool:
    """True when a and b (same field) are at most `distance` words (both Latin) or characters
    apart; `ordered`: b must also start after a ends."""
    if ordered and b.start < a.end:
        return False
    first, second = (a, b) if a.start <= b.start else (b, a)
    if second.start < first.end:
        return True
    if a.latin and b.latin:
        return scan.words_between(a.field, first.end, second.start) <= distance
    return second.start - first.end <= distance


def _starts(scan: _Scan, ys: list[_Occ]) -> tuple[list[tuple[int, int]], int]:
    """The (field, start) of each occurrence, and the longest occurrence (memoized per list)."""
    memo = scan.starts.get(id(ys))
    if memo is None:  # keeps `ys` alive with its starts, so its id is not reused
        memo = scan.starts[id(ys)] = (ys, [(y.field, y.start) for y in ys],
                                      max((y.end - y.start for y in ys), default=0))
    return memo[1], memo[2]


def _any_close(scan: _Scan, xs: list[_Occ], ys: list[_Occ], distance: int) -> bool:
    """Whether some x and some y (in either order) are within `distance`, looping over the
    shorter list."""
    if len(xs) > len(ys):
        xs, ys = ys, xs
    starts, span = _starts(scan, ys)
    for x in xs:
        low, high = x.start - span - distance, x.end + distance
        if x.latin:
            words = scan.word_starts(x.field)
            before = bisect_left(words, x.start) - 1 - distance
            low = min(low, words[before] + 1 - span) if before >= 0 else -1
            after = bisect_left(words, x.end) + distance
            high = max(high, words[after] if after < len(words) else len(scan.texts[x.field]))
        j = bisect_left(starts, (x.field, low))
        while j < len(ys) and starts[j][0] == x.field and starts[j][1] <= high:
            if _close(scan, x, ys[j], distance, ordered=False):
                return True
            j += 1
    return False


def _by_position(occurrences: list[_Occ]) -> list[_Occ]:
    return sorted(occurrences, key=lambda o: (o.field, o.start))


class _Leaf:
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

    def test(self, scan: _Scan) -> bool:
        return self.lit in scan.true

    def holds(self, scan: _Scan) -> bool:
        """Settle a non-plain leaf: an unmasked key occurrence or a gap pair in reach."""
        pool = scan.title if self.title else scan.keys
        for k in pool.intersection(self.keyset):
            if k not in self.masks or any(self._keep(scan, k, f, s, e)
                                          for f, s, e in scan.at(k)):
                return True
        return any(self._gap(scan, a, b) for a, b, _ in self.gaps if a in pool and b in pool)

    def _keep(self, scan: _Scan, k: int, f: int, s: int, e: int) -> bool:
        if self.title and f:
            return False
        return not any(mf == f and ms <= s and e <= me for m in self.masks.get(k, ())
                       for mf, ms, me in scan.at(m))

    def occurrences(self, scan: _Scan) -> list[_Occ]:
        found = scan.memo.get(id(self))
        if found is None:
            display = self.display
            if not self.entity:
                found = self._occurrences(scan, display)
            elif display is None:
                found = self.spots(scan)
            else:
                found = [_new_occ((o[0], o[1], o[2], o[3], display, o[5], ()))
                         for o in self.spots(scan)]
            scan.memo[id(self)] = found
        return found

    def spots(self, scan: _Scan) -> list[_Occ]:
        """Where the leaf occurs (for an entity: reporting the alias found), for NEAR;
        computed once per literal, so the leaves of one entity share the work."""
        if not self.entity:
            return self.occurrences(scan)
        found = scan.spots.get(self.lit)
        if found is None:
            found = scan.spots[self.lit] = self._occurrences(scan, None)
        return found

    def _occurrences(self, scan: _Scan, display: str | None) -> list[_Occ]:
        pool = scan.title if self.title else scan.keys
        masks, title = self.masks, self.title
        out: list[_Occ] = []
        keys = scan.keys
        for k in self.order:
            if k not in pool:
                continue
            alias, latin = self.keys[k], self.latin[k]
            term = display or alias
            masked = k in masks and not keys.isdisjoint(masks[k])
            out += [_new_occ((f, s, e, latin, term, alias, ())) for f, s, e in scan.at(k)
                    if not (title and f) and (not masked or self._keep(scan, k, f, s, e))]
        for a, b, alias in self.gaps:
            if a in pool and b in pool:
                latin = self.latin[a] and self.latin[b]
                out += [_Occ(x[0], x[1], y[2], latin, display or alias, alias)
                        for x, y in self._gap(scan, a, b)]
        return _by_position(out)

    def _gap(self, scan: _Scan, a: int, b: int) -> list[tuple[tuple[int, int, int],
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

    def names(self, scan: _Scan, out: list[str]) -> None:
        if self.display is not None:
            out.append(self.display)
        else:
            found = scan.names.get(id(self))
            if found is None:
                found = scan.names[id(self)] = self._aliases_found(scan)
            out.extend(found)

    def _aliases_found(self, scan: _Scan) -> tuple[str, ...]:
        """The aliases that occur, in order of first occurrence."""
        if self.gaps:
            return tuple(dict.fromkeys(o.alias for o in self.occurrences(scan)))
        pool = scan.title if self.title else scan.keys
        first = sorted((next(((f, s) for f, s, e in scan.at(k)
                              if self._keep(scan, k, f, s, e)), (2, 0)), self.keys[k])
                       for k in pool.intersection(self.keyset))
        return tuple(dict.fromkeys(alias for (f, _), alias in first if f < 2))

    def evidence(self, scan: _Scan, out: list[MatchedTerm]) -> None:
        out.extend(_matched(self.occurrences(scan)))

    def lower(self, tables: native.Tables) -> int:
        if not tables.has_literal(self.lit):
            tables.literal(self.lit, title=self.title, gaps=self.gaps, entries=[
                (k, self.keys[k], self.masks.get(k, ())) for k in self.order])
        return tables.node(native.LEAF, self.lit,
                           -1 if self.display is None else tables.term(self.display))


class _Source:
    __slots__ = ("name", "written")

    def __init__(self, written: str) -> None:
        self.written = written
        self.name = written.casefold()

    def test(self, scan: _Scan) -> bool:
        return scan.outlet == self.name

    def occurrences(self, scan: _Scan) -> list[_Occ]:  # pragma: no cover - grammar forbids
        return []

    def spots(self, scan: _Scan) -> list[_Occ]:  # pragma: no cover - grammar forbids
        return []

    def names(self, scan: _Scan, out: list[str]) -> None:
        """Sources are conditions, not terms: nothing to show."""

    def evidence(self, scan: _Scan, out: list[MatchedTerm]) -> None:
        out.append(MatchedTerm(f"source:{self.written}", self.written, "source", 0, 0))

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.SOURCE, tables.outlet(self.name))


class _Not:
    __slots__ = ("child",)

    def __init__(self, child: _Node) -> None:
        self.child = child

    def test(self, scan: _Scan) -> bool:
        return not self.child.test(scan)

    def occurrences(self, scan: _Scan) -> list[_Occ]:  # pragma: no cover - grammar forbids
        return []

    def spots(self, scan: _Scan) -> list[_Occ]:  # pragma: no cover - grammar forbids
        return []

    def names(self, scan: _Scan, out: list[str]) -> None:
        """A term that must not occur made nothing match."""

    def evidence(self, scan: _Scan, out: list[MatchedTerm]) -> None:
        """A term that must not occur made nothing match."""

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.NOT, self.child.lower(tables))


class _And:
    __slots__ = ("children", "order")

    def __init__(self, children: list[_Node]) -> None:
        self.children = children
        self.order = sorted(children, key=lambda c: not isinstance(c, _Leaf))  # cheap first

    def test(self, scan: _Scan) -> bool:
        return all(c.test(scan) for c in self.order)

    def occurrences(self, scan: _Scan) -> list[_Occ]:  # pragma: no cover - grammar forbids
        return []

    def spots(self, scan: _Scan) -> list[_Occ]:  # pragma: no cover - grammar forbids
        return []

    def names(self, scan: _Scan, out: list[str]) -> None:
        for c in self.children:
            c.names(scan, out)

    def evidence(self, scan: _Scan, out: list[MatchedTerm]) -> None:
        for c in self.children:
            c.evidence(scan, out)

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.AND, len(self.children),
                           *[c.lower(tables) for c in self.children])


class _Or:
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]) -> None:
        self.children = children

    def test(self, scan: _Scan) -> bool:
        return any(c.test(scan) for c in self.children)

    def occurrences(self, scan: _Scan) -> list[_Occ]:
        found = scan.memo.get(id(self))
        if found is None:
            found = scan.memo[id(self)] = _by_position([o for c in self.children
                                                        for o in c.occurrences(scan)])
        return found

    def spots(self, scan: _Scan) -> list[_Occ]:
        found = scan.spots.get(~id(self))
        if found is None:
            found = scan.spots[~id(self)] = _by_position([o for c in self.children
                                                          for o in c.spots(scan)])
        return found

    def names(self, scan: _Scan, out: list[str]) -> None:
        for c in self.children:
            if c.test(scan):
                c.names(scan, out)

    def evidence(self, scan: _Scan, out: list[MatchedTerm]) -> None:
        for c in self.children:
            if c.test(scan):
                c.evidence(scan, out)

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.OR, len(self.children),
                           *[c.lower(tables) for c in self.children])


class _Near:
    __slots__ = ("distance", "left", "right")

    def __init__(self, left: _Node, right: _Node, distance: int) -> None:
        self.left, self.right, self.distance = left, right, distance

    def test(self, scan: _Scan) -> bool:
        return self.left.test(scan) and self.right.test(scan) and _any_close(
            scan, self.left.spots(scan), self.right.spots(scan), self.distance)

    def occurrences(self, scan: _Scan) -> list[_Occ]:
        """Each close pair as one occurrence, in order of position (the earlier one's)."""
        found = scan.memo.get(id(self))
        if found is None:
            found = scan.memo[id(self)] = [
                _Occ(a.field, min(a.start, b.start), max(a.end, b.end), a.latin and b.latin,
                     parts=(a, b)) for a, b, _ in _ordered_pairs(
                    scan, self.left.occurrences(scan), self.right.occurrences(scan),
                    self.distance)]
        return found

    def spots(self, scan: _Scan) -> list[_Occ]:
        return self.occurrences(scan)

    def names(self, scan: _Scan, out: list[str]) -> None:
        """The terms of `occurrences`, in order, without building them all: the pairs come in
        the same order, and the walk stops once every term that could occur was seen."""
        (left, shown_left), (right, shown_right) = _side(self.left, scan), _side(self.right, scan)
        possible = len(_side_terms(left, shown_left) | _side_terms(right, shown_right))
        seen: dict[str, None] = {}
        for x, y, from_left in _ordered_pairs(scan, left, right, self.distance):
            shown_x, shown_y = (shown_left, shown_right) if from_left else (shown_right,
                                                                             shown_left)
            seen.update(dict.fromkeys(_occ_terms(x, shown_x)))
            seen.update(dict.fromkeys(_occ_terms(y, shown_y)))
            if len(seen) == possible:
                break
        out.extend(seen)

    def evidence(self, scan: _Scan, out: list[MatchedTerm]) -> None:
        out.extend(dict.fromkeys(_matched(self.occurrences(scan))))

    def lower(self, tables: native.Tables) -> int:
        return tables.node(native.NEAR, self.left.lower(tables), self.right.lower(tables),
                           self.distance)


_Node = _Leaf | _Source | _Not | _And | _Or | _Near


def _side(node: _Node, scan: _Scan) -> tuple[list[_Occ], str | None]:
    """A NEAR side's occurrences, and the term they all report (None: each its own)."""
    if isinstance(node, _Leaf):
        return node.spots(scan), node.display
    return node.occurrences(scan), None


def _occ_terms(o: _Occ, shown: str | None) -> list[str]:
    return [shown] if shown is not None else [t.term for t in _leaf_occurrences((o,))]


def _side_terms(occurrences: list[_Occ], shown: str | None) -> set[str]:
    if shown is not None:
        return {shown} if occurrences else set()
    return {t.term for t in _leaf_occurrences(occurrences)}


def _ordered_pairs(scan: _Scan, left: list[_Occ], right: list[_Occ], distance: int
                   ) -> Iterator[tuple[_Occ, _Occ, bool]]:
    """Every pair (x, y) within `distance`, x from one side and y from the other starting at or
    after x (strictly after when x is from the right), with whether x is from the left; in the
    order of x, a merge of the two sides (the left first on ties), then of y. Each x's partners
    start at the other side's merge cursor, so an x with none costs a comparison."""
    i = j = 0
    while i < len(left) or j < len(right):
        if j == len(right) or (i < len(left) and (left[i].field, left[i].start)
                               <= (right[j].field, right[j].start)):
            x, others, k, from_left = left[i], right, j, True
            i += 1
        else:
            x, others, k, from_left = right[j], left, i, False
            j += 1
        if k == len(others) or others[k].field != x.field:
            continue
        limit = x.end + distance
        if x.latin:
            words = scan.word_starts(x.field)
            after = bisect_left(words, x.end) + distance
            limit = max(limit, words[after] if after < len(words) else len(scan.texts[x.field]))
        while k < len(others) and others[k].field == x.field and others[k].start <= limit:
            if _close(scan, x, others[k], distance, ordered=False):
                yield x, others[k], from_left
            k += 1


_Fast = tuple[frozenset[int], frozenset[int], tuple[frozenset[int], ...], str | None]


@dataclass(frozen=True, slots=True)
class _Program:
    """One rule compiled.

    `triggers`: literals (or outlets) of which one must hold for the rule to (None: test it on
    every article). `fast`: for rules shaped `a b -c (d | e) source:x` over leaves, the
    (required, forbidden, any-of groups, outlet) literal sets, tested with set operations
    instead of walking the tree. `names`: what `match` reports when that never varies;
    `plan`: how to find it otherwise (see `_names_plan`). `lowered`: the native tables'
    generation, the root's offset in them, and the triggers as the C core reads them (None:
    no C core).
    """

    root: _Node
    triggers: tuple[int | str, ...] | None
    keys: frozenset[int]
    leaves: tuple[_Leaf, ...]
    fast: _Fast | None
    names: tuple[str, ...] | None
    plan: tuple[_Step, ...]
    lowered: tuple[int, int, bytes] | None


class _Build:
    """What compiling one rule collects besides its tree: its keys and leaves."""

    def __init__(self) -> None:
        self.keys: set[int] = set()
        self.leaves: list[_Leaf] = []


class _Compiler:
    """Turns expressions into programs for one entity set; caches programs, keys and leaves."""

    def __init__(self, entities: Entities) -> None:
        self.entities = entities
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []
        self.edges: list[tuple[bool, bool]] = []
        self.latin = bytearray()  # key id -> whether the key is Latin (NEAR counts words)
        self.lits: dict[tuple[str, str, bool], int] = {}
        self.leaves: dict[tuple[str, str, bool, str | None], _Leaf] = {}
        self.programs: dict[str, _Program] = {}
        self.automaton: _Automata | None = None
        self.automaton_keys: frozenset[int] = frozenset()
        self.tables = native.Tables() if native.AVAILABLE else None
        self.native_automaton: Any = None
        self.native_keys: frozenset[int] = frozenset()
        self.near = 0  # > 0 while compiling a side of NEAR (sense limits need occurrences)

    def key_id(self, folded: str) -> int:
        found = self.ids.get(folded)
        if found is None:
            found = self.ids[folded] = len(self.texts)
            self.texts.append(folded)
            self.edges.append((is_word_char(folded[0]), is_word_char(folded[-1])))
            self.latin.append(_is_latin(folded))
        return found

    def lit_id(self, signature: tuple[str, str, bool]) -> int:
        return self.lits.setdefault(signature, len(self.lits))

    def program(self, expression: str) -> _Program:
        """The compiled rule; raises RuleError for an invalid expression."""
        found = self.programs.get(expression)
        if found is None:
            if len(self.programs) >= _CACHE_CAP:
                self.programs.clear()
                if self.tables is not None:
                    self.tables.clear_nodes()
            build = _Build()
            root = self.node(g.parse(expression, entities=self.entities), False, build, ())
            triggers = _triggers(root)
            tables = self.tables
            lowered = None if tables is None else (tables.generation, root.lower(tables),
                                                   tables.triggers(triggers))
            found = self.programs[expression] = _Program(
                root, triggers, frozenset(build.keys), tuple(build.leaves), _fast(root),
                *_names(root), lowered)
        return found

    def node(self, ast: g.Node, title: bool, build: _Build, whom: tuple[Entity, ...]
             ) -> _Node:
        """The compiled node; `whom`: the entities an enclosing AND names beside it (what the
        `{who}` aliases of an action in it are made with)."""
        if isinstance(ast, (g.Term, g.Phrase, g.EntityRef, g.Source)):
            return self.leaf(ast, title, build, whom)
        if isinstance(ast, g.Title):
            return self.node(ast.child, True, build, whom)
        if isinstance(ast, g.Not):
            return _Not(self.node(ast.child, title, build, whom))
        if isinstance(ast, g.Near):
            self.near += 1
            try:
                return _Near(self.node(ast.left, title, build, whom),
                             self.node(ast.right, title, build, whom), ast.distance)
            finally:
                self.near -= 1
        if isinstance(ast, g.And):
            return self.and_(ast, title, build, whom)
        return _Or([self.node(c, title, build, whom) for c in ast.children])

    def and_(self, ast: g.And, title: bool, build: _Build, whom: tuple[Entity, ...]) -> _Node:
        """An AND; an action in it beside someone (`朝鲜 + 派兵`) must occur within
        BIND_DISTANCE of them, or they must be named in the headline: the action is theirs,
        not that of anyone else the report names; beside several (`中国 + 台湾 + 演习`), of
        each of them. A bare term's sense limit joins the AND."""
        resolved = [(child, self.resolve(child)) for child in ast.children]
        who = [child for child, e in resolved if e is not None and e.kind in WHO_KINDS]
        whom = (*whom, *(e for _, e in resolved if e is not None and e.kind in WHO_KINDS))
        children: list[_Node] = []
        for child, entity in resolved:
            node = self.node(child, title, build, whom)
            senses: list[_Node] = list(node.children) if isinstance(node, _And) else [node]
            if who and entity is not None and entity.kind == ACTION:
                own = senses[0]
                senses[0] = _one_and([_Or([
                    _Near(self.node(w, title, build, whom), own, BIND_DISTANCE),
                    _And([self.node(w, True, build, whom), own])]) for w in who])
            children += senses
        return _And(children)

    def resolve(self, ast: g.Node) -> Entity | None:
        """The entity a leaf stands for: an @ref, a bare term that is an alias, or a bare term
        the catalog does not know with its expansion across scripts and languages
        (`bot.rules.expand`) as a term's own entity."""
        if isinstance(ast, g.EntityRef):
            return self.entities.by_name[ast.name]
        if not isinstance(ast, g.Term):
            return None
        return self.entities.expand(ast.text) or _expanded(ast.text)

    def leaf(self, ast: g.Term | g.Phrase | g.EntityRef | g.Source, title: bool,
             build: _Build, whom: tuple[Entity, ...] = ()) -> _Node:
        """A leaf; for a bare term whose expansion has other senses (`rules/senses.yaml`),
        the leaf in the reports that mark none of them (one sense per discourse)."""
        if isinstance(ast, g.Source):
            return _Source(ast.name)
        entity = self.resolve(ast)
        display = None if isinstance(ast, g.EntityRef) else ast.text
        found = self._leaf(entity, display, title, build, whom)
        others = _others(ast.text) if isinstance(ast, g.Term) and entity is not None \
            and entity.name.startswith("~") and not self.near else None
        if others is None:
            return found
        return _And([found, _Not(self._leaf(others, display, False, build, ()))])

    def _leaf(self, entity: Entity | None, display: str | None, title: bool, build: _Build,
              whom: tuple[Entity, ...]) -> _Leaf:
        if entity is not None and len(entity.plain) < len(entity.aliases):
            entity = entity.about(e for e in dict.fromkeys(whom) if e is not entity)
        signature = (("entity", entity.name, title) if entity
                     else ("term", key(display or ""), title))
        leaf = self.leaves.get((*signature, display))
        if leaf is None:
            lit = self.lit_id(signature)
            leaf = self.entity(entity, lit, title, display) if entity else self.term(
                signature[1], lit, title, display or "")
            self.leaves[(*signature, display)] = leaf
        build.keys.update(leaf.trigger, *leaf.masks.values(), *((b,) for _, b, _ in leaf.gaps))
        build.leaves.append(leaf)
        return leaf

    def term(self, folded: str, lit: int, title: bool, display: str) -> _Leaf:
        k = self.key_id(folded)
        return _Leaf(lit=lit, keys={k: display}, order=(k,), latin={k: _is_latin(folded)},
                     title=title, display=display)

    def entity(self, entity: Entity, lit: int, title: bool, display: str | None) -> _Leaf:
        aliases: dict[int, str] = {}
        gaps: list[tuple[int, int, str]] = []
        for alias in entity.aliases:
            pair = gap_parts(alias)
            if pair:
                gaps.append((self.key_id(pair[0]), self.key_id(pair[1]), alias))
            else:
                aliases.setdefault(self.key_id(key(alias)), alias)
        excluded = [key(e) for e in entity.exclude]
        masks = {k: m for k in aliases if (m := tuple(
            self.key_id(e) for e in excluded if self.texts[k] in e and self.texts[k] != e))}
        latin = {k: _is_latin(self.texts[k]) for k in (*aliases, *(k for a, b, _ in gaps
                                                                   for k in (a, b)))}
        order = tuple(sorted(aliases, key=self.texts.__getitem__))
        return _Leaf(lit=lit, keys=aliases, order=order, latin=latin, title=title,
                     display=display, gaps=tuple(gaps), masks=masks, entity=True)

    def automaton_for(self, needed: frozenset[int]) -> _Automata:
        """Automata holding every needed key: the last ones if they still fit, else new."""
        if self.automaton is not None and needed <= self.automaton_keys \
                and len(self.automaton_keys) <= 2 * len(needed) + 256:
            return self.automaton
        self.automaton = _Automata([(k, self.texts[k], self.edges[k]) for k in sorted(needed)])
        self.automaton_keys = needed
        return self.automaton

    def core(self, rules: list[Rule], programs: list[_Program], keys: frozenset[int]) -> Any:
        """The C core for one rule set (its automaton reused like `automaton_for`'s)."""
        tables = self.tables
        assert tables is not None
        if self.native_automaton is None or not keys <= self.native_keys \
                or len(self.native_keys) > 2 * len(keys) + 256:
            self.native_automaton = native.automaton([
                (k, self.texts[k], self.edges[k][0] | self.edges[k][1] << 1)
                for k in sorted(keys)])
            self.native_keys = keys
        lowered = [p.lowered for p in programs if p.lowered is not None]
        assert len(lowered) == len(programs)
        return native.core(
            tables, self.native_automaton, latin=self.latin,
            roots=[root if generation == tables.generation else p.root.lower(tables)
                   for p, (generation, root, _) in zip(programs, lowered, strict=True)],
            triggers=[t for _, _, t in lowered],
            sources=[(i, [s.casefold() for s in r.sources]) for i, r in enumerate(rules)
                     if r.sources],
            ids=tuple(r.id for r in rules), statics=tuple(p.names for p in programs))


@lru_cache(maxsize=4096)
def _others(term: str) -> Entity | None:
    """What marks another sense of a bare term's expansion, as an entity (None: nothing); a
    marker inside one of the term's own forms does not count ("fire drill" in "live-fire
    drill")."""
    found = expand(term)
    if found is None or not found.others:
        return None
    own = tuple(a for a in found.aliases if not gap_parts(a))
    return Entity(name=f"~{key(term)}!", aliases=found.others, kind=TERM, label=term,
                  exclude=own)


@lru_cache(maxsize=4096)
def _expanded(term: str) -> Entity | None:
    """A bare term's own entity: the term and its expansion (None when there is none)."""
    found = expand(term)
    if found is None:
        return None
    kind = NAME if found.name else ACTION if found.acts else TERM
    return Entity(name=f"~{key(term)}", aliases=found.aliases, kind=kind, label=term)


def _one_and(nodes: list[_Node]) -> _Node:
    """The node, or an AND of several."""
    return nodes[0] if len(nodes) == 1 else _And(nodes)


def _one(nodes: list[_Node]) -> _Node:
    """The node, or an OR of several."""
    return nodes[0] if len(nodes) == 1 else _Or(nodes)


def _utf8(text: str) -> str:
    """The UTF-8 bytes of `text` as a str of code points below 256 (same substrings)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


class _Automata:
    """Which keys occur in a text, in one pass of each of two pyahocorasick automata.

    Keys that begin and end with non-word characters (CJK, mostly) are searched in the text's
    UTF-8 bytes: pyahocorasick scans a node's children linearly, and bytes keep the root down to
    a few dozen children instead of one per CJK character. Keys with a word character at an
    edge (Latin) are searched in the text itself, and a hit counts only on word boundaries.
    """

    __slots__ = ("edged", "plain")

    def __init__(self, keys: list[tuple[int, str, tuple[bool, bool]]]) -> None:
        plain, edged = ahocorasick.Automaton(ahocorasick.STORE_INTS), ahocorasick.Automaton()
        for k, text, (left, right) in keys:
            if left or right:
                edged.add_word(text, (k, len(text), left, right))
            else:
                plain.add_word(_utf8(text), k)
        self.plain: Any = None
        self.edged: Any = None
        if len(plain):
            plain.make_automaton()
            self.plain = plain
        if len(edged):
            edged.make_automaton()
            self.edged = edged

    def keys_in(self, text: str, field: int,
                positions: dict[int, list[tuple[int, int, int]]]) -> set[int]:
        """The ids of the keys with a (whole-word, where checked) occurrence in `text`; the
        positions of word-edged keys' occurrences go into `positions` on the way."""
        found: set[int] = set(map(_value, self.plain.iter(_utf8(text)))) if self.plain \
            else set()
        if self.edged is None:
            return found
        size = len(text)
        for end, (k, length, left, right) in self.edged.iter(text):
            start = end - length + 1
            if left and start and is_word_char(text[start - 1]):
                continue
            if right and end + 1 < size and is_word_char(text[end + 1]):
                continue
            found.add(k)
            positions.setdefault(k, []).append((field, start, end + 1))
        return found


_value = itemgetter(1)


def _cost(node: _Leaf | _Source) -> int:
    """How often a trigger is expected to fire: many aliases often, long single words rarely."""
    if isinstance(node, _Source):
        return 50
    shortest = min((len(alias) for alias in node.keys.values()), default=2)
    return 10 * len(node.trigger) + max(0, 8 - shortest)


def _triggers(node: _Node) -> tuple[int | str, ...] | None:
    found = _weighted_triggers(node)
    return None if found is None else tuple(t for t, _ in found)


def _weighted_triggers(node: _Node) -> list[tuple[int | str, int]] | None:
    """Leaves of which one must hold whenever `node` holds, with costs (None: cannot tell)."""
    if isinstance(node, _Leaf):
        return [(node.lit, _cost(node))]
    if isinstance(node, _Source):
        return [(node.name, _cost(node))]
    if isinstance(node, _Not):
        return _weighted_triggers(node.child.child) if isinstance(node.child, _Not) else None
    if isinstance(node, _Or):
        found = [_weighted_triggers(c) for c in node.children]
        return None if any(t is None for t in found) else [t for ts in found if ts
                                                          for t in ts]
    children = [node.left, node.right] if isinstance(node, _Near) else node.children
    options = [t for t in map(_weighted_triggers, children) if t is not None]
    return min(options, key=lambda ts: sum(c for _, c in ts)) if options else None


def _fast(root: _Node) -> _Fast | None:
    """The set form of a rule made of leaves, negated leaves, OR-groups of leaves, one source."""
    required: set[int] = set()
    forbidden: set[int] = set()
    groups: list[frozenset[int]] = []
    source: str | None = None
    for c in root.children if isinstance(root, _And) else [root]:
        if isinstance(c, _Leaf):
            required.add(c.lit)
        elif isinstance(c, _Not) and isinstance(c.child, _Leaf):
            forbidden.add(c.child.lit)
        elif isinstance(c, _Or) and all(isinstance(x, _Leaf) for x in c.children):
            groups.append(frozenset(x.lit for x in c.children if isinstance(x, _Leaf)))
        elif isinstance(c, _Source) and source is None:
            source = c.name
        else:
            return None
    return frozenset(required), frozenset(forbidden), tuple(groups), source


# A step of a names plan: (literal that must hold or -1, what, value). What: _TEXT (value is
# the term), _ALIASES (an entity leaf: the aliases found), _WALK (a node: walk it), _TESTED
# (walk the node if it holds).
_Step = tuple[int, int, Any]
_TEXT, _ALIASES, _WALK, _TESTED = range(4)


def _names(root: _Node) -> tuple[tuple[str, ...] | None, tuple[_Step, ...]]:
    """The terms `match` reports if they never depend on the article, and the plan that finds
    them: the same walk as `root.names`, flattened (OR-groups of leaves become conditions)."""
    plan = tuple(_names_plan(root, -1))
    static = all(lit < 0 and what == _TEXT for lit, what, _ in plan)
    return (tuple(dict.fromkeys(v for _, _, v in plan)) if static else None), plan


def _names_plan(node: _Node, lit: int) -> list[_Step]:
    if isinstance(node, _Leaf):
        return [(lit, _TEXT, node.display) if node.display is not None
                else (lit, _ALIASES, node)]
    if isinstance(node, (_Not, _Source)):
        return []
    if isinstance(node, _And):
        return [step for c in node.children for step in _names_plan(c, lit)]
    if isinstance(node, _Or) and lit < 0:
        return [step for c in node.children for step in (
            _names_plan(c, c.lit) if isinstance(c, _Leaf) else [(-1, _TESTED, c)])]
    return [(lit, _WALK, node)]


def _run_plan(plan: tuple[_Step, ...], scan: _Scan) -> tuple[str, ...]:
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


_COMPILERS: weakref.WeakKeyDictionary[Entities, _Compiler] = weakref.WeakKeyDictionary()


def _compiler(entities: Entities) -> _Compiler:
    found = _COMPILERS.get(entities)
    if found is None:
        found = _COMPILERS[entities] = _Compiler(entities)
    return found


class _Index:
    """The Python path's indexes: key -> literals, literal and outlet -> rules, the automata.

    Built when the Python path first runs (match_detail, or match without the C core)."""

    def __init__(self, rules: list[Rule], programs: list[_Program], automaton: _Automata) -> None:
        self.programs = programs
        self.sources = [frozenset(s.casefold() for s in r.sources) for r in rules]
        self.fast = [p.fast for p in programs]
        self.automaton = automaton
        self.leaf_of: dict[int, _Leaf] = {}
        self.key_lits: dict[int, list[int]] = {}
        self.title_key_lits: dict[int, list[int]] = {}
        self.nonplain: set[int] = set()
        for program in programs:
            for leaf in program.leaves:
                if leaf.lit in self.leaf_of:
                    continue
                self.leaf_of[leaf.lit] = leaf
                index = self.title_key_lits if leaf.title else self.key_lits
                for k in leaf.trigger:
                    index.setdefault(k, []).append(leaf.lit)
                if not leaf.plain:
                    self.nonplain.add(leaf.lit)
        self.rules_of_lit: dict[int, list[int]] = {}
        self.source_rules: dict[str, list[int]] = {}
        self.always: list[int] = []
        for i, program in enumerate(programs):
            if program.triggers is None:
                self.always.append(i)
            for trigger in program.triggers or ():
                by: dict[Any, list[int]] = (self.source_rules if isinstance(trigger, str)
                                            else self.rules_of_lit)
                by.setdefault(trigger, []).append(i)

    def scan(self, texts: tuple[str, str], outlet: str, compiler: _Compiler) -> _Scan:
        """Find which keys occur (whole words) in the folded fields, settle the literals."""
        automata = self.automaton
        positions: dict[int, list[tuple[int, int, int]]] = {}
        title = automata.keys_in(texts[0], 0, positions) if texts[0] else set()
        keys = title | automata.keys_in(texts[1], 1, positions) if texts[1] else set(title)
        scan = _Scan(texts, keys, title, outlet, positions=positions, strings=compiler.texts,
                     edges=compiler.edges)
        true = scan.true
        for found, index in ((keys, self.key_lits), (title, self.title_key_lits)):
            for k in found:
                lits = index.get(k)
                if lits:
                    true.update(lits)
        for lit in true & self.nonplain:
            if not self.leaf_of[lit].holds(scan):
                true.discard(lit)
        return scan

    def matching(self, scan: _Scan) -> list[int]:
        """Indexes of the rules that hold, in rule order; only triggered rules are tested."""
        true, outlet = scan.true, scan.outlet
        candidates: set[int] = set(self.always)
        rules_of_lit = self.rules_of_lit
        for lit in true:
            found = rules_of_lit.get(lit)
            if found:
                candidates.update(found)
        candidates.update(self.source_rules.get(outlet, ()))
        programs, sources, fasts = self.programs, self.sources, self.fast
        matched: list[int] = []
        for i in candidates:
            if sources[i] and outlet not in sources[i]:
                continue
            fast = fasts[i]
            if fast is None:
                if programs[i].root.test(scan):
                    matched.append(i)
                continue
            required, forbidden, groups, source = fast
            if required <= true and (not forbidden or forbidden.isdisjoint(true)) \
                    and (source is None or source == outlet) \
                    and not any(map(true.isdisjoint, groups)):
                matched.append(i)
        matched.sort()
        return matched


class RuleSet:
    """All active rules, compiled into one automaton; `match` returns rule id -> terms.

    `match` runs in the C core (bot.rules.native) when the extension is built, else in Python
    (`native=False` forces Python, `native=True` requires the core); `match_detail` always runs
    in Python. Both paths return the same thing.
    """

    def __init__(self, rules: Iterable[Rule], *, entities: Entities | None = None,
                 on_error: Callable[[Rule, RuleError], None] | None = None,
                 native: bool | None = None, history: History | None = None) -> None:
        compiler = self._compiler = _compiler(entities or shipped_entities())
        self.history = history or shipped_history()
        self.rules: list[Rule] = []
        self._programs: list[_Program] = []
        for rule in rules:
            try:
                program = compiler.program(rule.expression)
                options = rule_options(rule.expression)
            except RuleError as exc:
                if on_error is None:
                    raise
                on_error(rule, exc)
                continue
            changed = options.history != rule.history or options.min_outlets > rule.min_outlets
            self.rules.append(replace(rule, history=options.history, min_outlets=max(
                rule.min_outlets, options.min_outlets)) if changed else rule)
            self._programs.append(program)
        self._history_of = {r.id: r.history for r in self.rules}
        self._history_only = any(r.history == "only" for r in self.rules)
        self._keys: frozenset[int] = frozenset().union(*(p.keys for p in self._programs))
        if native and compiler.tables is None:
            raise RuntimeError("bot.rules._cmatch is not built: reinstall with a C compiler")
        use_core = compiler.tables is not None and native is not False
        self._core: Any = compiler.core(self.rules, self._programs, self._keys) if use_core \
            else None
        self._outlets = compiler.tables.outlets if compiler.tables is not None else {}
        self._python: _Index | None = None

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def native(self) -> bool:
        """Whether `match` runs in the C core."""
        return self._core is not None

    @property
    def key_count(self) -> int:
        """How many distinct folded terms the automaton holds."""
        return len(self._keys)

    @property
    def _automaton(self) -> _Automata:
        return self._index().automaton

    def _index(self) -> _Index:
        if self._python is None:
            self._python = _Index(self.rules, self._programs,
                                  self._compiler.automaton_for(self._keys))
        return self._python

    def match(self, article: Article) -> Mapping[str, tuple[str, ...]]:
        """The rules `article` satisfies, each with the terms that made it match: a report
        about the past (`bot.rules.history`) only for the rules that ask for history."""
        texts = _texts(article)
        found = self._match(texts, article.outlet.casefold())
        return self.in_time(article, found, folded=texts) if found else found

    def in_time(self, article: Article, found: dict[str, T], *,
                folded: tuple[str, str] | None = None) -> dict[str, T]:
        """`found` (rule id -> anything) without the rules whose `history` option excludes
        the article (read only when some rule matched: most articles match none). `folded`:
        the article's folded title and text, when the caller has them."""
        historical = self.history.historical(article, folded=folded)
        history = self._history_of
        if not historical and not self._history_only:
            return found  # news: only `history:only` rules would drop it
        wanted = ("any", "only") if historical else ("any", "exclude")
        return {rule: value for rule, value in found.items()
                if history.get(rule, "exclude") in wanted}

    def _match(self, texts: tuple[str, str], outlet: str) -> dict[str, tuple[str, ...]]:
        """`match` on folded fields: in the C core when there is one (and the text fits)."""
        core = self._core
        if core is not None and len(texts[0]) + len(texts[1]) < native.MAX_CHARS:
            found: dict[str, tuple[str, ...]] = core.match(texts[0], texts[1],
                                                           self._outlets.get(outlet, -1))
            return found
        index = self._index()
        scan = index.scan(texts, outlet, self._compiler)
        matched: dict[str, tuple[str, ...]] = {}
        programs, rules = self._programs, self.rules
        for i in index.matching(scan):
            program = programs[i]
            matched[rules[i].id] = program.names if program.names is not None \
                else _run_plan(program.plan, scan)
        return matched

    def match_detail(self, article: Article) -> dict[str, RuleMatch]:
        """The rules `article` satisfies, with each occurrence (field, offsets) that counted."""
        index = self._index()
        scan = index.scan(_texts(article), article.outlet.casefold(), self._compiler)
        found: dict[str, RuleMatch] = {}
        for i in index.matching(scan):
            hits: list[MatchedTerm] = []
            self._programs[i].root.evidence(scan, hits)
            hits.sort(key=lambda h: (FIELDS.index(h.field) if h.field in FIELDS else -1,
                                     h.start, h.end))
            found[self.rules[i].id] = RuleMatch(self.rules[i], tuple(dict.fromkeys(hits)))
        return found

    def scan(self, article: Article) -> _Scan:
        """Fold title and text, find which keys occur (whole words), settle literals."""
        return self._index().scan(_texts(article), article.outlet.casefold(), self._compiler)


def _texts(article: Article) -> tuple[str, str]:
    return _one_line(fold(article.title)), _one_line(fold(article.text))


def _one_line(text: str) -> str:
    """Line breaks and tabs as spaces (same length), so phrases match across them."""
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
