"""Matching compiled rules against articles (first version: one substring test per term).

CJK terms match as substrings; Latin terms match on word boundaries (`nk` is not in "bank").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.models import Article, Rule
from bot.rules.grammar import Term, parse
from bot.text import fold, is_cjk


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    patterns: tuple[tuple[Term, re.Pattern[str] | None], ...]


def _pattern(term: Term) -> re.Pattern[str] | None:
    """A word-boundary regex for Latin terms; None means plain substring (CJK)."""
    if is_cjk(term.text):
        return None
    return re.compile(r"(?<!\w)" + re.escape(term.text) + r"(?!\w)")


class RuleSet:
    """All active rules, compiled once; `match` returns rule id -> matched terms."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = [
            _Compiled(rule, tuple((t, _pattern(t)) for t in parse(rule.expression)))
            for rule in rules
        ]

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, article: Article) -> Mapping[str, tuple[str, ...]]:
        """The rules `article` satisfies, each with the terms that made it match."""
        text = fold(f"{article.title}\n{article.text}")
        outlet = article.outlet.casefold()
        matched: dict[str, tuple[str, ...]] = {}
        for compiled in self._rules:
            if compiled.rule.sources and outlet not in {
                    s.casefold() for s in compiled.rule.sources}:
                continue
            terms = [t.text for t, pat in compiled.patterns
                     if (pat.search(text) if pat else t.text in text)]
            if len(terms) == len(compiled.patterns):
                matched[compiled.rule.id] = tuple(terms)
        return matched
