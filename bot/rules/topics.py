"""Shared topics from `rules/*.yaml`; an invalid file is rejected loudly with file:line:col.

`rules/entities.yaml` (bot.rules.entities) is checked first (duplicate aliases across entities,
bad keys); topics are parsed against it, and `load_rule_files` returns it with the topics: the
entity catalog the caller passes to everything that parses rules (the shipped catalog when the
folder has no entities.yaml).
`rules/history.yaml` (bot.rules.history: the historical events), `rules/senses.yaml`
(bot.rules.expand: more forms and other senses of bare terms) and `rules/negation.yaml`
(bot.rules.negation: the cues that deny a mention) are checked too.

    topics:
      - name: dprk-troops            # letters, digits, - and _
        description: North Korean troops sent abroad
        expression: 朝鲜 + 派兵
        min_outlets: 1               # optional: alert once this many outlets carry the story
        sources: [VOA, DW]           # optional: only these outlets
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from bot.errors import ConfigError, RuleError
from bot.models import Rule, Topic
from bot.rules.entities import ENTITIES_FILE, Entities, check_entities, shipped_entities
from bot.rules.expand import SENSES_FILE, load_senses
from bot.rules.grammar import parse
from bot.rules.history import HISTORY_FILE, load_history
from bot.rules.negation import NEGATION_FILE, load_negation

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_KEYS = {"name", "description", "expression", "min_outlets", "sources"}


class RuleFiles(NamedTuple):
    """A rules folder read: its entity catalog and its topics (parsed against that catalog)."""

    entities: Entities
    topics: list[Topic]


def load_topics(rules_dir: Path) -> list[Topic]:
    """Every topic in `rules_dir/*.yaml`; raises ConfigError listing each problem found."""
    return load_rule_files(rules_dir).topics


def load_rule_files(rules_dir: Path) -> RuleFiles:
    """The entity catalog and every topic of `rules_dir`; raises ConfigError listing each
    problem found (in the catalog, the topics, the history, senses and negation files)."""
    topics: list[Topic] = []
    entities, problems = _entities(rules_dir)
    files = sorted(rules_dir.glob("*.yaml")) if rules_dir.is_dir() else []
    for file in files:
        loader = {HISTORY_FILE: load_history, SENSES_FILE: load_senses,
                  NEGATION_FILE: load_negation}.get(file.name)
        if loader is not None:
            try:
                loader(file)
            except ConfigError as exc:
                problems.append(str(exc))
            continue
        if file.name == ENTITIES_FILE:
            continue
        try:
            topics.extend(_load_file(file, entities))
        except ConfigError as exc:
            problems.append(str(exc))
    names = [t.name for t in topics]
    problems += [f"{rules_dir}: topic {n!r} is defined twice" for n in sorted(set(names))
                 if names.count(n) > 1]
    if problems:
        raise ConfigError("\n".join(problems))
    return RuleFiles(entities, topics)


def _entities(rules_dir: Path) -> tuple[Entities, list[str]]:
    """`rules_dir/entities.yaml` with its problems, or the shipped entities if it has none."""
    path = rules_dir / ENTITIES_FILE
    return check_entities(path) if path.is_file() else (shipped_entities(), [])


def topic_rule(topic: Topic) -> Rule:
    """The rule a topic compiles to."""
    return Rule(id=f"topic:{topic.name}", expression=topic.expression, topic=topic.name,
                min_outlets=topic.min_outlets, sources=topic.sources)


def _load_file(file: Path, entities: Entities) -> list[Topic]:
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from exc
    if root is None:
        return []
    items = _mapping(root, file).get("topics")
    if not isinstance(items, yaml.SequenceNode):
        raise ConfigError(f"{_where(file, items or root)}: expected a list under 'topics'")
    return [_topic(node, file, entities) for node in items.value]


def _topic(node: yaml.Node, file: Path, entities: Entities) -> Topic:
    fields = _mapping(node, file)
    unknown = set(fields) - _KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"{_where(file, fields[key])}: unknown key {key!r}")
    values: dict[str, Any] = {k: yaml.safe_load(yaml.serialize(v)) for k, v in fields.items()}
    name, expression = values.get("name"), values.get("expression")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"{_where(file, fields.get('name', node))}: topic needs a name of "
                          "letters, digits, - and _")
    if not isinstance(expression, str):
        raise ConfigError(f"{_where(file, fields.get('expression', node))}: topic {name!r} "
                          "needs an expression")
    try:
        parse(expression, entities=entities)
    except RuleError as exc:
        raise ConfigError(f"{_where(file, fields['expression'], exc.position)}: topic {name!r}:"
                          f" {exc.message}") from exc
    min_outlets, sources = values.get("min_outlets", 1), values.get("sources") or []
    if not isinstance(min_outlets, int) or min_outlets < 1:
        raise ConfigError(f"{_where(file, fields['min_outlets'])}: min_outlets must be >= 1")
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ConfigError(f"{_where(file, fields['sources'])}: sources must be a list of names")
    return Topic(name=name, expression=expression, description=str(values.get("description")
                 or ""), min_outlets=min_outlets, sources=tuple(sources))


def _mapping(node: yaml.Node, file: Path) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{_where(file, node)}: expected a mapping")
    return {str(k.value): v for k, v in node.value}


def _where(file: Path, node: yaml.Node, offset: int = 0) -> str:
    """`file:line:col` of a node, `offset` characters into a plain one-line scalar."""
    mark = node.start_mark
    column = mark.column + 1
    if offset and isinstance(node, yaml.ScalarNode) and node.style in (None, ""):
        column += offset
    return f"{file}:{mark.line + 1}:{column}"
