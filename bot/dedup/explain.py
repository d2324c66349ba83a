"""JSON-ready views of stories for `newsbot stories` and `newsbot stories explain <id>`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.archive import Archive
from bot.models import Story, StoryArticle
from bot.rules.history import EventTime, shipped_history
from bot.store import Store


def _article(member: StoryArticle, *, why: bool) -> dict[str, Any]:
    """One member: outlet, title, url, time, file path (and the join decision if `why`)."""
    row: dict[str, Any] = {"outlet": member.outlet, "title": member.title, "url": member.url,
                           "time": member.time.isoformat(), "dated": member.dated,
                           "time_source": member.time_source, "path": member.path}
    if member.time_evidence:
        row["time_evidence"] = member.time_evidence
    if why:
        row |= {"score": member.score, "reason": member.reason}
    return row


def story_json(story: Story, *, why: bool = False) -> dict[str, Any]:
    """A story as plain JSON types: id, headline, times, version, outlets, articles."""
    return {"id": story.id, "headline": story.headline,
            "first_seen": story.first_seen.isoformat(), "updated": story.updated.isoformat(),
            "version": story.version, "outlets": list(story.outlets),
            "articles": [_article(a, why=why) for a in story.articles]}


async def list_stories(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Stories first seen at or after `since` (oldest first), each with its articles."""
    return [story_json(story) for story in await store.stories_since(since)]


async def explain(store: Store, story_id: str) -> dict[str, Any] | None:
    """A story with, for each article, the score and the reason it started or joined it,
    and (for the articles still archived) when its events happen (`bot.rules.history`: a
    report about the past does not alert unless a rule asks for history).

    None when no story has that id (never existed, or aged out of the window).
    """
    story = await store.get_story(story_id)
    if story is None:
        return None
    view = story_json(story, why=True)
    archived = {(a.outlet, a.url or a.title): a
                for a in await Archive(store, ttl=0).of_story(story_id)}
    history = shipped_history()
    for row, member in zip(view["articles"], story.articles, strict=True):
        article = archived.get((member.outlet, member.url or member.title))
        if article is not None:
            row["event_time"] = _event_time(history.event_time(article))
    return view


def _event_time(found: EventTime) -> dict[str, Any]:
    """An event time as JSON: historical or not, the earliest year it points back to, and
    the words that decided."""
    return {"historical": found.historical, "year": found.year, "evidence": found.evidence}


def explain_text(view: dict[str, Any]) -> str:
    """The `explain` view as lines for a terminal."""
    lines = [f"{view['id']}  {view['headline']}  (version {view['version']}, "
             f"outlets: {', '.join(view['outlets'])})"]
    for n, a in enumerate(view["articles"], 1):
        lines.append(f"{n:>3}. {a['time'][:16]}  {a['outlet']}: {a['title']}")
        if a.get("time_source") == "text":
            lines.append(f"     time read from its text: {a.get('time_evidence', '')}")
        elif a.get("time_source") == "seen":
            lines.append("     undated: placed at the time it was first seen")
        if (event := a.get("event_time")) is not None:
            lines.append(f"     {_event_line(event)}")
        lines.append(f"     {a['reason']}")
    return "\n".join(lines)


def _event_line(event: dict[str, Any]) -> str:
    """`events: news (周一)` or `events: history, 1950 (朝鲜战争): alerts only rules with
    history:any or history:only`."""
    evidence = f" ({event['evidence']})" if event["evidence"] else ""
    if not event["historical"]:
        return f"events: news{evidence}"
    year = f", {event['year']}" if event["year"] else ""
    return (f"events: history{year}{evidence}: alerts only rules with history:any or "
            "history:only")
