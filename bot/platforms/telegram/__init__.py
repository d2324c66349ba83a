"""Telegram through python-telegram-bot: the alert channel and the command front end.

Chat ids look like `telegram:<chat_id>` (a number, negative for groups, or `@channelname`);
message references are the Telegram message id as a string. Requests go to
`<api_url>/bot<token>/<method>`, so `TELEGRAM_API_URL` can point at a self-hosted Bot API
server or a test server. PTB errors are translated into `ChannelError` and `RetryAfterError`
(`channel`); alert sends never retry, the outbox waits out `retry_after` itself.

- `render`: alerts, lists, command replies and notices as Telegram HTML within its limits;
- `channel`: `TelegramChannel`, which posts and edits alerts (the `Channel` protocol);
- `flood`: `FloodControl`, which every message the bot posts or edits, alerts and command
  replies alike, passes (Telegram's limits, `bot.pacing.TelegramLimits`);
- `frontend`: `TelegramFrontEnd`, commands (long polling or a webhook) to the interpreter and
  its replies back, and the buttons under alerts (`bot.actions`), each press answered once;
- `members`: who may manage a chat, and the bot's own membership changing;
- `menu`: the command menu.
"""

from bot.platforms.telegram.channel import DEFAULT_API_URL, TelegramChannel
from bot.platforms.telegram.flood import FloodControl, FloodLimits
from bot.platforms.telegram.frontend import (
    ALLOWED_UPDATES,
    BUTTON_FAILED,
    FAILED,
    MAX_REPLY_WAIT,
    POLL_TIMEOUT,
    REPLY_ATTEMPTS,
    SECRET_HEADER,
    TelegramFrontEnd,
    webhook_secret_for,
)
from bot.platforms.telegram.members import ADMIN_TTL
from bot.platforms.telegram.menu import COMMAND_MENU, COMMANDS
from bot.platforms.telegram.render import (
    MESSAGE_LIMIT,
    NOTICE_LIMIT,
    alert_keyboard,
    notice_text,
    render_html,
    render_list_html,
    render_reply,
)

__all__ = [
    "ADMIN_TTL",
    "ALLOWED_UPDATES",
    "BUTTON_FAILED",
    "COMMANDS",
    "COMMAND_MENU",
    "DEFAULT_API_URL",
    "FAILED",
    "MAX_REPLY_WAIT",
    "MESSAGE_LIMIT",
    "NOTICE_LIMIT",
    "POLL_TIMEOUT",
    "REPLY_ATTEMPTS",
    "SECRET_HEADER",
    "FloodControl",
    "FloodLimits",
    "TelegramChannel",
    "TelegramFrontEnd",
    "alert_keyboard",
    "notice_text",
    "render_html",
    "render_list_html",
    "render_reply",
    "webhook_secret_for",
]
