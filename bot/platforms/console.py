"""The console channel: alerts printed as plain text, for the demo and for trying rules."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.alerts import StoryList, alert_view
from bot.models import Alert, StoryArticle


def render_text(alert: Alert, *, update: bool = False) -> str:
    """The alert layout (`bot.alerts`) as plain text; links follow as one line per report."""
    view = alert_view(alert, update=update)
    kind = view.label("kind_update" if update else "kind").upper()
    lines = [f"[{kind}] {view.headline}", f"  story {alert.story.id}"]
    if view.summary:
        lines.append(f"  {view.summary}")
    if view.outlets:
        lines.append("  " + view.outlets_label + " · ".join(o for o, _ in view.outlets))
    if view.footer:
        lines.append(f"  {view.footer}")
    lines.extend(_report_line(article) for article in alert.story.articles)
    return "\n".join(lines)


def report_time(article: StoryArticle) -> str:
    """When a report was published, and how that is known: "2024-10-21 11:47 UTC" (its
    feed), "2024-10-21, from its text", "undated, seen 2026-12-06 16:40 UTC"."""
    if article.time_source == "text":
        return f"{article.time:%Y-%m-%d}, from its text"
    stamp = f"{article.time:%Y-%m-%d %H:%M} UTC"
    return stamp if article.dated else f"undated, seen {stamp}"


def _report_line(article: StoryArticle) -> str:
    when = report_time(article)
    return f"  - {article.outlet}, {when}: {article.title}" + (
        f" <{article.url}>" if article.url else "")


def render_list_text(stories: StoryList) -> str:
    """A digest or held batch as plain text: title, then per story headline, summary, links."""
    lines = [stories.title]
    for rank, item in enumerate(stories.stories, 1):
        lines.append(f"{rank}. {item.headline}")
        if item.summary:
            lines.append(f"   {item.summary}")
        if item.outlets:
            lines.append("   " + " · ".join(o for o, _ in item.outlets))
        lines.extend(f"   <{url}>" for _, url in item.outlets[:1] if url)
    if stories.more:
        lines.append(stories.label("more", count=stories.more))
    return "\n".join(lines)


class ConsoleChannel:
    """Prints alerts to a stream (stdout by default); references count the alerts printed."""

    platform = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.count = 0

    async def send(self, alert: Alert) -> str:
        """Print a new alert."""
        self.count += 1
        print(render_text(alert), file=self.stream, flush=True)
        return f"{alert.chat}#{alert.story.id}"

    async def edit(self, ref: str, alert: Alert) -> None:
        """Print the updated alert (a terminal cannot edit what it printed)."""
        print(render_text(alert, update=True), file=self.stream, flush=True)

    def list_messages(self, stories: StoryList) -> list[Any]:
        """A digest or held batch as one text (a terminal has no length limit)."""
        return [render_list_text(stories)]

    def notice_messages(self, text: str) -> list[Any]:
        """A notice as one text."""
        return [text]

    async def post(self, chat: str, message: Any) -> str:
        """Print one message from `list_messages` or `notice_messages`."""
        self.count += 1
        print(str(message), file=self.stream, flush=True)
        return f"{chat}#list{self.count}"
