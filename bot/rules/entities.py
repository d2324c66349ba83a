"""Entity alias lists (`rules/entities.yaml`): one name for 朝鲜, 北韓, DPRK and North Korea.

    entities:
      dprk:                          # the canonical name, used as @dprk (a-z, 0-9, -)
        label: North Korea           # how listings show it
        kind: country                # free text: country, person, organization, action, ...
        aliases: [朝鲜, 北韩, DPRK, North Korea, 平壤]
        exclude: [南朝鲜]             # longer words that contain an alias but mean something else
        involves: [china]            # an operation's names also name its sides (optional)
        acts_for: [rok]              # a person: the countries (or bodies) they act for
        other_senses: [阅兵]          # a report saying one uses the aliases in another sense
        role: target                 # an action whose rule means the one it is done to

An alias matches like a quoted phrase (folded; Latin aliases on word boundaries). An alias with
`...` in it, like `召见...大使`, matches its two parts in that order at most GAP_CHARS
characters (or GAP_WORDS words, for Latin parts) apart. An occurrence of an alias inside an
occurrence of one of the entity's `exclude` words does not count (`朝鲜` inside `南朝鲜`).
The same alias (after folding) in two entities is an error: a bare term must name one entity.

An alias with `{who}` in it, like `{who}士兵` or `{who}...troops`, says how reports state the
entity of someone in particular (North Korea's soldiers, not any soldiers). It counts only in a
rule that names who, side by side: in `朝鲜 + 派兵` the `{who}` aliases of @send-troops become
`朝鲜士兵`, `North Korean...troops`, ... for every alias of @dprk; in `派兵` alone, or beside
no other entity, they do not count at all ("troops" alone never stands for sending troops).

A person who `acts_for` a country (its head of state or government) does its actions in rules:
beside an action (`韩国 + 戒严`), or beside no action at all (`美国 + 关税`), they count as the
country (`people`: 尹锡悦宣布戒严, "Trump unveils levies"), except in a report that calls them
former (`former`: 前总统尹锡悦, "former President Trump"). Their names are not the country's
aliases elsewhere (a bare `韩国` is not 尹锡悦, and story grouping reads each entity's own
aliases).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from bot.errors import ConfigError
from bot.text import fold_key

ENTITIES_FILE = "entities.yaml"
GAP = "..."
GAP_CHARS = 12
GAP_WORDS = 5
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_KEYS = {"label", "kind", "aliases", "exclude", "involves", "other_senses", "role", "acts_for"}
ROLES = ("agent", "target", "party", "place")  # whom a rule naming someone beside an action
# means: its doer, the one it is done to (sanctions), a side of it (a ceasefire), or where it
# happens (a quake: `bot.rules.places`)
WHO = "{who}"
ACTION = "action"  # the kind of entity that is something done, not someone who does it
# a leader named as former: right before the name in Chinese, within GAP_WORDS in English
FORMER_ZH = ("前总统", "前總統", "前首相", "前总理", "前總理", "前国家主席", "前國家主席",
             "前领导人", "前領導人", "前任总统", "前任總統", "前任首相", "前任总理", "前任總理")
FORMER_EN = ("former", "ex-president", "ex-prime minister", "ex-leader")
key = fold_key  # the folded form aliases and terms are compared in (one space per run)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """One thing with many names: a country, a person, an organization or an action."""

    name: str
    aliases: tuple[str, ...]
    label: str = ""
    kind: str = ""
    exclude: tuple[str, ...] = ()
    involves: tuple[str, ...] = ()  # entities this one names too (an operation: its sides)
    other_senses: tuple[str, ...] = ()  # words that mark a report using it in another sense
    role: str = "agent"  # an action: whom a rule naming someone beside it means (ROLES)
    acts_for: tuple[str, ...] = ()  # a person: the entities they act for (a country's leader)

    @property
    def plain(self) -> tuple[str, ...]:
        """The aliases that stand on their own (not `{who}` ones)."""
        return tuple(a for a in self.aliases if WHO not in a)

    def about(self, whom: Iterable[Entity]) -> Entity:
        """This entity for a rule that names `whom`: its `{who}` aliases made with every
        alias of each of them (none when `whom` is empty), under a name of its own."""
        whom = sorted(whom, key=lambda e: e.name)
        made = [alias.replace(WHO, who) for alias in self.aliases if WHO in alias
                for entity in whom for who in entity.plain if GAP not in who]
        name = self.name + "".join(f"@{e.name}" for e in whom)
        return Entity(name=name, aliases=(*self.plain, *dict.fromkeys(made)), label=self.label,
                      kind=self.kind, exclude=self.exclude, involves=self.involves,
                      other_senses=self.other_senses, role=self.role, acts_for=self.acts_for)


def former(person: Entity) -> Entity:
    """What marks a report that calls someone a former leader (前总统尹锡悦, `former President
    Trump`, `ex-president ... Yoon`), as an entity: in such a report they act for no one."""
    chinese = [a for a in person.plain if GAP not in a and not key(a).isascii()]
    latin = [a for a in person.plain if GAP not in a and key(a).isascii()]
    return Entity(name=f"{person.name}!former", kind="term", label=f"former {person.label}",
                  aliases=(*(t + a for t in FORMER_ZH for a in chinese),
                           *(f"{t}{GAP}{a}" for t in FORMER_EN for a in latin)))


def gap_parts(alias: str) -> tuple[str, str] | None:
    """The two parts of a gap alias like `召见...大使`, folded; None for a plain alias."""
    folded = key(alias)
    if GAP not in folded:
        return None
    left, _, right = folded.partition(GAP)
    left, right = left.strip(), right.strip()
    return (left, right) if left and right and GAP not in right else None


class Entities:
    """The entities in force, looked up by canonical name or by any alias (folded)."""

    def __init__(self, entities: Iterable[Entity] = ()) -> None:
        self.by_name: dict[str, Entity] = {}
        self._lookup: dict[str, str] = {}
        self._people: dict[str, tuple[tuple[Entity, Entity], ...]] = {}
        for entity in entities:
            self.by_name[entity.name] = entity
            for alias in (*entity.plain, entity.name):
                self._lookup.setdefault(key(alias), entity.name)
        for entity in list(self.by_name.values()):  # an operation's names name its sides too
            for name in entity.involves:
                side = self.by_name.get(name)
                if side is not None and side is not entity:
                    self.by_name[name] = replace(side, aliases=tuple(dict.fromkeys(
                        (*side.aliases, *entity.plain))), exclude=tuple(dict.fromkeys(
                            (*side.exclude, *entity.exclude))))

    def people(self, entity: Entity) -> tuple[tuple[Entity, Entity], ...]:
        """The people who act for an entity (`acts_for`: a country's leaders), each with what
        marks a report that calls them former (`former`)."""
        found = self._people.get(entity.name)
        if found is None:
            found = self._people[entity.name] = tuple(
                (e, former(e)) for e in self.by_name.values() if entity.name in e.acts_for)
        return found

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def resolve(self, name: str) -> Entity | None:
        """The entity `@name` refers to: by canonical name or by alias."""
        found = self.by_name.get(name.lower()) or self.expand(name)
        return found

    def expand(self, term: str) -> Entity | None:
        """The entity a bare term stands for, if it is an entity's name or alias."""
        name = self._lookup.get(key(term))
        return self.by_name[name] if name else None

    def suggest(self, name: str, *, limit: int = 3) -> list[str]:
        """The canonical names closest to a mistyped `@name`, best first (aliases count less)."""
        wanted = key(name)
        scores = {n: max(fuzz.ratio(wanted, n), 0.9 * fuzz.partial_ratio(wanted, n)
                         if 3 <= len(wanted) <= len(n) else 0) for n in self.by_name}
        for alias, owner in self._lookup.items():
            scores[owner] = max(scores[owner], fuzz.ratio(wanted, alias) - 10)
        ranked = sorted(((s, n) for n, s in scores.items() if s >= 55), key=lambda sn: -sn[0])
        return [n for s, n in ranked if s >= ranked[0][0] - 15][:limit]


def shipped_path() -> Path:
    """`rules/entities.yaml` in the working directory, else the one beside the package."""
    from bot.config import REPO_ROOT

    local = Path("rules") / "entities.yaml"
    return local if local.is_file() else REPO_ROOT / "rules" / "entities.yaml"


@cache
def shipped_entities() -> Entities:
    """The shipped catalog (`shipped_path()`), read once: what rules are parsed against when
    the caller names no catalog of its own (the App passes the one of its rules folder)."""
    path = shipped_path()
    return load_entities(path) if path.is_file() else Entities()


def load_entities(path: Path) -> Entities:
    """The entities of one file; raises ConfigError listing every problem with file:line:col."""
    entities, problems = check_entities(path)
    if problems:
        raise ConfigError("\n".join(problems))
    return entities


def check_entities(path: Path) -> tuple[Entities, list[str]]:
    """The entities of one file and the problems found in it (duplicate aliases, bad keys)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        return Entities(), [f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}"]
    except OSError as exc:
        return Entities(), [f"{path}: cannot read: {exc}"]
    if root is None:
        return Entities(), [f"{path}:1:1: expected a mapping under 'entities'"]
    problems: list[str] = []
    items = _mapping(root, path, problems).get("entities")
    if not isinstance(items, yaml.MappingNode):
        return Entities(), [*problems, f"{_where(path, items or root)}: expected a mapping "
                            "under 'entities'"]
    entities = [e for k, v in items.value if (e := _entity(k, v, path, problems))]
    problems += _unknown_sides(items, {e.name for e in entities}, path)
    problems += _duplicates(items, path)
    return Entities(entities), problems


def _entity(name_node: yaml.Node, node: yaml.Node, path: Path, problems: list[str]
            ) -> Entity | None:
    name = str(name_node.value)
    if not _NAME_RE.match(name):
        problems.append(f"{_where(path, name_node)}: entity name {name!r} must be lower-case "
                        "letters, digits and -")
        return None
    fields = _mapping(node, path, problems)
    for unknown in sorted(set(fields) - _KEYS):
        problems.append(f"{_where(path, fields[unknown])}: entity {name!r}: unknown key "
                        f"{unknown!r}")
    aliases = _strings(fields.get("aliases"), path, problems, name)
    if not aliases:
        problems.append(f"{_where(path, fields.get('aliases', name_node))}: entity {name!r} needs "
                        "a list of aliases")
        return None
    role = str(_scalar(fields.get("role")) or ROLES[0])
    if role not in ROLES:
        problems.append(f"{_where(path, fields['role'])}: entity {name!r}: role must be one of "
                        f"{', '.join(ROLES)}")
    return Entity(name=name, aliases=aliases, label=str(_scalar(fields.get("label")) or name),
                  role=role if role in ROLES else ROLES[0],
                  kind=str(_scalar(fields.get("kind")) or ""),
                  exclude=_strings(fields.get("exclude"), path, problems, name),
                  involves=_strings(fields.get("involves"), path, problems, name),
                  other_senses=_strings(fields.get("other_senses"), path, problems, name),
                  acts_for=_strings(fields.get("acts_for"), path, problems, name))


def _strings(node: yaml.Node | None, path: Path, problems: list[str], name: str
             ) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.append(f"{_where(path, node)}: entity {name!r}: expected a list")
        return ()
    out: list[str] = []
    for item in node.value:
        text = str(item.value).strip() if isinstance(item, yaml.ScalarNode) else ""
        folded = key(text)
        plain = folded.replace(WHO, "x")
        if not folded or folded.count(WHO) > 1 or (GAP in plain and gap_parts(plain) is None):
            problems.append(f"{_where(path, item)}: entity {name!r}: empty or malformed alias "
                            f"{text!r}")
        else:
            out.append(text)
    return tuple(out)


def _unknown_sides(items: yaml.MappingNode, names: set[str], path: Path) -> list[str]:
    """An `involves` or `acts_for` entry that names no other entity of the file."""
    problems: list[str] = []
    for name_node, node in items.value:
        sides = node.value if isinstance(node, yaml.MappingNode) else []
        for k, v in sides:
            if k.value in ("involves", "acts_for") and isinstance(v, yaml.SequenceNode):
                verb = "acts for" if k.value == "acts_for" else k.value
                problems += [f"{_where(path, side)}: entity {name_node.value!r} {verb} "
                             f"{side.value!r}, which is no other entity" for side in v.value
                             if isinstance(side, yaml.ScalarNode)
                             and (side.value not in names or side.value == name_node.value)]
    return problems


def _duplicates(items: yaml.MappingNode, path: Path) -> list[str]:
    """An alias (folded) that two entities share, reported at its second occurrence."""
    seen: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    for name_node, node in items.value:
        name = str(name_node.value)
        alias_nodes = [name_node]
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == "aliases" and isinstance(v, yaml.SequenceNode):
                    alias_nodes += [a for a in v.value if isinstance(a, yaml.ScalarNode)]
        for alias in alias_nodes:
            folded = key(str(alias.value))
            owner = seen.setdefault(folded, (name, alias.start_mark.line + 1))
            if owner[0] != name:
                problems.append(f"{_where(path, alias)}: alias {alias.value!r} of entity "
                                f"{name!r} is already an alias of {owner[0]!r} (line "
                                f"{owner[1]})")
    return problems


def _scalar(node: yaml.Node | None) -> object:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _mapping(node: yaml.Node, path: Path, problems: list[str]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{_where(path, node)}: expected a mapping")
        return {}
    return {str(k.value): v for k, v in node.value}


def _where(path: Path, node: yaml.Node) -> str:
    mark = node.start_mark
    return f"{path}:{mark.line + 1}:{mark.column + 1}"
