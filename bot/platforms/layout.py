"""Layout helpers shared by the platform renderers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

MORE_RESERVE = 40  # room kept for a trailing "+N more"


def join_within(items: Sequence[str], sep: str, *, budget: int,
                measure: Callable[[str], int] = len) -> str:
    """Items joined by `sep` while they fit in `budget` (as `measure` counts), then `+N more`."""
    shown: list[str] = []
    used = 0
    for item in items:
        cost = measure(item) + (measure(sep) if shown else 0)
        if used + cost > budget - MORE_RESERVE:
            return sep.join([*shown, f"+{len(items) - len(shown)} more"])
        shown.append(item)
        used += cost
    return sep.join(shown)
