"""The console channel: alerts printed as plain text, for the demo and for trying rules."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.models import Alert, Story


def render_text(alert: Alert, *, update: bool = False) -> str:
    """A plain-text alert: headline, outlets, why it matched, one line per report."""
    story = alert.story
    outlets = story.outlets
    head = "UPDATE" if update else "ALERT"
    lines = [f"[{head}] {story.headline}",
             f"  story {story.id} · {len(outlets)} outlet{'s' if len(outlets) != 1 else ''}: "
             + " · ".join(outlets)]
    if alert.terms:
        lines.append(f"  matched: {', '.join(alert.terms)}"
                     + (f" ({', '.join(alert.rules)})" if alert.rules else ""))
    lines.extend(_report_line(story, i) for i in range(len(story.articles)))
    return "\n".join(lines)


def _report_line(story: Story, index: int) -> str:
    article = story.articles[index]
    when = f"{article.time:%Y-%m-%d %H:%M} UTC" if article.dated else "undated"
    return f"  - {article.outlet}, {when}: {article.title}" + (
        f" <{article.url}>" if article.url else "")


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
