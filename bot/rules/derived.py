"""Entities the compiler derives from a rule's terms and the catalog (`bot.rules.compiler`): a
bare term's own entity (its expansion), what marks another sense of a term, everyone the
catalog names who acts but some, and the reactions that make someone react to an act.
"""

from __future__ import annotations

from functools import lru_cache

from bot.rules.entities import ACTION, Entities, Entity, gap_parts, key
from bot.rules.expand import expand, shipped_senses

NAME = "name"  # the kind of a bare term the dictionary gives as a proper name (以色列)
TERM = "term"  # the kind of a bare term's own entity (its expansion; ACTION for a verb)
WHO_KINDS = frozenset({"country", "person", "organization", "group", NAME})  # who acts


@lru_cache(maxsize=4096)
def others_of(term: str) -> Entity | None:
    """What marks another sense of a bare term's expansion, as an entity (None: nothing); a
    marker inside one of the term's own forms does not count ("fire drill" in "live-fire
    drill")."""
    found = expand(term)
    if found is None or not found.others:
        return None
    own = tuple(a for a in found.aliases if not gap_parts(a))
    return Entity(name=f"~{key(term)}!", aliases=found.others, kind=TERM, label=term,
                  exclude=own)


@lru_cache(maxsize=4096)
def catalog_others(entity: Entity) -> Entity:
    """What marks another sense of a catalog entity's aliases (its `other_senses`: troops at
    a parade or a border at home are not troops sent), as an entity; it counts within
    BIND_DISTANCE of one of the aliases (a photo caption of a parade elsewhere in the report
    does not), and an alias of its own holding a marker still counts."""
    return Entity(name=f"{entity.name}!", aliases=entity.other_senses, kind=TERM,
                  label=entity.label, exclude=tuple(a for a in entity.plain if not gap_parts(a)))


def actors(entities: Entities, but: frozenset[str]) -> Entity:
    """Everyone the catalog names who acts (countries, people, organizations) but the entities
    named `but`, as one entity (one literal for every rule that leaves out the same)."""
    who = [e for e in entities if e.kind in WHO_KINDS and e.name not in but]
    return Entity(name="~actors" + "".join(f"-{n}" for n in sorted(but)), kind=TERM,
                  label="actors",
                  aliases=tuple(dict.fromkeys(a for e in who for a in e.plain
                                              if not gap_parts(a))),
                  exclude=tuple(dict.fromkeys(x for e in who for x in e.exclude)))


@lru_cache(maxsize=1)
def reactions() -> Entity | None:
    """The `reactions` of `rules/senses.yaml` as one entity: said right before an act
    (`condemned the`, 谴责), they make the one who says them someone reacting to it."""
    words = shipped_senses().reactions
    return Entity(name="~reactions", aliases=words, kind=TERM, label="reactions") \
        if words else None


@lru_cache(maxsize=4096)
def expanded(term: str) -> Entity | None:
    """A bare term's own entity: the term and its expansion (None when there is none)."""
    found = expand(term)
    if found is None:
        return None
    kind = NAME if found.name else ACTION if found.acts else TERM
    return Entity(name=f"~{key(term)}", aliases=found.aliases, kind=kind, label=term,
                  role=found.role, exclude=found.exclude)
