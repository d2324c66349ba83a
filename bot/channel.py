"""The Channel protocol that delivery talks to (outbox, digests, notices); each platform in
bot/platforms/ implements it and renders alerts its own way."""

from __future__ import annotations

from typing import Any, Protocol

from bot.alerts import StoryList
from bot.models import Alert


class Channel(Protocol):
    """A chat platform that can post an alert and later edit it.

    `platform` is the prefix of the chat ids it serves (`console`, `telegram`, `slack`).
    `send` posts a new alert and returns a reference the platform can edit by (a message id,
    a Slack `ts`), stored with the alert; `edit` re-renders the alert at that reference when
    the story changes. Digests and held batches go out through `list_messages` and `post`,
notices to admins through `notice_messages` and `post`.
    Sending methods raise `ChannelError`, or `RetryAfterError` when the platform asks the
    caller to wait; they never retry by themselves.
    """

    platform: str

    async def send(self, alert: Alert) -> str:
        """Post `alert` to `alert.chat`; return the message reference."""
        ...

    async def edit(self, ref: str, alert: Alert) -> None:
        """Replace the message at `ref` with the current `alert`."""
        ...

    def list_messages(self, stories: StoryList) -> list[Any]:
        """A digest or a batch of held alerts as this platform's messages, split within its
        limits (an opaque value per message, for `post`)."""
        ...

    def notice_messages(self, text: str) -> list[Any]:
        """A plain-text notice from the bot (e.g. to its admins: a feed was switched off) as
        this platform's messages, escaped and split within its limits (for `post`)."""
        ...

    async def post(self, chat: str, message: Any) -> str:
        """Post one message made by `list_messages` or `notice_messages`; return its
        reference."""
        ...
