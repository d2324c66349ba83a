"""The `newsbot` command line: run the service, poll once, inspect stories, rules, feeds
and the outbox."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import __version__
from bot.alerts import AlertComposer
from bot.app import CONSOLE_CHAT, App
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.cli_tools import feeds_command, open_cli_store, outbox_command
from bot.commands import CommandRequest
from bot.config import Settings, load_settings
from bot.dedup.explain import explain, explain_text, list_stories
from bot.errors import ConfigError, NewsbotError
from bot.logs import Progress, setup_logging
from bot.models import Article
from bot.platforms.console import render_text
from bot.rules.backtest import run_rules_test
from bot.rules.topics import load_rule_files, load_topics
from bot.store import STORE_FAILURES, Store, embedded_role
from bot.timeparse import duration


def parse_duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d` (bot.timeparse, as chat commands read them) -> timedelta; an
    argparse error otherwise."""
    found = duration(text)
    if found is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}; use e.g. 30m, 24h, 7d")
    return found


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Breaking geopolitical news alerts for Telegram and Slack: "
        "polls feeds, groups reports of one story across outlets, alerts matching chats.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more: -v at INFO (run --once: each unreachable feed), "
                        "-vv at DEBUG; commands other than `run` log only warnings without it")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the service (poll feeds on schedule, deliver alerts)",
                         description="Poll every feed at its interval and deliver alerts; "
                         "Telegram and Slack start when their tokens are set.")
    run.add_argument("--once", action="store_true",
                     help="poll every feed once, process, deliver, then exit")
    stories = sub.add_parser("stories", help="list stories first seen within a period",
                             description="List stories with their outlets and articles.")
    stories.add_argument("--since", type=parse_duration, default=timedelta(hours=24),
                         help="how far back, by first-seen time (default 24h)")
    stories.add_argument("--json", action="store_true", help="print JSON")
    stories_sub = stories.add_subparsers(dest="stories_command", metavar="ACTION")
    why = stories_sub.add_parser("explain", help="why each article joined a story",
                                 description="Show a story's articles with the scores and "
                                 "reasons that placed each one.")
    why.add_argument("story_id", help="the story id, as `newsbot stories` lists it")
    why.add_argument("--json", action="store_true", help="print JSON")
    show = stories_sub.add_parser(
        "show", help="print a story as its alert would look",
        description="Render a story's alert (summary, outlets, matched terms) for checking by "
        "eye: plain text, or the exact Telegram HTML or Slack blocks.")
    show.add_argument("story_id", help="the story id, as `newsbot stories` lists it")
    show.add_argument("--platform", choices=("console", "telegram", "slack"), default="console",
                      help="which rendering to print (default console)")
    show.add_argument("--chat", default=CONSOLE_CHAT,
                      help="render for this chat's language and time zone "
                      "(default the console chat)")
    chat = sub.add_parser("chat", help="run one chat command as the local console chat",
                          description='Try the chat commands locally, e.g. newsbot chat '
                          '"/rule add 朝鲜 + 派兵"; alerts for the console chat print on stdout.')
    chat.add_argument("text", help='the command, e.g. "/rule list"')
    rules = sub.add_parser("rules", help="check rule files", description="Rule file tools.")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rules_sub.add_parser("check", help="validate every rules/*.yaml file",
                         description="Validate the shipped topics and entities; errors name "
                         "file:line:col.")
    test = rules_sub.add_parser(
        "test", help="backtest a rule over stored articles or a folder",
        description="Show which articles a rule matches and the terms that made it match. "
        "Without --path, the articles the bot has seen within --since (kept for the story "
        "window); with --path, the seed files in that folder. An invalid rule exits 2.")
    test.add_argument("expression", help='the rule, e.g. "朝鲜 + 派兵"')
    test.add_argument("--since", type=parse_duration, default=timedelta(days=7),
                      help="how far back among stored articles (default 7d)")
    test.add_argument("--path", type=Path, help="a folder (or file) of seed-format articles")
    test.add_argument("--json", action="store_true",
                      help="one JSON object per article: url, title, path, matched, terms")
    _feeds_parser(sub)
    _outbox_parser(sub)
    _add_verbose(parser)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """`-v` after any subcommand too (`newsbot run --once -v`), counted like before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                child.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                   help="log more (-vv: debug)")
                _add_verbose(child)


def _feeds_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feeds = sub.add_parser("feeds", help="list, import (OPML) and export (OPML) the feeds",
                           description="The feeds polled: the feeds file's and those added "
                           "from chat or by import.")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    listing = feeds_sub.add_parser("list", help="every feed with its origin and health",
                                   description="Every feed: id, origin (file or added), "
                                   "health (ok, error, off, new), last good poll, outlet, URL "
                                   "(passwords and secret-looking parameters such as token= "
                                   "shown as ***), the last error of a failing feed and any "
                                   "warning (bytes not in the declared encoding, items over "
                                   "the cap).")
    listing.add_argument("--json", action="store_true", help="print JSON")
    imports = feeds_sub.add_parser(
        "import", help="add the feeds of an OPML file (as feed readers export)",
        description="Add every feed outline (xmlUrl, at any depth) of an OPML file as an added "
        "feed, like /feeds add: the service polls it within 30 s. The outline's title (else "
        "text) is the outlet name. Feeds already present are skipped; URLs that are not "
        "http(s) or whose host is internal are refused. Exit status 1 if any was refused.")
    imports.add_argument("file", type=Path, help="the .opml file")
    exports = feeds_sub.add_parser(
        "export", help="print every feed as OPML 2.0 (full URLs, credentials included)",
        description="Write every URL feed (the feeds file's and the added ones) as OPML 2.0, "
        "for a feed reader or another newsbot. This is the operator's own backup: URLs are "
        "written in full, with any password or token they carry (everywhere else they are "
        "shown redacted), so keep the file as private as the feeds file.")
    exports.add_argument("-o", "--output", type=Path, help="write to this file, not stdout")
    again = feeds_sub.add_parser(
        "reactivate", help="poll a feed that was switched off after repeated failures again",
        description="Put feeds switched off after repeated failures (health `off` in `newsbot "
        "feeds list`) back on the shared schedule, due now, with their failures forgotten; a "
        "running `newsbot run` polls them within seconds. Exit status 1 if any was not off.")
    again.add_argument("ids", nargs="+", metavar="ID", help="feed ids, as `feeds list` shows")


def _outbox_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = sub.add_parser(
        "outbox", help="show pending deliveries and dead letters; retry dead letters",
        description="How many deliveries wait in the outbox, and the dead letters: alerts "
        "given up on after repeated failures, numbered for `newsbot outbox retry`.")
    outbox.add_argument("--json", action="store_true", help="print JSON")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", metavar="ACTION")
    retry = outbox_sub.add_parser(
        "retry", help="queue dead letters for delivery again",
        description="Move dead letters back to the outbox; a running `newsbot run` (or the "
        "next `newsbot run --once`) delivers them.")
    retry.add_argument("numbers", type=int, nargs="*", metavar="N",
                       help="the dead letters' numbers, as `newsbot outbox` lists them")
    retry.add_argument("--all", action="store_true", help="every dead letter")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `newsbot` and `python -m bot`."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        once = args.command == "run" and args.once
        setup_logging(_log_level(args, settings.log_level), fmt=settings.log_format,
                      summarised=SUMMARISED if once and not args.verbose else ())
        embedded_role(("once" if once else "run") if args.command == "run" else "cli",
                      _label(args))
        return asyncio.run(_dispatch(args, settings))
    except (NewsbotError, ValueError) as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    except STORE_FAILURES as exc:  # e.g. the running bot whose server a command used stopped
        print(f"newsbot: store: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or directory the settings or arguments name: no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"newsbot: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# Log messages `run --once` sums up in its last lines instead of printing each (unless -v).
SUMMARISED = ("feeds: poll failed",)


def _log_level(args: argparse.Namespace, configured: str) -> str:
    """The service logs at NEWSBOT_LOG_LEVEL; every other command (`run --once` included)
    at WARNING or above unless -v (INFO) or -vv (DEBUG) asks for more."""
    level = logging.getLevelName(configured.upper())
    level = level if isinstance(level, int) else logging.INFO
    if args.verbose >= 2:
        return "DEBUG"
    if args.verbose:
        return logging.getLevelName(min(level, logging.INFO))
    if args.command == "run" and not args.once:
        return logging.getLevelName(level)
    return logging.getLevelName(max(level, logging.WARNING))


def _label(args: argparse.Namespace) -> str:
    """How other processes name this one when it holds the data directory: `newsbot chat`."""
    words = ["newsbot", args.command, getattr(args, f"{args.command}_command", None) or ""]
    if args.command == "run" and args.once:
        words.append("--once")
    return f"`{' '.join(w for w in words if w)}`"


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "rules":
        if args.rules_command == "test":
            return await _rules_test(settings, args)
        return _rules_check(settings)
    tools = {"stories": _stories, "chat": _chat_args, "feeds": feeds_command,
             "outbox": outbox_command}
    if (tool := tools.get(args.command)) is not None:
        return await tool(settings, args)
    async with App(settings) as app:
        if args.once:
            await _run_once(app, verbose=bool(args.verbose))
        else:
            from bot.scheduler import serve  # the front ends' libraries: only for the service

            await serve(app)
    return 0


async def _run_once(app: App, *, verbose: bool) -> None:
    """`newsbot run --once`: poll, process, deliver; then say in one line (on stderr) what
    happened, after one line summing up the feeds that could not be read (each one's error
    is logged with -v, and `newsbot feeds list` shows them)."""
    start = time.time()
    sent = await app.run_once()
    feeds = await app.all_feeds()
    read, kinds = 0, Counter[str]()
    for feed in feeds:
        state = await app.store.feed_state(feed.id)
        if state.get("status") == "error" and _float(state.get("last_error_at")) >= start:
            kinds[(state.get("last_error") or "error").partition(":")[0]] += 1
        elif _float(state.get("last_poll")) >= start:
            read += int(state.get("last_items") or 0)
    new = await app.archive.count_since(start)
    stories = await app.store.count_stories_since(start)
    failed = sum(kinds.values())
    sys.stdout.flush()
    if failed and not verbose:
        why = ", ".join(f"{kind}: {n}" for kind, n in kinds.most_common())
        print(f"newsbot: {failed} of {_n(len(feeds), 'feed')} unreachable ({why}); -v shows "
              "each one's error, `newsbot feeds list` the last ones", file=sys.stderr)
    unreachable = f"{_n(failed, 'feed')} unreachable"
    if new == 0:
        seen = f"{_n(read, 'article')} read, all seen before" if read else "no article read"
        print(f"newsbot: nothing new arrived: {seen}; {_n(sent, 'alert')} sent; {unreachable}",
              file=sys.stderr)
    else:
        print(f"newsbot: {_n(read, 'article')} read ({new} new), {_n(stories, 'new story')}, "
              f"{_n(sent, 'alert')} sent, {unreachable}", file=sys.stderr)


def _n(count: int, noun: str) -> str:
    """`1 article`, `2 articles`, `3 new stories`."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def _float(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _rules_check(settings: Settings) -> int:
    try:
        topics = load_topics(settings.rules_dir)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{settings.rules_dir}: {len(topics)} topics OK")
    return 0


async def _rules_test(settings: Settings, args: argparse.Namespace) -> int:
    entities = load_rule_files(settings.rules_dir).entities  # validates the rules folder
    articles: list[Article] = []
    if args.path is None:
        async with open_cli_store(settings) as store:
            archive = Archive(store, ttl=settings.window_seconds + 86_400)
            articles = [a for a, _ in await archive.since(datetime.now(UTC) - args.since)]
    with Progress(f"reading {args.path}", total=0) as bar:
        code, output = run_rules_test(args.expression, path=args.path, articles=articles,
                                      as_json=args.json, progress=bar.update,
                                      entities=entities)
    print(output, file=sys.stdout if code == 0 or args.json else sys.stderr)
    return code


async def _stories(settings: Settings, args: argparse.Namespace) -> int:
    async with open_cli_store(settings) as store:
        if args.stories_command == "show":
            return await _show(store, settings, args)
        if args.stories_command == "explain":
            view = await explain(store, args.story_id)
            if view is None:
                print(f"newsbot: no story {args.story_id!r} (unknown, or aged out of the "
                      "window)", file=sys.stderr)
                return 1
            print(json.dumps(view, ensure_ascii=False, indent=2) if args.json
                  else explain_text(view))
            return 0
        stories = await list_stories(store, datetime.now(UTC) - args.since)
    if args.json:
        print(json.dumps(stories, ensure_ascii=False, indent=2))
        return 0
    for story in stories:
        print(f"{story['id']}  {len(story['outlets'])} outlets "
              f"({' · '.join(story['outlets'])})  {story['headline']}")
        for a in story["articles"]:
            print(f"    {a['outlet']:<8} {_listed_time(a):<18}  {a['title']}")
    return 0


def _listed_time(article: dict[str, Any]) -> str:
    """A report's time in `stories`: "2024-10-21 11:47", "2024-10-21 (text)" when read from
    its text, "undated" when only the time it was seen is known."""
    if article.get("time_source") == "text":
        return f"{article['time'][:10]} (text)"
    return article["time"][:16].replace("T", " ") if article["dated"] else "undated"


async def _show(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    """Print one story as the alert a chat would get."""
    story = await store.get_story(args.story_id)
    if story is None:
        print(f"newsbot: no story {args.story_id!r} (unknown, or aged out of the window)",
              file=sys.stderr)
        return 1
    composer = AlertComposer(chats=ChatDirectory(store),
                             archive=Archive(store, ttl=settings.window_seconds + 86_400))
    alert = await composer.compose(args.chat, story)
    if args.platform == "telegram":
        from bot.platforms.telegram import render_html

        print(render_html(alert))
    elif args.platform == "slack":
        from bot.platforms.slack import render_blocks

        text, blocks = render_blocks(alert)
        print(json.dumps({"text": text, "blocks": blocks}, ensure_ascii=False, indent=2))
    else:
        print(render_text(alert))
    return 0


async def _chat_args(settings: Settings, args: argparse.Namespace) -> int:
    return await _chat(settings, args.text)


async def _chat(settings: Settings, text: str) -> int:
    async with App(settings) as app:
        reply = await app.commands.handle(CommandRequest(
            chat=CONSOLE_CHAT, user=CONSOLE_CHAT, text=text, can_manage=True))
    print(reply.text)
    return 0 if reply.ok else 1


# --- feeds ---------------------------------------------------------------------------------
