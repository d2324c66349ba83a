"""Rule expressions -> programs (`Compiler`, one per entity catalog): the AST (bot.rules.grammar)
becomes compiled nodes over interned key and literal ids; actions are bound to whoever an AND
names beside them, bare terms expand across scripts and languages (bot.rules.expand), and each
program is lowered once into the C core's tables when the core is built.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from bot.models import Rule
from bot.rules import grammar as g
from bot.rules import native, places
from bot.rules.automata import Automata
from bot.rules.compiled import AndNode, CompiledNode, Leaf, NearNode, NotNode, OrNode, SourceTest
from bot.rules.derived import (
    WHO_KINDS,
    actors,
    catalog_others,
    expanded,
    others_of,
    reactions,
)
from bot.rules.entities import ACTION, ROLES, WHO, Entities, Entity, gap_parts, key
from bot.rules.pairs import pair_entity
from bot.rules.program import Program, fast_form, names_of, triggers_of
from bot.rules.scan import AGENT, CLAUSE, OTHER, is_latin, is_word_char

BIND_DISTANCE = 15  # characters (CJK) or words (Latin) between someone and their action
PLACE = ROLES[3]  # the role of something that happens somewhere (`bot.rules.places`)
_ACTS = frozenset({ROLES[0], ROLES[2]})  # roles whose doer a country's leaders stand in for
_CACHE_CAP = 100_000


class _Build:
    """What compiling one rule collects besides its tree: its keys and leaves."""

    def __init__(self) -> None:
        self.keys: set[int] = set()
        self.leaves: list[Leaf] = []


class Compiler:
    """Turns expressions into programs for one entity set; caches programs, keys and leaves."""

    def __init__(self, entities: Entities) -> None:
        self.entities = entities
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []
        self.edges: list[tuple[bool, bool]] = []
        self.latin = bytearray()  # key id -> whether the key is Latin (NEAR counts words)
        self.lits: dict[tuple[str, str, bool], int] = {}
        self.leaves: dict[tuple[str, str, bool, str | None], Leaf] = {}
        self.programs: dict[str, Program] = {}
        self.automaton: Automata | None = None
        self.automaton_keys: frozenset[int] = frozenset()
        self.tables = native.Tables() if native.AVAILABLE else None
        self.native_automaton: Any = None
        self.native_keys: frozenset[int] = frozenset()
        self.near = 0  # > 0 while compiling a side of NEAR (sense limits need occurrences)
        self.actors: dict[frozenset[str], Entity] = {}  # `derived.actors` by the entities left out

    def key_id(self, folded: str) -> int:
        found = self.ids.get(folded)
        if found is None:
            found = self.ids[folded] = len(self.texts)
            self.texts.append(folded)
            self.edges.append((is_word_char(folded[0]), is_word_char(folded[-1])))
            self.latin.append(is_latin(folded))
        return found

    def others(self, but: frozenset[str] = frozenset()) -> Entity:
        """The catalog's actors but the entities named `but` (`derived.actors`), one per set."""
        found = self.actors.get(but)
        if found is None:
            found = self.actors[but] = actors(self.entities, but)
        return found

    def lit_id(self, signature: tuple[str, str, bool]) -> int:
        return self.lits.setdefault(signature, len(self.lits))

    def program(self, expression: str) -> Program:
        """The compiled rule; raises RuleError for an invalid expression."""
        found = self.programs.get(expression)
        if found is None:
            if len(self.programs) >= _CACHE_CAP:
                self.programs.clear()
                if self.tables is not None:
                    self.tables.clear_nodes()
            build = _Build()
            root = self.node(g.parse(expression, entities=self.entities), False, build, ())
            triggers = triggers_of(root)
            tables = self.tables
            lowered = None if tables is None else (tables.generation, root.lower(tables),
                                                   tables.triggers(triggers))
            found = self.programs[expression] = Program(
                root, triggers, frozenset(build.keys), tuple(build.leaves), fast_form(root),
                *names_of(root), lowered)
        return found

    def node(self, ast: g.Node, title: bool, build: _Build, whom: tuple[Entity, ...]
             ) -> CompiledNode:
        """The compiled node; `whom`: the entities an enclosing AND names beside it (what the
        `{who}` aliases of an action in it are made with)."""
        if isinstance(ast, (g.Term, g.Phrase, g.EntityRef, g.Source)):
            return self.leaf(ast, title, build, whom)
        if isinstance(ast, g.Title):
            return self.node(ast.child, True, build, whom)
        if isinstance(ast, g.Not):
            return NotNode(self.node(ast.child, title, build, whom))
        if isinstance(ast, g.Near):
            self.near += 1
            try:
                return NearNode(self.node(ast.left, title, build, whom),
                             self.node(ast.right, title, build, whom), ast.distance)
            finally:
                self.near -= 1
        if isinstance(ast, g.And):
            return self.and_(ast, title, build, whom)
        return OrNode([self.node(c, title, build, whom) for c in ast.children])

    def and_(self, ast: g.And, title: bool, build: _Build, whom: tuple[Entity, ...]
             ) -> CompiledNode:
        """An AND; an action in it beside someone (`朝鲜 + 派兵`) must occur within
        BIND_DISTANCE of them in one sentence, or they must be named in the headline: the
        action is theirs, not that of anyone else the report names; beside several (`中国 +
        台湾 + 演习`), of each of them. Beside one, an action whose `role` is `agent` (the
        default: sanctions are `target`, a ceasefire `party`) must be done by them, not to
        them (`scan.bound`), and a headline that says the action binds nothing in the text.
        A bare term's sense limit joins the AND."""
        resolved = [(child, self.resolve(child)) for child in ast.children]
        who = [child for child, e in resolved if e is not None and e.kind in WHO_KINDS]
        whom = (*whom, *(e for _, e in resolved if e is not None and e.kind in WHO_KINDS))
        event = any(e is not None and e.kind == ACTION and e.role == PLACE for _, e in resolved)
        # beside an action someone does (or is a side of), a country's leaders act for it;
        # beside no action at all (`美国 + 关税`), naming its leader names it
        acts = any(e is not None and e.kind == ACTION and e.role in _ACTS for _, e in resolved) \
            or not any(e is not None and e.kind == ACTION for _, e in resolved)
        doer = {id(c): e for c, e in resolved if acts and e is not None and c in who}
        sides = tuple(e for c, e in resolved if e is not None and c in who)
        pair = {id(c): p for c, e in resolved if len(sides) > 1 and e is not None and c in who
                and (p := pair_entity(e, sides)) is not None}

        def actor(w: g.Node, title: bool,
                  make: Callable[[CompiledNode], CompiledNode] = lambda x: x) -> CompiledNode:
            """`make` of `w`, of its pair words with another country of the AND (泰柬,
            `bot.rules.pairs`), or of one of the people who act for it (`acts_for`) in a
            report that does not call them former."""
            made = [make(self.node(w, title, build, whom))]
            found = doer.get(id(w))
            display = None if isinstance(w, g.EntityRef) else getattr(w, "text", None)
            if (words := pair.get(id(w))) is not None:
                made.append(make(self._leaf(words, display, title, build, ())))
            for person, former in self.entities.people(found) if found is not None else ():
                made.append(AndNode([make(self._leaf(person, display, title, build, ())),
                                     NotNode(self._leaf(former, None, False, build, ()))]))
            return made[0] if len(made) == 1 else OrNode(made)

        children: list[CompiledNode] = []
        for child, entity in resolved:
            node = actor(child, title)
            if event and child in who and entity is not None \
                    and (inside := places.within(places.folded(entity.aliases))) is not None:
                # where something happens, a place in the country is the country (鹿儿岛)
                node = OrNode([node, self._leaf(inside, None, title, build, ())])
            senses: list[CompiledNode] = (list(node.children) if isinstance(node, AndNode)
                                          else [node])
            if who and entity is not None and entity.kind == ACTION and entity.role == PLACE:
                # something that happens somewhere, beside a place: not where another country
                # is bound to it (a quake in Myanmar that Japan reacts to); beside no place
                # (`特朗普 + 飓风`), anywhere
                here = places.folded(a for e in whom for a in e.aliases)
                if places.known(here):
                    senses[0] = self._where(entity, child, senses[0], here, build=build,
                                            whom=whom)
            elif who and entity is not None and entity.kind == ACTION:
                own = senses[0]
                if entity.role == ROLES[0] and (react := reactions()) is not None \
                        and not any(WHO in a for a in entity.aliases):
                    # not an act the one beside it reacts to (`condemned the strikes`, 谴责空袭);
                    # an action whose own words name its doer (抗议朝鲜士兵...) is theirs
                    own = NearNode(self._leaf(react, None, False, build, ()), own, 0, OTHER)
                agent = len(who) == 1 and entity.role == ROLES[0]
                # with one doer, a headline that says the action says whose it is, beside it
                unsaid = [NotNode(self.node(child, True, build, whom))] \
                    if agent and not title else []
                flags = CLAUSE | (AGENT if agent else 0)
                # nor, beside one actor, an action the text gives someone the catalog names
                # (乌方企图袭击): when the actor's own binding fails, any actor bound to it is
                # someone else
                if len(who) == 1:
                    unsaid.append(NotNode(NearNode(self._leaf(
                        self.others(), None, False, build, ()), own, BIND_DISTANCE, flags)))
                bound: list[CompiledNode] = [OrNode([
                    actor(w, title, _near_to(own, BIND_DISTANCE, flags)),
                    actor(w, True, _with([own, *unsaid]))]) for w in who]
                if len(who) > 1 and entity.role == ROLES[0]:
                    # beside several, one of them does it: not an action of someone else
                    # that they react to in the same clause (以色列空袭伊朗 印度航空...改道),
                    # nor one another actor does right at it (after Israeli air strikes)
                    names = {e.name for e in whom}
                    names |= {p.name for e in whom for p, _ in self.entities.people(e)}
                    theirs = NearNode(self._leaf(self.others(frozenset(names)), None, False,
                                                 build, ()), own, 0, OTHER)
                    theirs_near = _near_to(theirs, BIND_DISTANCE, CLAUSE | AGENT)
                    bound.append(OrNode([actor(w, title, theirs_near) for w in who]))
                senses[0] = _one_and(bound)
            children += senses
        return AndNode(children)

    def _where(self, entity: Entity, child: g.Node, own: CompiledNode, here: frozenset[str], *,
               build: _Build, whom: tuple[Entity, ...]) -> CompiledNode:
        """An event beside a place (`bot.rules.places`): its occurrences no other country or
        place in one is bound to; and where the headline says it, one of the headline's."""
        elsewhere = self._leaf(places.elsewhere(here), None, False, build, ())
        display = None if isinstance(child, g.EntityRef) else getattr(child, "text", None)
        headline = self._leaf(entity, display, True, build, whom)
        flags = OTHER | CLAUSE | AGENT
        return AndNode([NearNode(elsewhere, own, BIND_DISTANCE, flags),
                        NotNode(AndNode([headline, NotNode(NearNode(
                            elsewhere, headline, BIND_DISTANCE, flags))]))])

    def resolve(self, ast: g.Node) -> Entity | None:
        """The entity a leaf stands for: an @ref, a bare term that is an alias, or a bare term
        the catalog does not know with its expansion across scripts and languages
        (`bot.rules.expand`) as a term's own entity."""
        if isinstance(ast, g.EntityRef):
            return self.entities.by_name[ast.name]
        if not isinstance(ast, g.Term):
            return None
        return self.entities.expand(ast.text) or expanded(ast.text)

    def leaf(self, ast: g.Term | g.Phrase | g.EntityRef | g.Source, title: bool,
             build: _Build, whom: tuple[Entity, ...] = ()) -> CompiledNode:
        """A leaf; for a bare term whose expansion has other senses (`rules/senses.yaml`),
        the leaf in the reports that mark none of them (one sense per discourse)."""
        if isinstance(ast, g.Source):
            return SourceTest(ast.name)
        entity = self.resolve(ast)
        display = None if isinstance(ast, g.EntityRef) else ast.text
        found = self._leaf(entity, display, title, build, whom)
        others = None if entity is None or self.near else catalog_others(entity) \
            if entity.other_senses else others_of(ast.text) \
            if isinstance(ast, g.Term) and entity.name.startswith("~") else None
        if others is None:
            return found
        marker = self._leaf(others, display, False, build, ())
        if entity is not None and entity.other_senses:  # a catalog entity: beside its words
            return AndNode([found, NotNode(NearNode(found, marker, BIND_DISTANCE))])
        return AndNode([found, NotNode(marker)])

    def _leaf(self, entity: Entity | None, display: str | None, title: bool, build: _Build,
              whom: tuple[Entity, ...]) -> Leaf:
        if entity is not None and len(entity.plain) < len(entity.aliases):
            entity = entity.about(e for e in dict.fromkeys(whom) if e is not entity)
        signature = (("entity", entity.name, title) if entity
                     else ("term", key(display or ""), title))
        leaf = self.leaves.get((*signature, display))
        if leaf is None:
            lit = self.lit_id(signature)
            leaf = self.entity(entity, lit, title, display) if entity else self.term(
                signature[1], lit, title, display or "")
            self.leaves[(*signature, display)] = leaf
        build.keys.update(leaf.trigger, *leaf.masks.values(), *((b,) for _, b, _ in leaf.gaps))
        build.leaves.append(leaf)
        return leaf

    def term(self, folded: str, lit: int, title: bool, display: str) -> Leaf:
        k = self.key_id(folded)
        return Leaf(lit=lit, keys={k: display}, order=(k,), latin={k: is_latin(folded)},
                     title=title, display=display)

    def entity(self, entity: Entity, lit: int, title: bool, display: str | None) -> Leaf:
        aliases: dict[int, str] = {}
        gaps: list[tuple[int, int, str]] = []
        for alias in entity.aliases:
            pair = gap_parts(alias)
            if pair:
                gaps.append((self.key_id(pair[0]), self.key_id(pair[1]), alias))
            else:
                aliases.setdefault(self.key_id(key(alias)), alias)
        # an alias inside a longer one of its own counts as that one (`strikes` in `Israeli
        # air strikes` is the air strikes, whoever does them), as inside an `exclude` word
        excluded = list(dict.fromkeys((*(key(e) for e in entity.exclude),
                                       *(self.texts[k] for k in aliases))))
        masks = {k: m for k in aliases if (m := tuple(
            self.key_id(e) for e in excluded if self.texts[k] in e and self.texts[k] != e))}
        latin = {k: is_latin(self.texts[k]) for k in (*aliases, *(k for a, b, _ in gaps
                                                                   for k in (a, b)))}
        order = tuple(sorted(aliases, key=self.texts.__getitem__))
        return Leaf(lit=lit, keys=aliases, order=order, latin=latin, title=title,
                     display=display, gaps=tuple(gaps), masks=masks, entity=True)

    def automaton_for(self, needed: frozenset[int]) -> Automata:
        """Automata holding every needed key: the last ones if they still fit, else new."""
        if self.automaton is not None and needed <= self.automaton_keys \
                and len(self.automaton_keys) <= 2 * len(needed) + 256:
            return self.automaton
        self.automaton = Automata([(k, self.texts[k], self.edges[k]) for k in sorted(needed)])
        self.automaton_keys = needed
        return self.automaton

    def core(self, rules: list[Rule], programs: list[Program], keys: frozenset[int], *,
             cues: tuple[dict[int, int], int, int] = ({}, 0, 0)) -> Any:
        """The C core for one rule set (its automaton reused like `automaton_for`'s); `cues`:
        the negation cue kind of some keys, and how far cues reach (characters, words)."""
        tables = self.tables
        assert tables is not None
        if self.native_automaton is None or not keys <= self.native_keys \
                or len(self.native_keys) > 2 * len(keys) + 256:
            self.native_automaton = native.automaton([
                (k, self.texts[k], self.edges[k][0] | self.edges[k][1] << 1)
                for k in sorted(keys)])
            self.native_keys = keys
        lowered = [p.lowered for p in programs if p.lowered is not None]
        assert len(lowered) == len(programs)
        return native.core(
            tables, self.native_automaton, latin=self.latin,
            roots=[root if generation == tables.generation else p.root.lower(tables)
                   for p, (generation, root, _) in zip(programs, lowered, strict=True)],
            triggers=[t for _, _, t in lowered],
            sources=[(i, [s.casefold() for s in r.sources]) for i, r in enumerate(rules)
                     if r.sources],
            ids=tuple(r.id for r in rules), statics=tuple(p.names for p in programs),
            cues=cues)


def _near_to(right: CompiledNode, distance: int, flags: int
             ) -> Callable[[CompiledNode], CompiledNode]:
    """A NEAR of its argument and `right`."""
    return lambda left: NearNode(left, right, distance, flags)


def _with(nodes: list[CompiledNode]) -> Callable[[CompiledNode], CompiledNode]:
    """An AND of its argument and `nodes`."""
    return lambda first: AndNode([first, *nodes])


def _one_and(nodes: list[CompiledNode]) -> CompiledNode:
    """The node, or an AND of several."""
    return nodes[0] if len(nodes) == 1 else AndNode(nodes)


_COMPILERS: weakref.WeakKeyDictionary[Entities, Compiler] = weakref.WeakKeyDictionary()


def compiler_for(entities: Entities) -> Compiler:
    """The compiler of one entity catalog (kept while the catalog lives), so rule sets rebuilt
    from the same catalog share compiled programs and automata."""
    found = _COMPILERS.get(entities)
    if found is None:
        found = _COMPILERS[entities] = Compiler(entities)
    return found
