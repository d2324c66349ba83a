"""The platform-neutral command interpreter: command text in, a reply and store changes out.

Telegram handlers, the Slack slash command and `newsbot chat` are thin adapters: they build a
`CommandRequest` and render the `CommandReply`'s plain text for their platform. Replies are in
the chat's `/lang` language; every user-visible string lives in `bot.i18n`.

- `protocol`: the request and reply types and `split_command`;
- `interpreter`: `CommandInterpreter`, which dispatches each command to its area;
- `call`: one command being handled (`Call`) and the helpers areas share;
- the areas: `rules` (with `ranking`, the backtest over stored stories), `topics`, `digest`,
  `holds` (mute, quiet hours, time zone), `feeds`, `status`, `chat` (language, whoami).

Feeds added from chat are stored by `bot.store.AddedFeeds`; their URLs are checked by
`bot.feeds.guard.url_problem`; times, ranges, durations and zones are read by `bot.timeparse`.
"""

from bot.commands.interpreter import CommandInterpreter
from bot.commands.protocol import CommandReply, CommandRequest, split_command
from bot.commands.rules import MAX_RULES_PER_CHAT
from bot.feeds.guard import url_problem
from bot.store import AddedFeeds

__all__ = ["MAX_RULES_PER_CHAT", "AddedFeeds", "CommandInterpreter", "CommandReply",
           "CommandRequest", "split_command", "url_problem"]
