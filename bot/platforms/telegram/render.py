"""Telegram HTML: alerts with their buttons, digests and held batches, command replies and
button notices, each within Telegram's limits (counted in UTF-16 code units)."""

from __future__ import annotations

import re
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.actions import ACTIONS, action_data
from bot.alerts import StoryList, alert_view
from bot.commands import CommandReply
from bot.models import Alert
from bot.platforms.layout import (
    URL_CHARS,
    Markup,
    clip,
    is_web_url,
    listed_story,
    outlet_links,
    part_title,
)

MESSAGE_LIMIT = 4096  # Telegram's cap, in UTF-16 code units of the text after entity parsing
NOTICE_LIMIT = 200  # characters of an answerCallbackQuery text

# Budgets: characters before escaping for the headline and footer (escaping can sextuple
# them), UTF-16 units after escaping for the outlets; the worst case of headline with its
# link (about 1,850), outlets (1,000) and footer (1,200) fits MESSAGE_LIMIT, and the summary
# takes what room is left, up to _SUMMARY_CHARS.
_HEADLINE_CHARS = 200
_SUMMARY_CHARS = 400
_FOOTER_CHARS = 200
_OUTLETS_BUDGET = 1000
_LIST_SUMMARY_CHARS = 200
_LIST_OUTLETS_BUDGET = 600
_CARET_LINE = re.compile(r"\s*\^+\s*")
_PRE_TAGS = len("<pre></pre>")


def units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def http_url(url: str | None) -> str | None:
    """`url` if it is a plain absolute http(s) URL we are willing to link, else None."""
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        return None
    return url if is_web_url(url) else None


def _link(inner_html: str, url: str | None) -> str:
    """`inner_html` wrapped in a link when `url` is linkable."""
    target = http_url(url)
    href = escape(target, quote=True) if target else ""
    return f'<a href="{href}">{inner_html}</a>' if 0 < len(href) <= URL_CHARS else inner_html


HTML = Markup(escape=escape, link=lambda label, url: _link(escape(label), url),
              bold="<b>{}</b>".format, measure=units)


def render_html(alert: Alert, *, update: bool = False) -> str:
    """The alert layout (`bot.alerts`) in Telegram HTML: linked bold headline, summary,
    linked outlets, matched terms and the first report's time in the chat's zone.

    Every outside string is escaped and only http(s) URLs become links. The result's length
    in UTF-16 code units (an upper bound of what Telegram counts) stays within MESSAGE_LIMIT:
    long fields are clipped with an ellipsis and outlets beyond a budget counted, never a tag
    cut.
    """
    view = alert_view(alert, update=update)
    head = HTML.bold(HTML.link(clip(view.headline, _HEADLINE_CHARS), view.url))
    if view.update:
        head += f" <i>{escape(view.label('updated'))}</i>"
    tail = []
    if view.outlets:
        label = view.outlets_label
        tail.append(outlet_links(HTML, label, view.outlets, more=view.more,
                                 budget=_OUTLETS_BUDGET - units(escape(label))))
    if view.footer:
        tail.append(f"<i>{escape(clip(view.footer, _FOOTER_CHARS))}</i>")
    lines = [head]
    room = MESSAGE_LIMIT - units(head) - sum(units(t) + 1 for t in tail) - 3
    if summary := _fit(view.summary, room):
        lines.append(summary)
    return "\n".join(lines) + ("\n\n" + "\n".join(tail) if tail else "")


def alert_keyboard(alert: Alert) -> InlineKeyboardMarkup | None:
    """The buttons under an alert, one row in the chat's language: mute this story's updates,
    why it matched, its outlets (`nb:<action>:<story id>`, see `bot.actions`); None if the
    story id does not fit Telegram's 64-byte callback_data."""
    try:
        row = [InlineKeyboardButton(i18n.text(alert.lang, f"button.{action}"),
                                    callback_data=action_data(action, alert.story.id))
               for action in ACTIONS]
    except ValueError:
        return None
    return InlineKeyboardMarkup([row])


def render_list_html(stories: StoryList, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A digest or held batch as Telegram-HTML messages within `limit`, split between stories:
    bold title (with "part i of n" when split), then per story a numbered linked headline, its
    one-line summary and its linked outlets."""
    blocks = [listed_story(HTML, n, item, stories, headline_chars=_HEADLINE_CHARS,
                           summary_chars=_LIST_SUMMARY_CHARS,
                           outlets_budget=_LIST_OUTLETS_BUDGET)
              for n, item in enumerate(stories.stories, 1)]
    if stories.more:
        blocks.append(escape(stories.label("more", count=stories.more)))
    room = limit - units(escape(stories.title)) - 60  # title, part label and tags
    messages: list[list[str]] = [[]]
    used = 0
    for block in blocks:
        cost = units(block) + 2
        if messages[-1] and used + cost > room:
            messages.append([])
            used = 0
        messages[-1].append(block)
        used += cost
    return ["\n\n".join([f"<b>{escape(part_title(stories, n, len(messages)))}</b>", *body])
            for n, body in enumerate(messages, 1)]


def _fit(text: str, room: int) -> str:
    """`text` escaped and clipped (at most _SUMMARY_CHARS) so that it takes <= `room` units."""
    limit = _SUMMARY_CHARS
    while limit > 0:
        escaped = escape(clip(text, limit))
        if units(escaped) <= room:
            return escaped
        limit //= 2
    return ""


def render_reply(reply: CommandReply, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A command reply as Telegram-HTML messages, split at line boundaries within `limit`.

    Every line is escaped; a rule error (a refusal whose lines hold a caret line) shows the
    expression and its caret in a <pre> block so the caret stays under the position. A line
    longer than a whole message is cut (before escaping, so no entity is split).
    """
    lines = list(reply.lines) or reply.text.split("\n")
    caret = not reply.ok and any(_CARET_LINE.fullmatch(line) for line in lines[1:])
    pre_from = 1 if caret else len(lines)
    budget = limit - _PRE_TAGS
    messages: list[list[tuple[str, bool]]] = [[]]
    used = 0
    for index, line in enumerate(lines):
        for part in _cut(line, budget - 1):
            cost = units(escape(part)) + 1
            if messages[-1] and used + cost > budget:
                messages.append([])
                used = 0
            messages[-1].append((part, index >= pre_from))
            used += cost
    return [_reply_html(parts) for parts in messages if any(p.strip() for p, _ in parts)]


def _cut(line: str, budget: int) -> list[str]:
    """`line` in pieces whose escaped length fits `budget` UTF-16 units."""
    if units(escape(line)) <= budget:
        return [line]
    pieces, start, used = [], 0, 0
    for index, char in enumerate(line):
        cost = units(escape(char))
        if used + cost > budget:
            pieces.append(line[start:index])
            start, used = index, 0
        used += cost
    return [*pieces, line[start:]]


def _reply_html(parts: list[tuple[str, bool]]) -> str:
    plain = "\n".join(escape(text) for text, pre in parts if not pre)
    fixed = [escape(text) for text, pre in parts if pre]
    if not fixed:
        return plain
    block = "<pre>" + "\n".join(fixed) + "</pre>"
    return f"{plain}\n{block}" if plain else block


def notice_text(text: str) -> str:
    """`text` within answerCallbackQuery's 200 characters (UTF-16 units, to be safe)."""
    if units(text) <= NOTICE_LIMIT:
        return text
    cut = text
    while units(cut) > NOTICE_LIMIT - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"
