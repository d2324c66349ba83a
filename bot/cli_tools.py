"""The `newsbot feeds ...` and `newsbot outbox ...` commands (the rest are in bot/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.chats import ChatDirectory
from bot.commands import AddedFeeds
from bot.config import Settings
from bot.errors import ConfigError
from bot.feeds.engine import feed_health, reactivate_feed
from bot.feeds.opml import MAX_OPML_BYTES, import_feeds, parse_opml, render_opml
from bot.feeds.sources import load_feeds
from bot.logs import Progress, redact
from bot.models import Delivery, FeedSpec
from bot.outbox import Outbox
from bot.store import Store, open_store
from bot.store.outbox import DeadLetter


def open_cli_store(settings: Settings) -> AbstractAsyncContextManager[Store]:
    """The store the settings name (a running bot's embedded server, or one started here)."""
    url = settings.redis_url.get_secret_value() if settings.redis_url else None
    return open_store(redis_url=url, data_dir=settings.data_dir, prefix=settings.key_prefix)


async def feeds_command(settings: Settings, args: argparse.Namespace) -> int:
    """`newsbot feeds list|import|export|reactivate`."""
    listed = load_feeds(settings.feeds_file)
    async with open_cli_store(settings) as store:
        added = AddedFeeds(store)
        if args.feeds_command == "reactivate":
            return await _feeds_reactivate(store, args.ids)
        if args.feeds_command == "import":
            return await _feeds_import(args.file, listed, added)
        feeds = [*listed, *(f for f in await added.all() if f.id not in {g.id for g in listed})]
        if args.feeds_command == "export":
            return _feeds_export(feeds, args.output)
        return await _feeds_list(store, feeds, file_ids={f.id for f in listed},
                                 as_json=args.json)


async def _feeds_reactivate(store: Store, ids: Sequence[str]) -> int:
    status = 0
    for feed_id in ids:
        if await reactivate_feed(store, feed_id):
            print(f"{feed_id}: back on the schedule, due now")
        else:
            print(f"{feed_id}: not switched off (see `newsbot feeds list`)", file=sys.stderr)
            status = 1
    return status


def _read_opml(file: Path) -> bytes:
    """The file's bytes; ConfigError if it cannot be read or is too large for OPML."""
    try:
        if file.stat().st_size > MAX_OPML_BYTES:
            raise ConfigError(f"{file}: larger than {MAX_OPML_BYTES // 2**20} MB")
        return file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc


async def _feeds_import(file: Path, listed: Sequence[FeedSpec], added: AddedFeeds) -> int:
    outlines = parse_opml(await asyncio.to_thread(_read_opml, file), source=str(file))
    with Progress(f"importing {file.name}", total=len(outlines)) as bar:
        report = await import_feeds(outlines, added=added, known=[f.id for f in listed],
                                    by=f"opml:{file.name}", at=datetime.now(UTC),
                                    step=bar.advance)
    for feed, reason in report.invalid:
        name = f" ({feed.name})" if feed.name else ""
        print(f"newsbot: {file}: refused {redact(feed.url) or '<empty>'}{name}: {reason}",
              file=sys.stderr)
    print(f"{file}: {len(report.added)} added, {len(report.skipped)} skipped (already "
          f"present), {len(report.invalid)} invalid")
    return 1 if report.invalid else 0


def _feeds_export(feeds: Sequence[FeedSpec], output: Path | None) -> int:
    document = render_opml(feeds)
    if output is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        try:
            output.write_bytes(document)
        except OSError as exc:
            raise ConfigError(f"{output}: cannot write: {exc.strerror or exc}") from exc
    if folders := sum(f.url is None for f in feeds):
        print(f"newsbot: {folders} local folder feed(s) left out (OPML lists URLs only)",
              file=sys.stderr)
    return 0


async def _feeds_list(store: Store, feeds: Sequence[FeedSpec], *, file_ids: set[str],
                      as_json: bool) -> int:
    """`newsbot feeds list`: each feed's health, URLs and errors redacted."""
    rows = [_feed_row(feed, await store.feed_state(feed.id), file_ids=file_ids)
            for feed in feeds]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        when = (row["last_poll"] or "never")[:16].replace("T", " ")
        outlet = f" · {row['outlet']}" if row["outlet"] else ""
        print(f"{row['id']}  {row['origin']:<5}  {row['health']:<5}  {when:<16}  "
              f"{row['location']}{outlet}")
        if row["health"] in ("error", "off") and row["last_error"]:
            print(f"    {row['last_error']}")
        if row["warning"]:
            print(f"    warning: {row['warning']}")
        if row["items_cut"]:
            print(f"    {row['items_cut']} items over the cap left out at the last poll")
    print(f"{len(rows)} feeds")
    return 0


def _feed_row(feed: FeedSpec, state: dict[str, str], *, file_ids: set[str]) -> dict[str, Any]:
    """One feed as `feeds list` shows it; the URL, error and warning redacted."""
    return {"id": feed.id, "origin": "file" if feed.id in file_ids else "added",
            "health": feed_health(state), "last_poll": _timestamp(state.get("last_poll")),
            "errors": int(state.get("errors") or 0), "outlet": feed.outlet,
            "location": redact(feed.location),
            "last_error": redact(state.get("last_error") or "") or None,
            "warning": redact(state.get("warning") or "") or None,
            "items_cut": int(state.get("items_cut") or 0)}


def _timestamp(value: str | None) -> str | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).isoformat(
            timespec="seconds") if value else None
    except ValueError:
        return None


# --- outbox --------------------------------------------------------------------------------


async def outbox_command(settings: Settings, args: argparse.Namespace) -> int:
    """`newsbot outbox [--json]` and `newsbot outbox retry [--all | N ...]`."""
    if args.outbox_command == "retry" and args.all == bool(args.numbers):
        print("newsbot: outbox retry: give the dead letters' numbers or --all",
              file=sys.stderr)
        return 2
    async with open_cli_store(settings) as store:
        outbox = Outbox(store)
        letters = await outbox.letters.all()
        if args.outbox_command == "retry":
            return await _retry(store, outbox, letters, args.numbers, every=args.all)
        depth = await outbox.depth()
        stories = await store.get_stories([letter.story for letter in letters])
        paused = await ChatDirectory(store).paused_chats()  # chat lifecycle (issue 15)
    rows = [{"n": n, "chat": letter.chat, "story": letter.story, "rules": letter.rules,
             "error": letter.error, "entries": len(letter.raws),
             "headline": story.headline if story else None}
            for n, (letter, story) in enumerate(zip(letters, stories, strict=True), 1)]
    paused_rows = [{"chat": p.chat, "reason": p.reason, "error": p.error,
                    "since": p.at.isoformat(timespec="seconds")} for p in paused.values()]
    if args.json:
        print(json.dumps({"pending": depth, "dead": rows, "paused": paused_rows},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"pending: {depth} deliveries in the outbox")
    print(f"dead letters: {len(rows)}" + (" (queue again with `newsbot outbox retry N` or "
                                          "`--all`)" if rows else ""))
    for row in rows:
        print(f"{row['n']:>4}. {row['chat'] or '?'}  story {row['story'] or '?'}  "
              f"{row['headline'] or '(story aged out)'}")
        print(f"      error: {str(row['error'])[:300]}")
    # chat lifecycle (issue 15): chats paused because the bot cannot post there; their alerts
    # are held until the bot is added back (my_chat_member / member_joined_channel)
    print(f"paused chats: {len(paused_rows)}")
    for pause in paused_rows:
        print(f"      {pause['chat']}  {pause['reason']} since {pause['since']}: "
              f"{pause['error'][:300]}")
    return 0


async def _retry(store: Store, outbox: Outbox, letters: list[DeadLetter], numbers: Sequence[int],
                 *, every: bool) -> int:
    """Queue the chosen dead letters again (queued first, then removed: never lost)."""
    if bad := [n for n in numbers if not 1 <= n <= len(letters)]:
        print(f"newsbot: outbox retry: no dead letter {bad[0]} (there are {len(letters)})",
              file=sys.stderr)
        return 2
    chosen = letters if every else [letters[n - 1] for n in dict.fromkeys(numbers)]
    await outbox.ensure_group()
    queued = 0
    for letter in chosen:
        if not letter.chat:
            print(f"newsbot: outbox retry: left an unreadable dead letter: {letter.error}",
                  file=sys.stderr)
            continue
        await outbox.put(Delivery(chat=letter.chat, story_id=letter.story,
                                  rule_ids=tuple(letter.rules)))
        await outbox.letters.discard(letter)
        queued += 1
    print(f"queued {queued} dead letter(s) for delivery again; a running `newsbot run` "
          "delivers them")
    return 0 if queued == len(chosen) else 1
