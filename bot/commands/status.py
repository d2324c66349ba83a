"""`/status`: the feeds' health and last poll, then the chat's rules, topics, digest, mute,
quiet hours and pause. Bot admins see feed URLs (redacted), errors and warnings; everyone
else sees names and health only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import PurePath

from bot import i18n
from bot.chats import ChatDirectory
from bot.commands.call import Call, Handler, more, no_args, rule_number, when
from bot.commands.feeds import FeedCommands
from bot.commands.protocol import CommandReply
from bot.feeds.engine import feed_health
from bot.feeds.outlets import outlet_from_url
from bot.logs import redact
from bot.models import FeedSpec
from bot.store import Store

STATUS_FEEDS = 20


class StatusCommands:
    """Answers `/status` from the feeds' stored state and the chat's settings."""

    def __init__(self, store: Store, *, chats: ChatDirectory, admins: frozenset[str],
                 feeds: FeedCommands) -> None:
        self.store = store
        self.chats = chats
        self.admins = admins
        self.feeds = feeds

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"status": self.status}

    async def status(self, call: Call, args: str) -> CommandReply:
        """`/status`: feed health and last poll, then this chat's rules, topics, digest, mute."""
        no_args(args, "status")
        return call.reply(*await self._feed_health(call), *await self._chat_settings(call),
                          *await self._paused_lines(call))

    async def _paused_lines(self, call: Call) -> list[str]:
        """Whether this chat is paused (the bot cannot post here: alerts held until it is
        added back) and, for bot admins, every paused chat."""
        paused = await self.chats.paused_chats()
        lines = [call.t("status.paused_here", reason=i18n.paused_reason(call.lang, p.reason),
                        since=when(p.at)) for p in paused.values() if p.chat == call.chat]
        if call.user in self.admins and paused:
            lines.append(call.t("status.paused_chats", chats="; ".join(
                f"{p.chat} ({p.reason}, {when(p.at)})" for p in paused.values())))
        return lines

    async def _feed_health(self, call: Call) -> list[str]:
        """The feeds' health: admins see redacted URLs, errors and warnings; everyone else
        names and health only (no URL, no error text, which may quote one)."""
        admin = call.user in self.admins
        states = [(f, await self.store.feed_state(f.id)) for f, _ in await self.feeds.all_feeds()]
        failing = [(f, s) for f, s in states if s.get("status") == "error"]
        polls = [float(s["last_poll"]) for _, s in states if s.get("last_poll")]
        ok = sum(s.get("status") == "ok" for _, s in states)
        last = when(datetime.fromtimestamp(max(polls), tz=UTC)) if polls else None
        lines = [call.t("status.feeds", count=len(states), ok=ok, failing=len(failing),
                        last_poll=last or call.t("word.never"))]
        ordered = failing + [(f, s) for f, s in states if s.get("status") != "error"]
        lines += [_feed_line(call, f, s, admin=admin) for f, s in ordered[:STATUS_FEEDS]]
        return lines + more(call, len(ordered), STATUS_FEEDS)

    async def _chat_settings(self, call: Call) -> list[str]:
        none, off = call.t("word.none"), call.t("word.off")
        rules = await self.chats.rules_of(call.chat)
        topics = sorted(await self.chats.topics_of(call.chat))
        digest = await self.chats.digest_of(call.chat)
        muted = await self.chats.muted_until(call.chat, now=call.now)
        quiet = await self.chats.quiet_hours(call.chat)
        held = len(await self.chats.held(call.chat))
        return [
            call.t("status.rules", rules="; ".join(f"#{rule_number(r.id)} {r.expression}"
                                                   for r in rules) or none),
            call.t("status.topics", topics=", ".join(topics) or none),
            call.t("status.digest", digest=" ".join(digest) if digest else off),
            call.t("status.mute", mute=call.t("status.until", until=when(muted))
                   if muted else off),
            call.t("status.quiet", quiet=f"{quiet[0]:%H:%M}-{quiet[1]:%H:%M}" if quiet else off,
                   timezone=await self.chats.timezone(call.chat), held=held)]


def _feed_line(call: Call, feed: FeedSpec, state: dict[str, str], *, admin: bool) -> str:
    """One feed's health for `/status`: for admins its outlet (else its URL, redacted), last
    error and encoding warning; for others its name and health only."""
    location = (feed.outlet or redact(feed.location)) if admin else _feed_name(feed)
    health = feed_health(state)
    if health == "off":
        error = state.get("last_error", "")
        return call.t("status.feed_off", id=feed.id, location=location,
                      reason=redact(error) if admin else _error_kind(error))
    if health == "error":
        error = state.get("last_error", "")
        return call.t("status.feed_error", id=feed.id, location=location,
                      errors=state.get("errors", "?"),
                      last_error=redact(error) if admin else _error_kind(error))
    if state.get("last_poll"):
        polled = datetime.fromtimestamp(float(state["last_poll"]), tz=UTC)
        line = call.t("status.feed_ok", id=feed.id, location=location, last_poll=when(polled),
                      push=_push_note(call, state, admin=admin))
        if admin and (warning := state.get("warning", "")):
            line += call.t("status.feed_warning", warning=redact(warning)[:200])
        return line
    return call.t("status.feed_new", id=feed.id, location=location)


def _error_kind(error: str) -> str:
    """A stored feed error without its message (which may quote a URL): `http`, `timeout`,
    or `deactivated after 15 failures in a row`."""
    switched_off, marker, _ = error.partition("; last:")
    return switched_off if marker else error.partition(":")[0]


def _feed_name(feed: FeedSpec) -> str:
    """A feed as named where URLs may not be shown: its outlet, else its site (`dw.com`), else
    its folder's name."""
    if feed.outlet:
        return feed.outlet
    if feed.url is not None:
        return outlet_from_url(feed.url)
    return PurePath(feed.path or feed.id).name or feed.id


def _push_note(call: Call, state: dict[str, str], *, admin: bool) -> str:
    """The feed's WebSub subscription (bot.feeds.websub) as `/status` shows it, if any; the
    error (which may quote the hub's URL) for admins only, redacted."""
    push = state.get("websub_status", "")
    until = float(state.get("websub_until") or 0)
    if push == "active" and until > call.now.timestamp():
        return call.t("status.push_active", until=when(datetime.fromtimestamp(until, tz=UTC)))
    if push in ("denied", "error"):
        if not admin:
            return call.t("status.push_state", state=push)
        return call.t("status.push_problem", state=push,
                      error=redact(state.get("websub_error", ""))[:200])
    return ""

