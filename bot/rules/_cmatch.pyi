"""Types of the C core (bot/rules/_cmatch.c); bot.rules.native builds its arguments."""

from collections.abc import Sequence

from typing_extensions import Buffer

class Automaton:
    """Aho-Corasick over code points: (key id, folded text, edges: 1 left, 2 right)."""

    states: int

    def __init__(self, keys: Sequence[tuple[int, str, int]]) -> None: ...

class Core:
    """One rule set's tables; `match` runs one article's folded title and text."""

    automaton: Automaton

    def __init__(self, automaton: Automaton, latin: Buffer, lit_offsets: Buffer,
                 lit_data: Buffer, nodes: Buffer, node_count: int, terms: tuple[str, ...],
                 roots: Buffer, triggers: Buffer, sources: Buffer, ids: tuple[str, ...],
                 statics: tuple[tuple[str, ...] | None, ...], outlet_count: int,
                 gap_chars: int, gap_words: int, cues: Buffer = ..., neg_chars: int = ...,
                 neg_words: int = ...) -> None: ...
    def match(self, title: str, text: str, outlet: int, /) -> dict[str, tuple[str, ...]]: ...
