"""Layout helpers shared by the platform renderers: clipping, joining within a budget, which
URLs may be linked, and a listed story (digests, held batches) in any platform's markup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot import i18n
from bot.alerts import ListedStory, StoryList, outlets_label

MORE_RESERVE = 40  # room kept for a trailing "+N more"
OUTLET_CHARS = 40  # characters of an outlet's name, before escaping
URL_CHARS = 600  # longer URLs (as sent) are shown unlinked rather than eat the budget


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis (before escaping)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def is_web_url(url: str) -> bool:
    """True if `url` is an absolute http(s) URL (a scheme and a host, as urlsplit reads it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


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


def part_title(stories: StoryList, part: int, parts: int) -> str:
    """The list's title, with "part i of n" when it is split into several messages."""
    if parts <= 1:
        return stories.title
    return stories.title + " " + stories.label("digest.part", part=part, parts=parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Markup:
    """How one platform writes text: `escape` plain text, `link` a plain label (escaped, and
    linked when the URL may be linked), `bold` markup; `measure` counts length as the
    platform's limits do."""

    escape: Callable[[str], str]
    link: Callable[[str, str | None], str]
    bold: Callable[[str], str]
    measure: Callable[[str], int] = len


def outlet_links(markup: Markup, label: str, outlets: Sequence[tuple[str, str | None]], *,
                 budget: int, more: Callable[[int], str]) -> str:
    """The escaped `label`, then the outlets (names clipped, linked) joined by " · " while
    they fit in `budget` (the label not counted), then `more(N)`."""
    items = [markup.link(clip(outlet, OUTLET_CHARS), url) for outlet, url in outlets]
    return markup.escape(label) + join_within(items, " · ", budget=budget,
                                              measure=markup.measure, more=more)


def listed_story(markup: Markup, rank: int, item: ListedStory, stories: StoryList, *,
                 headline_chars: int, summary_chars: int, outlets_budget: int) -> str:
    """One story of a digest or held batch: its numbered linked headline in bold, its
    one-line summary and its linked outlets, each clipped to its budget."""
    lines = [f"{rank}. {markup.bold(markup.link(clip(item.headline, headline_chars), item.url))}"]
    if item.summary:
        lines.append(markup.escape(clip(item.summary, summary_chars)))
    if item.outlets:
        lines.append(outlet_links(
            markup, outlets_label(stories.lang, len(item.outlets)), item.outlets,
            budget=outlets_budget, more=lambda n: i18n.text(stories.lang, "alert.more", count=n)))
    return "\n".join(lines)
