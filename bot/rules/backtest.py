"""Backtesting a rule over articles: what `newsbot rules test` and `/rule test` show.

`backtest` runs one expression over any articles (stored ones or a folder); `run_rules_test`
does the whole command except reading stored articles and returns (exit status, output).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ParseError, RuleError
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, Rule
from bot.rules.derived import WHO_KINDS, expanded
from bot.rules.engine import MatchedTerm, RuleSet
from bot.rules.entities import Entities, Entity, shipped_entities
from bot.rules.expand import expand
from bot.rules.grammar import And, EntityRef, Near, Node, Not, Or, Term, Title, leaves, parse
from bot.rules.history import EventTime
from bot.rules.negation import KEEP, Negation
from bot.rules.pairs import pair_entity
from bot.text import fold

EXIT_OK = 0
EXIT_RULE_ERROR = 2
EXIT_NO_ARTICLES = 1
_RULE_ID = "test"


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """One article's verdict: whether the rule matched and the occurrences that made it."""

    url: str | None
    title: str
    outlet: str
    path: str | None
    matched: bool
    terms: tuple[str, ...] = ()
    hits: tuple[MatchedTerm, ...] = ()
    history: EventTime | None = None  # when the words matched but the report is about the past
    denied: tuple[str, ...] = ()  # the negation cues that kept the words from matching

    def as_json(self) -> dict[str, object]:
        """The `--json` object: url, title, outlet, path, matched, terms, hits, and for a
        report about the past that the rule leaves out, its event time."""
        found: dict[str, object] = {
            "url": self.url, "title": self.title, "outlet": self.outlet, "path": self.path,
            "matched": self.matched, "terms": list(self.terms),
            "hits": [{"term": h.term, "alias": h.alias, "field": h.field, "start": h.start,
                      "end": h.end} for h in self.hits]}
        if self.history is not None:
            found["history"] = {"year": self.history.year, "evidence": self.history.evidence}
        if self.denied:
            found["denied"] = list(self.denied)
        return found


def backtest(expression: str, articles: Iterable[Article], *,
             entities: Entities | None = None) -> list[BacktestResult]:
    """Run `expression` over `articles`; raises RuleError if the expression is invalid."""
    rules = [Rule(id=_RULE_ID, expression=expression)]
    ruleset = RuleSet(rules, entities=entities)
    literal: RuleSet | None = None  # the same rule reading no negation: what a cue denied
    results: list[BacktestResult] = []
    for article in articles:
        found = ruleset.match_detail(article).get(_RULE_ID)
        history: EventTime | None = None
        denied: tuple[str, ...] = ()
        if found is None:
            literal = literal or RuleSet(rules, entities=entities, negation=Negation())
            if literal.match(article):
                denied = cues_in(article, ruleset.negation)
        elif not ruleset.in_time(article, {_RULE_ID: found}):
            history, found = ruleset.history.event_time(article), None
        results.append(BacktestResult(
            url=article.url, title=article.title, outlet=article.outlet, path=article.path,
            matched=found is not None, terms=found.terms if found else (),
            hits=found.hits if found else (), history=history, denied=denied))
    return results


def cues_in(article: Article, negation: Negation) -> tuple[str, ...]:
    """The negation cues an article says (folded), for showing why a rule did not match."""
    text = fold(f"{article.title} {article.text}")
    return tuple(c for c, kind in negation.cues().items() if kind != KEEP and c in text)


def described_terms(expression: str, *, entities: Entities | None = None) -> list[str]:
    """What each bare term of a rule stands for, for replies: `朝鲜 = @dprk: North Korea`, or
    its expansion across scripts and languages (`演习 -> 演習 · 演练 · drill(s) ...`);
    raises RuleError if the rule is invalid."""
    entities = entities or shipped_entities()
    lines: list[str] = []
    for leaf in leaves(parse(expression, entities=entities)):
        if not isinstance(leaf, Term):
            continue
        entity = entities.expand(leaf.text)
        if entity is not None:
            lines.append(f"{leaf.text} = @{entity.name}: {entity.label or entity.name}")
        elif (found := expand(leaf.text)) is not None:
            lines.append(found.shown())
    return list(dict.fromkeys((*lines, *_pair_lines(parse(expression, entities=entities),
                                                     entities))))


def _pair_lines(node: Node, entities: Entities) -> Iterable[str]:
    """For each AND naming two or more countries, their pair words (`bot.rules.pairs`):
    `泰国 + 柬埔寨 together: 泰柬 · 柬泰`."""
    if isinstance(node, Title | Not):
        yield from _pair_lines(node.child, entities)
    elif isinstance(node, Near):
        yield from (*_pair_lines(node.left, entities), *_pair_lines(node.right, entities))
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _pair_lines(child, entities)
    if not isinstance(node, And):
        return
    sides = [(child, entity) for child in node.children if isinstance(child, Term | EntityRef)
             and (entity := _who(child, entities)) is not None]
    words = [w for _, e in sides if (found := pair_entity(e, tuple(e for _, e in sides)))
             for w in found.aliases] if len(sides) > 1 else []
    if words:
        said = " + ".join(c.text if isinstance(c, Term) else f"@{c.name}" for c, _ in sides)
        yield f"{said} together: {' · '.join(dict.fromkeys(words))}"


def _who(leaf: Term | EntityRef, entities: Entities) -> Entity | None:
    """The entity of a leaf that names someone who acts (as the compiler resolves it)."""
    found = entities.by_name[leaf.name] if isinstance(leaf, EntityRef) \
        else entities.expand(leaf.text) or expanded(leaf.text)
    return found if found is not None and found.kind in WHO_KINDS else None


def read_articles(path: Path, *, progress: Callable[[int, int], None] | None = None
                  ) -> tuple[list[Article], list[ParseError]]:
    """The articles of a seed folder (or one seed file), with the files that could not be read."""
    if not path.exists():
        return [], [ParseError(str(path), "no such file or folder", kind="parse")]
    return read_seed_folder(path, progress=progress)


def run_rules_test(expression: str, *, path: Path | None = None,
                   articles: Iterable[Article] = (), as_json: bool = False,
                   entities: Entities | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[int, str]:
    """`newsbot rules test`: backtest over `articles` plus those read from `path`.

    Returns the exit status (0, or 2 for an invalid rule, 1 when a folder cannot be read) and
    the text to print: one line per article (matches first, with their terms), or with
    `as_json` a JSON list of one object per article.
    """
    pool = list(articles)
    errors: list[ParseError] = []
    if path is not None:
        read, errors = read_articles(path, progress=progress)
        pool += read
    try:
        results = backtest(expression, pool, entities=entities)
        terms = described_terms(expression, entities=entities)
    except RuleError as exc:
        if as_json:
            return EXIT_RULE_ERROR, json.dumps(error_json(exc), ensure_ascii=False, indent=2)
        return EXIT_RULE_ERROR, describe_error(exc)
    if as_json:
        return EXIT_OK, json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2)
    lines = [f"  {t}" for t in terms]
    lines += [_line(r) for r in sorted(results, key=lambda r: not r.matched)]
    lines += [f"warning: {e}" for e in errors]
    hits = sum(r.matched for r in results)
    lines.append(f"{hits} of {len(results)} articles match {expression!r}")
    status = EXIT_NO_ARTICLES if path is not None and not pool and errors else EXIT_OK
    return status, "\n".join(lines)


def error_json(exc: RuleError) -> dict[str, object]:
    """A rule error as data: the message, the 1-based column, the 0-based position, the rule."""
    return {"error": exc.message, "column": exc.position + 1, "position": exc.position,
            "rule": exc.expression}


def describe_error(exc: RuleError) -> str:
    """A rule error with the expression and a caret under the position."""
    if not exc.expression:
        return f"invalid rule: {exc.message}"
    caret = " " * _width(exc.expression[:exc.position]) + "^"
    return f"invalid rule: {exc.message}\n  {exc.expression}\n  {caret}"


def _width(text: str) -> int:
    """Display columns of `text`: CJK and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _line(result: BacktestResult) -> str:
    where = result.url or result.path or ""
    mark = "MATCH" if result.matched else "-    "
    terms = f"  [{', '.join(result.terms)}]" if result.matched else ""
    if result.denied:
        mark = "DENY "
        terms = f"  (a mention is denied: {', '.join(result.denied)})"
    if result.history is not None:
        mark = "PAST "
        year = f"{result.history.year}, " if result.history.year else ""
        about = "" if result.history.evidence.startswith("a hypothetical") else "about the past: "
        terms = (f"  ({about}{year}{result.history.evidence}; history:any includes it)")
    return f"{mark} {result.outlet:<8} {result.title}{terms}" + (f"\n      {where}"
                                                                  if where else "")
