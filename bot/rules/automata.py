"""The Python path's automaton pass: which keys occur in a text (pyahocorasick)."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import ahocorasick

from bot.rules.scan import is_word_char


def _utf8(text: str) -> str:
    """The UTF-8 bytes of `text` as a str of code points below 256 (same substrings)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


class Automata:
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

