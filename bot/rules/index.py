"""The Python path of matching (`Index`): key -> literals, literal and outlet -> rules, and
the automata; built when the Python path first runs (`match_detail`, or `match` without the
C core)."""

from __future__ import annotations

from typing import Any

from bot.models import Rule
from bot.rules.automata import Automata
from bot.rules.compiled import Leaf
from bot.rules.compiler import Compiler
from bot.rules.negation import NONE, deny, inside
from bot.rules.program import Program
from bot.rules.scan import Scan


class Index:
    """The Python path's indexes: key -> literals, literal and outlet -> rules, the automata.

    Built when the Python path first runs (match_detail, or match without the C core)."""

    def __init__(self, rules: list[Rule], programs: list[Program], automaton: Automata, *,
                 cues: tuple[dict[int, int], int, int] = ({}, 0, 0)) -> None:
        self.programs = programs
        self.cues, self.reach = cues[0], cues[1:]  # negation (bot.rules.negation)
        self.sources = [frozenset(s.casefold() for s in r.sources) for r in rules]
        self.fast = [p.fast for p in programs]
        self.automaton = automaton
        self.leaf_of: dict[int, Leaf] = {}
        self.key_lits: dict[int, list[int]] = {}
        self.title_key_lits: dict[int, list[int]] = {}
        self.nonplain: set[int] = set()
        for program in programs:
            for leaf in program.leaves:
                if leaf.lit in self.leaf_of:
                    continue
                self.leaf_of[leaf.lit] = leaf
                index = self.title_key_lits if leaf.title else self.key_lits
                for k in leaf.trigger:
                    index.setdefault(k, []).append(leaf.lit)
                if not leaf.plain:
                    self.nonplain.add(leaf.lit)
        self.rules_of_lit: dict[int, list[int]] = {}
        self.source_rules: dict[str, list[int]] = {}
        self.always: list[int] = []
        for i, program in enumerate(programs):
            if program.triggers is None:
                self.always.append(i)
            for trigger in program.triggers or ():
                by: dict[Any, list[int]] = (self.source_rules if isinstance(trigger, str)
                                            else self.rules_of_lit)
                by.setdefault(trigger, []).append(i)

    def scan(self, texts: tuple[str, str], outlet: str, compiler: Compiler) -> Scan:
        """Find which keys occur (whole words) in the folded fields, settle the literals."""
        automata = self.automaton
        positions: dict[int, list[tuple[int, int, int]]] = {}
        title = automata.keys_in(texts[0], 0, positions) if texts[0] else set()
        keys = title | automata.keys_in(texts[1], 1, positions) if texts[1] else set(title)
        scan = Scan(texts, keys, title, outlet, positions=positions, strings=compiler.texts,
                     edges=compiler.edges)
        if self.cues and not keys.isdisjoint(self.cues):
            self._deny(scan, compiler)
        true = scan.true
        for found, index in ((keys, self.key_lits), (title, self.title_key_lits)):
            for k in found:
                lits = index.get(k)
                if lits:
                    true.update(lits)
        for lit in true & self.nonplain:
            if not self.leaf_of[lit].holds(scan):
                true.discard(lit)
        return scan

    def _deny(self, scan: Scan, compiler: Compiler) -> None:
        """Drop the occurrences of keys that a negation cue denies (as the C core's
        `negate`): a key left with none does not occur."""
        cues, latin = self.cues, compiler.latin
        spans = deny(scan.texts, scan.keys, cues, scan.at, lambda k: bool(latin[k]),
                     chars=self.reach[0], words=self.reach[1])
        if spans is None:
            return
        for k in [k for k in scan.keys if cues.get(k, NONE) == NONE]:
            found = scan.at(k)
            kept = [o for o in found if not inside(spans, *o)]
            if len(kept) == len(found):
                continue
            scan.positions[k] = kept
            if not kept:
                scan.keys.discard(k)
            if not any(f == 0 for f, _, _ in kept):
                scan.title.discard(k)

    def matching(self, scan: Scan) -> list[int]:
        """Indexes of the rules that hold, in rule order; only triggered rules are tested."""
        true, outlet = scan.true, scan.outlet
        candidates: set[int] = set(self.always)
        rules_of_lit = self.rules_of_lit
        for lit in true:
            found = rules_of_lit.get(lit)
            if found:
                candidates.update(found)
        candidates.update(self.source_rules.get(outlet, ()))
        programs, sources, fasts = self.programs, self.sources, self.fast
        matched: list[int] = []
        for i in candidates:
            if sources[i] and outlet not in sources[i]:
                continue
            fast = fasts[i]
            if fast is None:
                if programs[i].root.test(scan):
                    matched.append(i)
                continue
            required, forbidden, groups, source = fast
            if required <= true and (not forbidden or forbidden.isdisjoint(true)) \
                    and (source is None or source == outlet) \
                    and not any(map(true.isdisjoint, groups)):
                matched.append(i)
        matched.sort()
        return matched
