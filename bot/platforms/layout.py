"""Layout helpers shared by the platform renderers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

MORE_RESERVE = 40  # room kept for a trailing "+N more"


def join_within(items: Sequence[str], sep: str, *, budget: int,
                measure: Callable[[str], int] = len,
                more: Callable[[int], str] = "+{} more".format) -> str:
    """Items joined by `sep` while they fit in `budget` (as `measure` counts), then `more(N)`
    for the N left out (at most MORE_RESERVE long)."""
    shown: list[str] = []
    used = 0
    for item in items:
        cost = measure(item) + (measure(sep) if shown else 0)
        if used + cost > budget - MORE_RESERVE:
            return sep.join([*shown, more(len(items) - len(shown))])
        shown.append(item)
        used += cost
    return sep.join(shown)
