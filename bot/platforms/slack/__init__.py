"""Slack: alerts rendered as Block Kit and posted through slack_sdk's async client, and the
`/newsbot` front end through slack_bolt.

Chat ids look like `slack:<channel_id>` (`slack:C0123ABCD`); message references are the
message `ts`. Requests go to `<api_url><method>` (`SLACK_API_URL`, default
`https://slack.com/api/`), so GovSlack or a test server only need a different base URL.
slack_sdk errors are translated into `ChannelError` and `RetryAfterError` (`channel`); the
client is built without retry handlers, so nothing here retries: the outbox waits out
`retry_after`. `not_in_channel`, `channel_not_found` and `is_archived` are `ChatGoneError`
(the channel is paused, see bot.chats).

- `render`: alerts (with their buttons) and lists as Block Kit within Slack's limits;
- `channel`: `SlackChannel`, which posts and edits alerts (the `Channel` protocol);
- `slash`: the slash command's payload as a `CommandRequest`, its reply as mrkdwn;
- `frontend`: `SlackFrontEnd`, the bolt adapter: `/newsbot`, the buttons under alerts
  (answered through bot.actions with an ephemeral message to the presser), the Home tab
  (`app_home_opened`) and the events that resume a paused channel
  (`member_joined_channel` for the app's bot user, `channel_unarchive`);
- `responses`: posts to a command's or a press's `response_url`;
- `home`: the Home tab: the user's channels newsbot alerts, with their rules and status.
"""

from bot.platforms.slack.channel import DEFAULT_API_URL, SlackChannel
from bot.platforms.slack.frontend import (
    ACTION_REPLY_FAILED,
    EVENTS_PATH,
    SHUTDOWN_GRACE,
    SIGNATURE_MAX_AGE,
    SOCKET_CONNECT_TIMEOUT,
    SlackFrontEnd,
    signature_problem,
)
from bot.platforms.slack.home import (
    HOME_CHANNELS,
    HOME_MAX_BLOCKS,
    HOME_PAGES,
    channel_summary,
    known_channels,
    render_home,
)
from bot.platforms.slack.render import (
    ACTION_IDS,
    ACTIONS_BLOCK_ID,
    BUTTON_TEXT_LIMIT,
    CONTEXT_ELEMENTS,
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    Block,
    alert_buttons,
    escape_mrkdwn,
    render_blocks,
    render_list_blocks,
)
from bot.platforms.slack.responses import MAX_RETRY_WAIT, REPLY_ATTEMPTS, RESPONSE_URL_USES
from bot.platforms.slack.slash import (
    COMMAND,
    FAILED_REPLY,
    REPLY_LIMIT,
    command_request,
    render_reply,
    response_type,
    unescape_command,
)

__all__ = [
    "ACTIONS_BLOCK_ID",
    "ACTION_IDS",
    "ACTION_REPLY_FAILED",
    "BUTTON_TEXT_LIMIT",
    "COMMAND",
    "CONTEXT_ELEMENTS",
    "DEFAULT_API_URL",
    "EVENTS_PATH",
    "FAILED_REPLY",
    "FALLBACK_LIMIT",
    "HOME_CHANNELS",
    "HOME_MAX_BLOCKS",
    "HOME_PAGES",
    "MAX_BLOCKS",
    "MAX_RETRY_WAIT",
    "REPLY_ATTEMPTS",
    "REPLY_LIMIT",
    "RESPONSE_URL_USES",
    "SECTION_LIMIT",
    "SHUTDOWN_GRACE",
    "SIGNATURE_MAX_AGE",
    "SOCKET_CONNECT_TIMEOUT",
    "Block",
    "SlackChannel",
    "SlackFrontEnd",
    "alert_buttons",
    "channel_summary",
    "command_request",
    "escape_mrkdwn",
    "known_channels",
    "render_blocks",
    "render_home",
    "render_list_blocks",
    "render_reply",
    "response_type",
    "signature_problem",
    "unescape_command",
]
