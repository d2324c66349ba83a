"""The one alert layout, and composing an alert for a chat.

Every platform shows the same layout, rendered its own way (Telegram HTML, Slack Block Kit,
console plain text):

    <headline, linked to the first report>  (updated)
    <summary: two or three sentences>
    3 outlets: VOA · DW · BBC               (each linked to its report)
    Matched: 朝鲜, 派兵 · First reported 2024-10-21 20:47 KST

`AlertView` holds that layout as plain text fields and labels in the chat's language;
renderers escape every field for their markup and clip it to their limits. `AlertComposer`
builds the `Alert` a chat should see now: the story, the terms of the rules that brought it,
a summary of its reports (from the archive, scored by those terms), the chat's language and
time zone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot import i18n
from bot.archive import Archive
from bot.chats import ChatDirectory, zone_info
from bot.models import Alert, Article, Story, StoryArticle
from bot.summary import ExtractiveSummarizer, Summarizer, one_line
from bot.text import language_of

_SUMMARIES_KEPT = 256


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as the layout shows it; every field is plain, unescaped text."""

    headline: str
    url: str | None
    summary: str
    outlets: tuple[tuple[str, str | None], ...]  # (outlet, url of its first report)
    terms: tuple[str, ...]
    first_reported: str  # "2024-10-21 20:47 KST", or "" when no report is dated
    update: bool
    lang: str

    def label(self, key: str, **fields: object) -> str:
        """A layout label in the alert's language (`bot.i18n` keys `alert.*`)."""
        return i18n.text(self.lang, f"alert.{key}", **fields)

    @property
    def outlets_label(self) -> str:
        """"3 outlets: " / "3 家媒体：" (the renderer adds the outlets)."""
        return outlets_label(self.lang, len(self.outlets))

    def more(self, count: int) -> str:
        """"+2 more" for outlets left out of a line."""
        return self.label("more", count=count)

    @property
    def footer(self) -> str:
        """"Matched: a, b · First reported …", the parts that apply, unescaped."""
        parts = []
        if self.terms:
            parts.append(self.label("matched", terms=", ".join(self.terms)))
        if self.first_reported:
            parts.append(self.label("first_reported", time=self.first_reported))
        return " · ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedStory:
    """One story in a digest or a held batch; plain text, renderers escape."""

    story_id: str
    headline: str
    url: str | None
    summary: str
    outlets: tuple[tuple[str, str | None], ...]
    terms: tuple[str, ...] = ()
    first_reported: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryList:
    """A titled, ranked list of stories for one chat (a digest or held alerts)."""

    chat: str
    title: str
    stories: tuple[ListedStory, ...]
    lang: str = i18n.DEFAULT_LANGUAGE
    more: int = 0  # stories left out beyond the list's cap

    def label(self, key: str, **fields: object) -> str:
        """A layout label in the list's language."""
        return i18n.text(self.lang, key, **fields)


def alert_view(alert: Alert, *, update: bool = False) -> AlertView:
    """The layout fields of `alert` (links are raw: renderers decide what they may link); the
    headline is the first report's in the chat's language when the story has one."""
    story = alert.story
    headline, url = headline_in(story, alert.lang)
    return AlertView(
        headline=headline, url=url, summary=alert.summary,
        outlets=outlet_links(story), terms=alert.terms,
        first_reported=first_reported(story.articles, alert.timezone),
        update=update, lang=alert.lang if alert.lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE)


def outlets_label(lang: str, count: int) -> str:
    """"3 outlets: " / "3 家媒体：" in `lang`."""
    return i18n.text(lang, "alert.outlet" if count == 1 else "alert.outlets", count=count)


def headline_in(story: Story, lang: str) -> tuple[str, str | None]:
    """The headline (and its link) to show a reader of `lang`: the story's headline (its first
    report's) when written in that language, else the title of its first report that is, else
    the story's headline all the same."""
    if language_of(story.headline) == lang:
        return story.headline, first_url(story)
    for article in story.articles:
        if language_of(article.title) == lang:
            return article.title, article.url or first_url(story)
    return story.headline, first_url(story)


def first_url(story: Story) -> str | None:
    """The URL of the story's first report that has one (what its headline links to)."""
    return next((a.url for a in story.articles if a.url), None)


def outlet_links(story: Story) -> tuple[tuple[str, str | None], ...]:
    """(outlet, URL of its first report) for each outlet, in order of first report."""
    return tuple((outlet, next((a.url for a in story.articles if a.outlet == outlet and a.url),
                               None)) for outlet in story.outlets)


def matched_terms(story: Story, rule_ids: Sequence[str] = ()) -> tuple[str, ...]:
    """The distinct terms the rules `rule_ids` (all the story's rules if none) matched."""
    rules = tuple(rule_ids) or tuple(story.matched)
    return tuple(dict.fromkeys(t for r in rules for t in story.matched.get(r, ())))


def first_reported(articles: Sequence[StoryArticle], timezone: str) -> str:
    """The earliest dated report's time in `timezone` ("2024-10-21 20:47 KST"); "" if none."""
    times = [a.time for a in articles if a.dated]
    if not times:
        return ""
    return local_time(min(times), timezone)


def local_time(moment: datetime, timezone: str) -> str:
    """`moment` as "YYYY-MM-DD HH:MM ZONE" in `timezone` (UTC if the zone is unknown)."""
    zone = zone_info(timezone)
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or timezone}"


class AlertComposer:
    """Builds the alert a chat should see of a story now."""

    def __init__(self, *, chats: ChatDirectory, archive: Archive,
                 summarizer: Summarizer | None = None) -> None:
        self.chats = chats
        self.archive = archive
        self.summarizer = summarizer or ExtractiveSummarizer()
        # (story id, version, terms, language) -> summary: one story fanned out to many chats is
        # summarized once (a story's reports change only with its version).
        self._summaries: OrderedDict[tuple[str, int, tuple[str, ...], str], str] = OrderedDict()

    async def compose(self, chat: str, story: Story, rule_ids: Sequence[str] = ()) -> Alert:
        """The alert for `chat`: matched terms of `rule_ids` (all rules if empty), summary,
        and the chat's language and time zone."""
        terms = matched_terms(story, rule_ids)
        alert = Alert(chat=chat, story=story, terms=terms, rules=tuple(rule_ids),
                      lang=await self.chats.language(chat) or i18n.DEFAULT_LANGUAGE,
                      timezone=await self.chats.timezone(chat))
        return replace(alert, summary=await self.summary(story, terms, lang=alert.lang))

    async def summary(self, story: Story, terms: Sequence[str] = (), *,
                      lang: str | None = None) -> str:
        """A summary of the story's archived reports, first report first ("" if none kept):
        of its reports in `lang` when it has some (a story reported in Chinese and English
        is summarized in the reader's language), else of all."""
        key = (story.id, story.version, tuple(terms), lang or "")
        if (cached := self._summaries.get(key)) is not None:
            self._summaries.move_to_end(key)
            return cached
        articles = _in_story_order(story, await self.archive.of_story(story.id))
        if lang is not None:
            articles = [a for a in articles if _language(a) == lang] or articles
        summary = self.summarizer.summarize(articles, terms=terms)
        self._summaries[key] = summary
        if len(self._summaries) > _SUMMARIES_KEPT:
            self._summaries.popitem(last=False)
        return summary

    async def listed(self, story: Story, terms: Sequence[str], timezone: str, *,
                     lang: str | None = None) -> ListedStory:
        """`story` as a digest, held batch or combined burst lists it: one-line summary,
        headline and summary in `lang` when the story has reports in it."""
        headline, url = headline_in(story, lang) if lang else (story.headline, first_url(story))
        return ListedStory(
            story_id=story.id, headline=headline, url=url,
            summary=one_line(await self.summary(story, terms, lang=lang)),
            outlets=outlet_links(story),
            terms=tuple(terms), first_reported=first_reported(story.articles, timezone))


def _language(article: Article) -> str:
    """The language a report is written in, by its title and first lines."""
    return language_of(f"{article.title}\n{article.text[:300]}")


def _in_story_order(story: Story, articles: Sequence[Article]) -> list[Article]:
    """`articles` in the order the story lists its reports (unknown ones last)."""
    order = {(a.outlet, a.url, a.title): n for n, a in enumerate(story.articles)}
    return sorted(articles, key=lambda a: order.get((a.outlet, a.url, a.title), len(order)))
