"""The `newsbot` command line: run the service, poll once, inspect stories and rules."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.alerts import AlertComposer
from bot.app import CONSOLE_CHAT, App
from bot.archive import Archive
from bot.chats import ChatDirectory
from bot.commands import CommandRequest
from bot.config import Settings, load_settings
from bot.dedup.explain import explain, explain_text, list_stories
from bot.errors import ConfigError, NewsbotError
from bot.logs import setup_logging
from bot.models import Article
from bot.platforms.console import render_text
from bot.rules.backtest import run_rules_test
from bot.rules.topics import load_topics
from bot.scheduler import serve
from bot.store import Store, open_store

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d` -> timedelta; raises argparse-friendly ValueError otherwise."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}; use e.g. 30m, 24h, 7d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Breaking geopolitical news alerts for Telegram and Slack: "
        "polls feeds, groups reports of one story across outlets, alerts matching chats.")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `newsbot` and `python -m bot`."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        setup_logging(settings.log_level)
        return asyncio.run(_dispatch(args, settings))
    except (NewsbotError, ValueError) as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "rules" and args.rules_command == "test":
        return await _rules_test(settings, args)
    if args.command == "rules":
        return _rules_check(settings)
    if args.command == "stories":
        return await _stories(settings, args)
    if args.command == "chat":
        return await _chat(settings, args.text)
    async with App(settings) as app:
        if args.once:
            await app.run_once()
        else:
            await serve(app)
    return 0


def _rules_check(settings: Settings) -> int:
    try:
        topics = load_topics(settings.rules_dir)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{settings.rules_dir}: {len(topics)} topics OK")
    return 0


async def _rules_test(settings: Settings, args: argparse.Namespace) -> int:
    load_topics(settings.rules_dir)  # validates and installs the entity lists
    articles: list[Article] = []
    if args.path is None:
        async with _store(settings) as store:
            archive = Archive(store, ttl=settings.window_seconds + 86_400)
            articles = [a for a, _ in await archive.since(datetime.now(UTC) - args.since)]
    code, output = run_rules_test(args.expression, path=args.path, articles=articles,
                                  as_json=args.json)
    print(output, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _store(settings: Settings) -> AbstractAsyncContextManager[Store]:
    url = settings.redis_url.get_secret_value() if settings.redis_url else None
    return open_store(redis_url=url, data_dir=settings.data_dir, prefix=settings.key_prefix)


async def _stories(settings: Settings, args: argparse.Namespace) -> int:
    async with _store(settings) as store:
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
            when = (a["time"] or "")[:16].replace("T", " ") if a["dated"] else "undated"
            print(f"    {a['outlet']:<8} {when:<16}  {a['title']}")
    return 0


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


async def _chat(settings: Settings, text: str) -> int:
    async with App(settings) as app:
        reply = await app.commands.handle(CommandRequest(
            chat=CONSOLE_CHAT, user=CONSOLE_CHAT, text=text, can_manage=True))
    print(reply.text)
    return 0 if reply.ok else 1
