"""Slack Block Kit and mrkdwn: alerts with their buttons, digests and held batches, within
Slack's limits (blocks per message, characters per section)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import i18n
from bot.actions import ACTIONS, action_data
from bot.alerts import AlertView, StoryList, alert_view
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

MAX_BLOCKS = 50  # Slack's cap per message
SECTION_LIMIT = 3000  # characters of a section's text
CONTEXT_ELEMENTS = 10  # elements of a context block
FALLBACK_LIMIT = 4000  # characters of the top-level `text` we send (Slack truncates at 40k)
BUTTON_TEXT_LIMIT = 75  # characters of a button's plain_text label (Block Kit)

_HEADLINE_CHARS = 280
_SUMMARY_CHARS = 500  # x5 at worst once escaped: within SECTION_LIMIT
_FOOTER_CHARS = 500
# A listed story is one section: headline (1,000 escaped + a 600 URL), summary (700 escaped)
# and outlets (500) stay within SECTION_LIMIT at worst.
_LIST_HEADLINE_CHARS = 200
_LIST_SUMMARY_CHARS = 140
_LIST_OUTLETS_BUDGET = 500
_URL_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", '"': "%22"}

# The buttons under an alert (bot.actions): action_id `nb_<action>`, value `nb:<action>:<story>`.
ACTION_IDS = {action: f"nb_{action}" for action in ACTIONS}
ACTIONS_BLOCK_ID = "nb_actions"

Block = dict[str, Any]


def escape_mrkdwn(text: str) -> str:
    """`text` with the three characters Slack's mrkdwn treats as control escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _http_url(url: str | None) -> str | None:
    """`url` made safe inside `<url|text>` if it is an absolute http(s) URL, else None."""
    if not url or any(not c.isprintable() for c in url) or not is_web_url(url.strip()):
        return None
    safe = "".join(_URL_UNSAFE.get(c, c) for c in url.strip()).replace("&", "&amp;")
    return safe if len(safe) <= URL_CHARS else None


def _link(label: str, url: str | None) -> str:
    """Escaped `label`, linked when `url` is linkable; a `|` in the label cannot split it."""
    target = _http_url(url)
    text = escape_mrkdwn(label)
    return f"<{target}|{text.replace('|', '｜')}>" if target else text


MRKDWN = Markup(escape=escape_mrkdwn, link=_link, bold="*{}*".format)


def section(text: str) -> Block:
    """A mrkdwn section, verbatim (no automatic links or mentions)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def context(text: str) -> Block:
    """A context block of one verbatim mrkdwn element."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def clip_lines(lines: Sequence[str], limit: int) -> str:
    """Whole lines while they fit in `limit` characters, then `…`."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > limit - 2:
            kept.append("…")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def render_blocks(alert: Alert, *, update: bool = False,
                  buttons: bool = False) -> tuple[str, list[Block]]:
    """Fallback text and Block Kit blocks of the alert layout (`bot.alerts`): linked headline,
    summary, linked outlets, matched terms and the first report's time in the chat's zone;
    with `buttons`, an `actions` block under it (`alert_buttons`).

    Every outside string is escaped for mrkdwn and only http(s) URLs become links; text
    objects are `verbatim` so titles cannot raise `@here` or link channels. Each text stays
    within SECTION_LIMIT and the fallback text within FALLBACK_LIMIT (long fields clipped with
    an ellipsis, outlets beyond the budget counted).
    """
    view = alert_view(alert, update=update)
    head = MRKDWN.bold(_link(clip(view.headline, _HEADLINE_CHARS), view.url))
    if view.update:
        head += f" _{escape_mrkdwn(view.label('updated'))}_"
    blocks: list[Block] = [section(head)]
    if view.summary:
        blocks.append(section(escape_mrkdwn(clip(view.summary, _SUMMARY_CHARS))))
    if view.outlets:
        label = view.outlets_label
        blocks.append(context(outlet_links(MRKDWN, label, view.outlets, more=view.more,
                                           budget=SECTION_LIMIT - len(escape_mrkdwn(label)))))
    if view.footer:
        blocks.append(context(escape_mrkdwn(clip(view.footer, _FOOTER_CHARS))))
    if buttons and (actions := alert_buttons(alert)) is not None:
        blocks.append(actions)
    return _fallback(view), blocks


def alert_buttons(alert: Alert) -> Block | None:
    """The `actions` block under an alert: "mute updates", "why", "outlets" (bot.actions),
    labelled in the chat's language, each carrying `nb:<action>:<story id>` as its value and
    `nb_<action>` as its action_id; None when the story id is too long for a button."""
    elements: list[Block] = []
    for action in ACTIONS:
        try:
            value = action_data(action, alert.story.id)
        except ValueError:
            return None
        label = clip(i18n.text(alert.lang, f"button.{action}"), BUTTON_TEXT_LIMIT)
        elements.append({"type": "button", "action_id": ACTION_IDS[action], "value": value,
                         "text": {"type": "plain_text", "text": label, "emoji": True}})
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def render_list_blocks(stories: StoryList) -> list[tuple[str, list[Block]]]:
    """A digest or held batch as Slack messages (fallback text, blocks): a header section,
    then one section per story (numbered linked headline, one-line summary, linked outlets),
    split so that no message passes MAX_BLOCKS; "part i of n" in the header when split."""
    sections = [listed_story(MRKDWN, n, item, stories, headline_chars=_LIST_HEADLINE_CHARS,
                             summary_chars=_LIST_SUMMARY_CHARS,
                             outlets_budget=_LIST_OUTLETS_BUDGET)
                for n, item in enumerate(stories.stories, 1)]
    if stories.more:
        sections.append(escape_mrkdwn(stories.label("more", count=stories.more)))
    per_message = MAX_BLOCKS - 1
    chunks = [sections[i:i + per_message] for i in range(0, len(sections), per_message)] or [[]]
    out = []
    for n, chunk in enumerate(chunks, 1):
        title = escape_mrkdwn(clip(part_title(stories, n, len(chunks)), _HEADLINE_CHARS))
        out.append((title, [section(f"*{title}*"), *(section(text) for text in chunk)]))
    return out


def _fallback(view: AlertView) -> str:
    """The notification text: kind and headline, summary, outlets, footer (all clipped)."""
    kind = view.label("kind_update" if view.update else "kind")
    lines = [f"{kind}: {clip(view.headline, _HEADLINE_CHARS)}"]
    if view.summary:
        lines.append(clip(view.summary, _SUMMARY_CHARS))
    if view.outlets:
        lines.append(clip(view.outlets_label + " · ".join(o for o, _ in view.outlets), 600))
    if view.footer:
        lines.append(clip(view.footer, _FOOTER_CHARS))
    return escape_mrkdwn("\n".join(lines))[:FALLBACK_LIMIT]
