"""Do rules match what analysts mean? Precision and recall of each rule of the intent set
(`tests/data/intent/<subject>/`, reports labelled by whether an analyst watching the rule
wants them), per report and per story, overall and per script.

    REDIS_URL=redis://127.0.0.1:6379/14 python bench/rules_intent.py [--rule SUBJECT=RULE]
        [--misses]

Per report: the rule matches the report (`RuleSet.match`, reports about the past left out
unless the rule asks for history) against the label. Per story: the reports are grouped by the
real story index (a fresh key prefix, deleted afterwards), a story alerts when one of its
reports matches and it has the rule's `outlets>=` count, and an analyst wants a story when
they want one of its reports: this counts what a chat actually receives. Without REDIS_URL an
embedded Valkey server is started. The baseline is literal matching: each term of the rule as
written (no entity aliases, no history), in the same run. `--rule` evaluates another rule for a
subject; `--misses` lists the reports each rule gets wrong. Subjects whose labels say "Held-out"
were written after the rules engine was tuned and are marked `(held out)`: iran-sanctions,
israel-ceasefire and russia-drones (written after the negation and named-operations round,
never used for a decision). A new subject is a new folder; nothing here needs editing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

from stories_quality import NOW, fresh_index, server_url

from bot.feeds.dating import date_articles
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, Rule
from bot.pipeline import replay_order
from bot.rules.engine import RuleSet
from bot.rules.entities import Entities
from bot.rules.grammar import leaves, parse, rule_options
from bot.rules.topics import load_rule_files

REPO = Path(__file__).resolve().parent.parent
INTENT = REPO / "tests" / "data" / "intent"
SCRIPTS = ("hans", "hant", "en")


@dataclass(frozen=True, slots=True)
class Subject:
    """One labelled subject: its rule, its reports (dated, in replay order) and labels."""

    name: str
    rule: str
    articles: list[Article]
    wanted: list[bool]
    held_out: bool = False  # labels written after tuning (`_about` says "Held-out")


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision and recall of a set of decisions."""

    true_pos: int
    false_pos: int
    false_neg: int

    @property
    def precision(self) -> float:
        called = self.true_pos + self.false_pos
        return self.true_pos / called if called else float("nan")

    @property
    def recall(self) -> float:
        wanted = self.true_pos + self.false_neg
        return self.true_pos / wanted if wanted else float("nan")

    def __str__(self) -> str:
        return f"P {self.precision:.3f} R {self.recall:.3f}"


def scores(predicted: Sequence[bool], wanted: Sequence[bool]) -> Scores:
    """Precision and recall of `predicted` against `wanted`."""
    pairs = list(zip(predicted, wanted, strict=True))
    return Scores(sum(p and w for p, w in pairs), sum(p and not w for p, w in pairs),
                  sum(w and not p for p, w in pairs))


def subject(folder: Path, rule: str | None = None) -> Subject:
    """A subject folder, dated as the service dates reports, with its labels."""
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    articles = replay_order(date_articles(read_seed_folder(folder, feed_id=folder.name)[0],
                                          seen=NOW))
    entries = [labels[Path(a.path or "").name] for a in articles]
    return Subject(folder.name, rule or entries[0]["rule"], articles,
                   [bool(e["wanted"]) for e in entries],
                   str(labels.get("_about", "")).startswith("Held-out"))


def script(article: Article) -> str:
    """hans, hant or en, from the file name."""
    return Path(article.path or "").stem.rsplit("_", 1)[-1]


def literal(rule: str) -> Callable[[Article], bool]:
    """The baseline: every term of the rule as written occurs (folded), nothing else."""
    words = [leaf.text for leaf in leaves(parse(rule, entities=Entities()))
             if hasattr(leaf, "text")]
    from bot.text import fold

    def matches(article: Article) -> bool:
        text = fold(f"{article.title}\n{article.text}")
        return all(fold(w) in text for w in words)
    return matches


async def by_story(url: str, articles: Sequence[Article]) -> list[str]:
    """The story id of each report, as the real index groups them."""
    async with fresh_index(url, threshold=0.30) as index:
        return [p.story_id for p in await index.place_many(articles, now=NOW)]


def story_scores(stories: Sequence[str], articles: Sequence[Article], matched: Sequence[bool],
                 wanted: Sequence[bool], *, min_outlets: int) -> Scores:
    """Per story: alerted when a report matches and it has `min_outlets` outlets; wanted
    when one of its reports is."""
    alerted: dict[str, bool] = {}
    liked: dict[str, bool] = {}
    outlets: dict[str, set[str]] = {}
    for story, article, hit, want in zip(stories, articles, matched, wanted, strict=True):
        alerted[story] = alerted.get(story, False) or hit
        liked[story] = liked.get(story, False) or want
        outlets.setdefault(story, set()).add(article.outlet)
    ids = sorted(alerted)
    return scores([alerted[s] and len(outlets[s]) >= min_outlets for s in ids],
                  [liked[s] for s in ids])


async def report(url: str, item: Subject, *, entities: Entities, misses: bool) -> None:
    """Print one subject's scores, the baseline's, and optionally the misses."""
    ruleset = RuleSet([Rule(id="r", expression=item.rule)], entities=entities)
    matched = [bool(ruleset.match(a)) for a in item.articles]
    base = literal(item.rule)
    baseline = [base(a) for a in item.articles]
    stories = await by_story(url, item.articles)
    options = rule_options(item.rule)
    print(f"{item.name}{' (held out)' if item.held_out else ''}: `{item.rule}`, "
          f"{len(item.articles)} reports ({sum(item.wanted)} wanted), {len(set(stories))} stories")
    print(f"  reports  {scores(matched, item.wanted)}   (literal terms: "
          f"{scores(baseline, item.wanted)})")
    for name in SCRIPTS:
        idx = [i for i, a in enumerate(item.articles) if script(a) == name]
        print(f"    {name:<5}  {scores([matched[i] for i in idx], [item.wanted[i] for i in idx])}"
              f"   (literal: {scores([baseline[i] for i in idx], [item.wanted[i] for i in idx])})")
    story = story_scores(stories, item.articles, matched, item.wanted,
                         min_outlets=options.min_outlets)
    literal_story = story_scores(stories, item.articles, baseline, item.wanted, min_outlets=1)
    print(f"  stories  {story}   (literal terms: {literal_story})")
    if misses:
        for article, hit, want in zip(item.articles, matched, item.wanted, strict=True):
            if hit != want:
                kind = "missed" if want else "false alert"
                print(f"    {kind:<11} {Path(article.path or '').name}: {article.title[:60]}")


async def main() -> None:
    """Score every subject of the intent set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", action="append", default=[], metavar="SUBJECT=RULE")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    overrides = dict(r.split("=", 1) for r in args.rule)
    entities = load_rule_files(REPO / "rules").entities  # the shipped catalog, as the service
    async with server_url() as url:
        for folder in sorted(p for p in INTENT.iterdir() if p.is_dir()):
            await report(url, subject(folder, overrides.get(folder.name)), entities=entities,
                         misses=args.misses)


if __name__ == "__main__":
    asyncio.run(main())
