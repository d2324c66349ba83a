"""All active rules in one pass (`RuleSet`): one Aho-Corasick pass over every folded term, plus
a small boolean program per rule.

Compiling: each rule's AST (bot.rules.grammar) becomes a tree of nodes whose leaves are sets of
term keys (a term, a phrase, or every alias of an entity). Every distinct folded key goes into
pyahocorasick: keys with a word character at an edge (Latin) into one automaton over the text,
the others (CJK) into one over the text's UTF-8 bytes. Each rule also gets its triggers: leaves
of which at least one must occur for the rule to hold (grammar rejects rules that could hold
with none of their terms), the set form of simple rules, and a flat plan for the terms `match`
reports.

Matching: fold the title and the text (NFKC, Traditional -> Simplified, case), run the automata
over both once to learn which keys occur as whole words, settle each literal once, then evaluate
only the rules whose triggers occurred. Positions are found only where needed (NEAR, gap aliases,
exclusions, the order of aliases found, `match_detail`) and kept per article. Positions are
offsets into the folded field text; folding keeps the length of almost all text (CJK, ASCII), so
they are usually offsets into the original too.

Two paths run `match`: the C core (bot/rules/_cmatch.c, fed by bot.rules.native: each node
lowers itself into flat tables once per program) does the whole per-article work when the
extension is built, with its own automaton over code points; the Python path (also what
`match_detail` runs) does it with pyahocorasick. They return the same thing, including the
order of terms: ties at one position go by folded key text, then gap aliases.

Recompiling is cheap: compiled programs are cached per expression (per entity catalog) and the
automata are reused while they already hold every key the rules need; the Python path's indexes
and automata are built only when it first runs.

Where each part lives:

- bot.rules.compiler: expressions -> programs, one `Compiler` per entity catalog;
- bot.rules.compiled: the compiled nodes (leaves and operators) and how each evaluates;
- bot.rules.program: a compiled rule's triggers, set form and plan of reported terms;
- bot.rules.scan: one article's scan (keys, positions, literals), occurrences and distances,
  and the results (`MatchedTerm`, `RuleMatch`);
- bot.rules.automata and bot.rules.index: the Python path's automaton pass and indexes;
- bot.rules.native and _cmatch.c: the C core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from bot.errors import RuleError
from bot.models import Article, Rule
from bot.rules import native
from bot.rules.automata import Automata
from bot.rules.compiler import BIND_DISTANCE, compiler_for
from bot.rules.derived import NAME, TERM, WHO_KINDS
from bot.rules.entities import Entities, shipped_entities
from bot.rules.grammar import rule_options
from bot.rules.history import History, shipped_history
from bot.rules.index import Index
from bot.rules.negation import Negation, shipped_negation
from bot.rules.program import Program, run_plan
from bot.rules.scan import FIELDS, MatchedTerm, RuleMatch, Scan, is_word_char
from bot.text import fold

__all__ = ["BIND_DISTANCE", "FIELDS", "NAME", "TERM", "WHO_KINDS", "MatchedTerm", "RuleMatch",
           "RuleSet", "is_word_char"]

T = TypeVar("T")


class RuleSet:
    """All active rules, compiled into one automaton; `match` returns rule id -> terms.

    `match` runs in the C core (bot.rules.native) when the extension is built, else in Python
    (`native=False` forces Python, `native=True` requires the core); `match_detail` always runs
    in Python. Both paths return the same thing.
    """

    def __init__(self, rules: Iterable[Rule], *, entities: Entities | None = None,
                 on_error: Callable[[Rule, RuleError], None] | None = None,
                 native: bool | None = None, history: History | None = None,
                 negation: Negation | None = None) -> None:
        compiler = self._compiler = compiler_for(entities or shipped_entities())
        self.history = history or shipped_history()
        self.negation = negation if negation is not None else shipped_negation()
        self.rules: list[Rule] = []
        self._programs: list[Program] = []
        for rule in rules:
            try:
                program = compiler.program(rule.expression)
                options = rule_options(rule.expression)
            except RuleError as exc:
                if on_error is None:
                    raise
                on_error(rule, exc)
                continue
            changed = options.history != rule.history or options.min_outlets > rule.min_outlets
            self.rules.append(replace(rule, history=options.history, min_outlets=max(
                rule.min_outlets, options.min_outlets)) if changed else rule)
            self._programs.append(program)
        self._history_of = {r.id: r.history for r in self.rules}
        self._history_only = any(r.history == "only" for r in self.rules)
        self._cues: dict[int, int] = {compiler.key_id(cue): kind for cue, kind
                                      in self.negation.cues().items()} if self.rules else {}
        self._keys: frozenset[int] = frozenset().union(*(p.keys for p in self._programs),
                                                       self._cues)
        if native and compiler.tables is None:
            raise RuntimeError("bot.rules._cmatch is not built: reinstall with a C compiler")
        use_core = compiler.tables is not None and native is not False
        self._core: Any = compiler.core(self.rules, self._programs, self._keys, cues=(
            self._cues, self.negation.chars, self.negation.words)) if use_core else None
        self._outlets = compiler.tables.outlets if compiler.tables is not None else {}
        self._python: Index | None = None

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def native(self) -> bool:
        """Whether `match` runs in the C core."""
        return self._core is not None

    @property
    def key_count(self) -> int:
        """How many distinct folded terms the automaton holds."""
        return len(self._keys)

    @property
    def _automaton(self) -> Automata:
        return self._index().automaton

    def _index(self) -> Index:
        if self._python is None:
            self._python = Index(self.rules, self._programs,
                                  self._compiler.automaton_for(self._keys),
                                  cues=(self._cues, self.negation.chars, self.negation.words))
        return self._python

    def match(self, article: Article) -> Mapping[str, tuple[str, ...]]:
        """The rules `article` satisfies, each with the terms that made it match: a report
        about the past (`bot.rules.history`) only for the rules that ask for history."""
        texts = _texts(article)
        found = self._match(texts, article.outlet.casefold())
        return self.in_time(article, found, folded=texts) if found else found

    def in_time(self, article: Article, found: dict[str, T], *,
                folded: tuple[str, str] | None = None) -> dict[str, T]:
        """`found` (rule id -> anything) without the rules whose `history` option excludes
        the article (read only when some rule matched: most articles match none). `folded`:
        the article's folded title and text, when the caller has them."""
        historical = self.history.historical(article, folded=folded)
        history = self._history_of
        if not historical and not self._history_only:
            return found  # news: only `history:only` rules would drop it
        wanted = ("any", "only") if historical else ("any", "exclude")
        return {rule: value for rule, value in found.items()
                if history.get(rule, "exclude") in wanted}

    def _match(self, texts: tuple[str, str], outlet: str) -> dict[str, tuple[str, ...]]:
        """`match` on folded fields: in the C core when there is one (and the text fits)."""
        core = self._core
        if core is not None and len(texts[0]) + len(texts[1]) < native.MAX_CHARS:
            found: dict[str, tuple[str, ...]] = core.match(texts[0], texts[1],
                                                           self._outlets.get(outlet, -1))
            return found
        index = self._index()
        scan = index.scan(texts, outlet, self._compiler)
        matched: dict[str, tuple[str, ...]] = {}
        programs, rules = self._programs, self.rules
        for i in index.matching(scan):
            program = programs[i]
            matched[rules[i].id] = program.names if program.names is not None \
                else run_plan(program.plan, scan)
        return matched

    def match_detail(self, article: Article) -> dict[str, RuleMatch]:
        """The rules `article` satisfies, with each occurrence (field, offsets) that counted."""
        index = self._index()
        scan = index.scan(_texts(article), article.outlet.casefold(), self._compiler)
        found: dict[str, RuleMatch] = {}
        for i in index.matching(scan):
            hits: list[MatchedTerm] = []
            self._programs[i].root.evidence(scan, hits)
            hits.sort(key=lambda h: (FIELDS.index(h.field) if h.field in FIELDS else -1,
                                     h.start, h.end))
            found[self.rules[i].id] = RuleMatch(self.rules[i], tuple(dict.fromkeys(hits)))
        return found

    def scan(self, article: Article) -> Scan:
        """Fold title and text, find which keys occur (whole words), settle literals."""
        return self._index().scan(_texts(article), article.outlet.casefold(), self._compiler)


def _texts(article: Article) -> tuple[str, str]:
    return _one_line(fold(article.title)), _one_line(fold(article.text))


def _one_line(text: str) -> str:
    """Line breaks and tabs as spaces (same length), so phrases match across them."""
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
