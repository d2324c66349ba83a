"""Negation: a mention a report denies is no mention (`rules/negation.yaml`).

"North Korea denied sending troops", "这并非演习", "演习与台湾问题无关": a cue (`before`: 否认,
并非, not, denied ...) denies the words after it in its clause, or (`after`: 无关, 不实 ...)
the words before it: at most `chars` characters from a Chinese cue, `words` words from a Latin
one, and never past what ends a clause (BREAKS). A cue inside a `keep` phrase ("not only",
不是第一次) denies nothing. The occurrences of rule keys inside a denied span are dropped right
after the automaton pass, in both engine paths (the C core's `negate`, `deny` here), so every
term, entity, action and gap alias of every rule sees the same thing: a report whose only
mention of a term is denied does not match a rule that needs it; a report that also affirms
it still does. Cues are keys of the automaton like any other; their kinds go to the C core
as one byte per key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from bot.errors import ConfigError
from bot.text import fold_key

NEGATION_FILE = "negation.yaml"
NONE, BEFORE, AFTER, KEEP = range(4)  # a key's cue kind (the C core's CUE_*)
BREAKS = frozenset(",.;:!?()[]。")  # what ends a clause (folded text: ，is , already)

Span = tuple[int, int, int]  # field, start, end


@dataclass(frozen=True, slots=True)
class Negation:
    """The cues of one file (folded), and how far they reach."""

    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    chars: int = 12
    words: int = 6

    def cues(self) -> dict[str, int]:
        """Folded cue -> its kind."""
        out: dict[str, int] = {}
        for kind, words in ((KEEP, self.keep), (AFTER, self.after), (BEFORE, self.before)):
            for word in words:
                out.setdefault(fold_key(word), kind)
        return out


def load_negation(path: Path) -> Negation:
    """The cues of one file; ConfigError naming the file for a bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the negation cues: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"before", "after", "keep", "chars", "words"}:
        raise ConfigError(f"{path}: expected `before`, `after`, `keep`, `chars` and `words`")
    lists: dict[str, tuple[str, ...]] = {}
    for section in ("before", "after", "keep"):
        items = data.get(section) or []
        if not isinstance(items, list) or not all(isinstance(i, str) and fold_key(i)
                                                  for i in items):
            raise ConfigError(f"{path}: `{section}` must be a list of words")
        lists[section] = tuple(str(i).strip() for i in items)
    reach = {}
    for name, default in (("chars", 12), ("words", 6)):
        value = data.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
            raise ConfigError(f"{path}: `{name}` must be a number from 1 to 50")
        reach[name] = value
    return Negation(lists["before"], lists["after"], lists["keep"], **reach)


@cache
def shipped_negation() -> Negation:
    """The shipped `rules/negation.yaml`, or no cues when it is missing."""
    from bot.rules.entities import shipped_path

    path = shipped_path().with_name(NEGATION_FILE)
    return load_negation(path) if path.is_file() else Negation()


def scope(text: str, field: int, start: int, end: int, kind: int, *, latin: bool,
          chars: int, words: int) -> Span:
    """The span a cue at [start, end) of `text` denies (the C core's `denied`)."""
    if kind == BEFORE:
        return field, end, _reach(text, end, 1, latin=latin, chars=chars, words=words)
    return field, _reach(text, start, -1, latin=latin, chars=chars, words=words), start


def _reach(text: str, origin: int, step: int, *, latin: bool, chars: int, words: int) -> int:
    """How far from `origin` a cue reaches, forward (`step` 1) or back (-1): to a clause
    break, or `chars` characters of Chinese, or `words` words of Latin text."""
    pos, count, prev = origin, 0, False
    while pos < len(text) if step > 0 else pos > 0:
        ch = text[pos] if step > 0 else text[pos - 1]
        if ch in BREAKS or (not latin and abs(pos - origin) >= chars):
            break
        alnum = ch.isalnum()
        if latin and alnum and not prev:
            if count == words:
                break
            count += 1
        prev = alnum
        pos += step
    return pos


def deny(texts: tuple[str, str], found: Iterable[int], kinds: Mapping[int, int],
         at: Callable[[int], list[Span]], latin: Callable[[int], bool], *, chars: int,
         words: int) -> list[Span] | None:
    """The spans the cues found in `texts` deny (None: no cue denies anything); `at(k)`: the
    occurrences of key k, `latin(k)`: whether key k is Latin."""
    cues = [k for k in found if kinds.get(k, NONE) in (BEFORE, AFTER)]
    if not cues:
        return None
    keeps = [o for k in found if kinds.get(k, NONE) == KEEP for o in at(k)]
    spans = [scope(texts[f], f, s, e, kinds[k], latin=latin(k), chars=chars, words=words)
             for k in cues for f, s, e in at(k)
             if not any(g[0] == f and g[1] <= s and e <= g[2] for g in keeps)]
    return spans or None


def inside(spans: list[Span], f: int, s: int, e: int) -> bool:
    """Whether [s, e) of field f lies inside one of `spans`."""
    return any(z[0] == f and z[1] <= s and e <= z[2] for z in spans)
