"""One article after the automaton pass (`Scan`): which keys occur and where, which literals
hold; the occurrences compiled nodes report, and the distances NEAR and gap aliases measure.
Also what matching returns (`MatchedTerm`, `RuleMatch`).

Positions are offsets into the folded field text (0: title, 1: text), found only for the keys
that need them and kept for the article.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from typing import NamedTuple

from bot.models import Rule

FIELDS = ("title", "text")
_WORD_SPLIT_RE = re.compile(r"([^\W_]+)")


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


class Occ(NamedTuple):
    """An occurrence: of a leaf (`term` as reported, `alias` found) or of a NEAR (`parts`)."""

    field: int
    start: int
    end: int
    latin: bool
    term: str = ""
    alias: str = ""
    parts: tuple[Occ, ...] = ()


new_occ = partial(tuple.__new__, Occ)  # what namedtuple._make does, minus the checks


def leaf_occurrences(occurrences: Iterable[Occ]) -> Iterator[Occ]:
    """The leaf occurrences inside (NEAR occurrences are made of two others)."""
    for o in occurrences:
        if o.parts:
            yield from leaf_occurrences(o.parts)
        else:
            yield o


def matched_terms(occurrences: Iterable[Occ]) -> Iterator[MatchedTerm]:
    for o in leaf_occurrences(occurrences):
        yield MatchedTerm(o.term, o.alias, FIELDS[o.field], o.start, o.end)


def is_word_char(ch: str) -> bool:
    """Letters and digits of space-separated scripts; CJK, kana and Hangul are not."""
    return (ch.isalnum() or ch == "_") and ch < "\u1100"


def is_latin(text: str) -> bool:
    return all(ch < "\u1100" or not ch.isalnum() for ch in text)


class Scan:
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
        self.memo: dict[int, list[Occ]] = {}  # id(node) -> its occurrences
        self.spots: dict[int, list[Occ]] = {}  # literal (~id(node)) -> where it occurs
        self.names: dict[int, tuple[str, ...]] = {}  # id(leaf) -> the aliases it found
        self.words: dict[int, list[int]] = {}
        # (a, b, title only) -> the occurrences of the gap alias `a...b` (see `compiled.Leaf._gap`)
        self.gaps: dict[tuple[int, int, bool], list[tuple[tuple[int, int, int],
                                                          tuple[int, int, int]]]] = {}
        self.starts: dict[int, tuple[list[Occ], list[tuple[int, int]], int]] = {}

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


def _close(scan: Scan, a: Occ, b: Occ, distance: int, *, ordered: bool) -> bool:
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


def within(scan: Scan, a: Occ, b: Occ, distance: int) -> bool:
    """True when a and b are in one field, at most `distance` words or characters apart."""
    return a.field == b.field and _close(scan, a, b, distance, ordered=False)


def _starts(scan: Scan, ys: list[Occ]) -> tuple[list[tuple[int, int]], int]:
    """The (field, start) of each occurrence, and the longest occurrence (memoized per list)."""
    memo = scan.starts.get(id(ys))
    if memo is None:  # keeps `ys` alive with its starts, so its id is not reused
        memo = scan.starts[id(ys)] = (ys, [(y.field, y.start) for y in ys],
                                      max((y.end - y.start for y in ys), default=0))
    return memo[1], memo[2]


def any_close(scan: Scan, xs: list[Occ], ys: list[Occ], distance: int) -> bool:
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


CLAUSE, AGENT = 1, 2  # a binding NEAR's flags (the C core's BIND_*): see `bound`
OTHER = 4  # a NEAR's flag: its right side's occurrences no one on its left does (`done_by`)
_STOPS = frozenset("。!?;")  # what ends a sentence (folded: ！？； are !?; already)
_OBJECT_GAPS = frozenset({"", "了", "on", "against", "at"})  # action then whom it is done to
_OBJECT_MARKS = frozenset("对向")  # 对/向 someone, then the action: done to them
_SAYS = ("说", "称", "表示", "指出")  # `X说，` then what X says, with a subject of its own


def bound(scan: Scan, who: Occ, act: Occ, flags: int) -> bool:
    """Whether an action is someone's, for a pair already within the binding distance: both
    in one sentence and, with AGENT (the one a rule names beside an action is its doer),
    `who` neither the one the action is done to (`袭击俄罗斯`, `attacks on Russia`,
    `对俄罗斯发动袭击`) nor in another clause of Chinese text: one begun after the action (a
    comma or a space between Chinese characters: `袭击以色列 俄罗斯呼吁克制`), or what they
    say (`俄罗斯州长说，乌克兰无人机袭击...`)."""
    text = scan.texts[who.field]
    first, second = (who, act) if who.start <= act.start else (act, who)
    agent = flags & AGENT
    after = who.start >= act.end
    chinese = agent and not (who.latin and act.latin)
    for i in range(first.end, second.start):
        ch = text[i]
        if ch in _STOPS or (ch == "." and _full_stop(text, i)):
            return False
        if chinese and ch == "," and (after or text.endswith(_SAYS, 0, i)):
            return False
        if chinese and after and ch == " " and _between_chinese(text, i):
            return False
    if not agent:
        return True
    if after:
        return text[act.end:who.start].strip() not in _OBJECT_GAPS
    return who.end > act.start or who.start == 0 or text[who.start - 1] not in _OBJECT_MARKS


_DONE_GAPS = frozenset({"", "'s", "\u2019s", "的", "发动的", "发起的"})  # doer, then the action
_JOINED = frozenset("对向与和及、&")  # before someone: the action is done to them, or they are
# one of several doers (以色列和美国空袭)


def done_by(scan: Scan, who: Occ, act: Occ) -> bool:
    """Whether someone is an action's own doer: right before it (`Israeli air strikes`,
    `以色列空袭`) or its possessor (`Israel's air strikes`, `以色列发动的空袭`); not when the
    action is done to them (`对以色列空袭`) nor when they are one of several named together
    (`India and Israeli ...`, `印度和以色列空袭`)."""
    if who.field != act.field or who.end > act.start:
        return False
    text = scan.texts[who.field]
    if text[who.end:act.start].strip() not in _DONE_GAPS:
        return False
    i = who.start
    while i > 0 and text[i - 1].isspace():
        i -= 1
    return i == 0 or not (text[i - 1] in _JOINED or (
        text.endswith("and", 0, i) and (i == 3 or not text[i - 4].isalnum())))


def _full_stop(text: str, i: int) -> bool:
    """A period at i that ends a sentence: then a space (or the end), after a word of two
    letters or more (not the dots of U.S. or D.C.)."""
    return (i + 1 == len(text) or text[i + 1] == " ") and i >= 2 and text[i - 1].isalnum() \
        and text[i - 2].isalnum()


def _between_chinese(text: str, i: int) -> bool:
    """A space at i with Chinese on both sides: a headline's clause break."""
    return 0 < i < len(text) - 1 and text[i - 1] >= "\u2e80" and text[i + 1] >= "\u2e80"


def by_position(occurrences: list[Occ]) -> list[Occ]:
    return sorted(occurrences, key=lambda o: (o.field, o.start))


def ordered_pairs(scan: Scan, left: list[Occ], right: list[Occ], distance: int,
                  bind: int = 0) -> Iterator[tuple[Occ, Occ, bool]]:
    """Every pair (x, y) within `distance`, x from one side and y from the other starting at or
    after x (strictly after when x is from the right), with whether x is from the left; in the
    order of x, a merge of the two sides (the left first on ties), then of y. Each x's partners
    start at the other side's merge cursor, so an x with none costs a comparison. `bind`: the
    flags of a binding NEAR (someone on the left, their action on the right; see `bound`)."""
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
            if _close(scan, x, others[k], distance, ordered=False) and (not bind or bound(
                    scan, *((x, others[k]) if from_left else (others[k], x)), bind)):
                yield x, others[k], from_left
            k += 1
