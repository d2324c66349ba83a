"""Rule expressions: text -> AST, with errors that name the 0-based position of the problem.

    rule     := or
    or       := and (("|" | "OR") and)*
    and      := near (["+" | "AND"] near)*          # two terms side by side: AND
    near     := unary ("NEAR/" n unary)*            # left-associative
    unary    := ("-" | "NOT") unary | primary
    primary  := "(" or ")" | '"' phrase '"' | "@" entity | "title:" primary
              | "source:" (word | '"' name '"') | word

Precedence: NOT > NEAR > AND > OR, so `a | b c` is `a | (b + c)` and `-a NEAR/3 b` is an error
(NEAR joins things that occur somewhere: terms, phrases, @entities, `title:` of those, and
parenthesized OR-groups or NEARs of them).

- `朝鲜 + 派兵`, `朝鲜 派兵`, `朝鲜 AND 派兵`: both occur (in the title or the text).
- `制裁 | sanctions`, `制裁 OR sanctions`: either occurs. `-演习`, `NOT 演习`: does not occur.
- `"exact phrase"`: the words as written, never expanded to an entity's aliases.
- `@dprk`: any alias of the entity `dprk` in `rules/entities.yaml` (`@朝鲜` names it by an alias).
  A bare term equal to an entity's name or one of its aliases also stands for the whole entity:
  `朝鲜`, `北韓` and `DPRK` all mean `@dprk`; quote a term (`"朝鲜"`) to match only it.
- `title:A` / `title:(A | B)`: only in the title. `source:VOA` / `source:"Radio Free Asia"`:
  the article's outlet is that one (case-insensitive).
- `A NEAR/n B`: an occurrence of A and one of B at most n words apart when both are Latin-script
  matches, otherwise at most n characters apart (CJK text has no spaces between words).
- Operators are upper-case (`or` is a term); full-width `＋ ｜ （ ） ＂ －` and curly quotes work.

Matching folds both sides the same way (NFKC, Traditional -> Simplified, case), so `北韓` is
`北韩`. Latin terms match whole words (`NK` is not in "bank"); CJK terms match as substrings.

Limits: at most MAX_LENGTH characters, MAX_TERMS terms, MAX_DEPTH nested groups or `title:`,
and NEAR distances up to MAX_NEAR. A rule must have something that has to occur: `-a` and
`a | -b` are rejected, because they would match almost every article.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.errors import RuleError
from bot.text import fold

if TYPE_CHECKING:
    from bot.rules.entities import Entities

MAX_LENGTH = 500
MAX_TERMS = 50
MAX_DEPTH = 8
MAX_NEAR = 100
MAX_OUTLETS = 50
HISTORY_CHOICES = ("any", "only")

_OPERATOR_FORMS = str.maketrans({"＋": "+", "｜": "|", "（": "(", "）": ")", "＂": '"', "“": '"',
                                 "”": '"', "－": "-", "＠": "@", "＞": ">", "＝": "=", "：": ":"})
_SPECIAL = frozenset('()|+"')
_NEAR_RE = re.compile(r"NEAR/(\d{1,6})")
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_BARE_SOURCE_RE = re.compile(r"[^\W_][\w.&'-]*")
_FIELDS = ("title", "source")
_KEYWORDS = frozenset({"OR", "AND", "NOT"})


@dataclass(frozen=True, slots=True)
class Term:
    """A bare word as written; an entity's name or alias stands for the whole entity."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A quoted phrase, matched as written (folded), never expanded."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class EntityRef:
    """`@name`: every alias of an entity (`name` is the entity's canonical id)."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Source:
    """`source:NAME`: the article's outlet is NAME."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Title:
    """`title:X`: X occurs in the title."""

    child: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """`-X`: X does not occur."""

    child: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """All children hold (nested ANDs are flattened)."""

    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child holds (nested ORs are flattened)."""

    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Near:
    """`left NEAR/distance right`."""

    left: Node
    right: Node
    distance: int
    pos: int = field(default=0, compare=False)


Node = Term | Phrase | EntityRef | Source | Title | Not | And | Or | Near
LEAVES = (Term, Phrase, EntityRef, Source)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word phrase entity field lparen rparen or and plus not near end
    value: str
    pos: int


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """What a rule says besides what must occur: `outlets>=N` (alert once the story has N
    outlets) and `history:any` / `history:only` (also / only reports about the past)."""

    min_outlets: int = 1
    history: str = "exclude"  # "exclude" (the default), "any" or "only"


def parse(expression: str, *, entities: Entities | None = None) -> Node:
    """The AST of a rule (its options left out); raises RuleError naming the position of any
    problem."""
    return parse_rule(expression, entities=entities)[0]


def parse_rule(expression: str, *, entities: Entities | None = None
               ) -> tuple[Node, RuleOptions]:
    """The AST of a rule and its options; raises RuleError naming the position of any
    problem."""
    if entities is None:
        from bot.rules.entities import active_entities
        entities = active_entities()
    if len(expression) > MAX_LENGTH:
        raise RuleError(f"rule is longer than {MAX_LENGTH} characters", expression=expression,
                        position=MAX_LENGTH)
    tokens, options = _options(expression, _Lexer(expression).tokens())
    return _Parser(expression, tokens, entities).rule(), options


@lru_cache(maxsize=65_536)
def rule_options(expression: str) -> RuleOptions:
    """The options of a rule (RuleError if they are malformed or misplaced); remembered, as
    a rule set is rebuilt from the same expressions whenever a rule changes."""
    return _options(expression, _Lexer(expression).tokens())[1]


def _options(expression: str, tokens: list[_Token]) -> tuple[list[_Token], RuleOptions]:
    """The tokens without the option tokens (and the `+`/AND joining each to the rule), and
    the options they set; each option must stand at the top level, once."""
    kept: list[_Token] = []
    found: dict[str, tuple[str, int]] = {}
    depth, leading = 0, False  # leading: an option opened the rule, drop the + after it
    for token in tokens:
        depth += {"lparen": 1, "rparen": -1}.get(token.kind, 0)
        if token.kind != "option":
            if not (leading and token.kind in ("plus", "and")):
                kept.append(token)
            leading = leading and token.kind in ("plus", "and")
            continue
        name, _, value = token.value.partition("=")
        if depth or (kept and kept[-1].kind in ("or", "not", "field", "near")):
            raise RuleError(f"{name} applies to the whole rule: put it at the top level, "
                            "joined by + or a space", expression=expression, position=token.pos)
        if name in found:
            raise RuleError(f"{name} is given twice", expression=expression,
                            position=token.pos)
        found[name] = (value, token.pos)
        if kept and kept[-1].kind in ("plus", "and"):
            kept.pop()
        leading = not kept
    history = found.get("history", ("exclude", 0))[0]
    return kept, RuleOptions(min_outlets=int(found.get("outlets", ("1", 0))[0]),
                             history=history)


def leaves(node: Node) -> list[Node]:
    """Every term, phrase, entity and source of a rule, left to right."""
    if isinstance(node, LEAVES):
        return [node]
    if isinstance(node, (Title, Not)):
        return leaves(node.child)
    if isinstance(node, Near):
        return leaves(node.left) + leaves(node.right)
    assert isinstance(node, (And, Or))
    return [leaf for child in node.children for leaf in leaves(child)]


def terms(expression: str) -> tuple[str, ...]:
    """The display form of each term of a rule, for listings."""
    return tuple(_format(leaf, 0) for leaf in leaves(parse(expression)))


class _Lexer:
    """Splits an expression into tokens; positions are offsets into the expression."""

    def __init__(self, expression: str) -> None:
        self.source = expression
        self.text = expression.translate(_OPERATOR_FORMS)

    def error(self, message: str, pos: int) -> RuleError:
        return RuleError(message, expression=self.source, position=pos)

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        text, pos = self.text, 0
        while pos < len(text):
            ch = text[pos]
            if ch.isspace():
                pos += 1
            elif ch in "()|+":
                kind = {"(": "lparen", ")": "rparen", "|": "or", "+": "plus"}[ch]
                out.append(_Token(kind, ch, pos))
                pos += 1
            elif ch == '"':
                pos = self._phrase(pos, out)
            elif ch == "-":
                out.append(_Token("not", ch, pos))
                pos += 1
            elif ch == "@":
                end = self._word_end(pos + 1)
                if end == pos + 1:
                    raise self.error("'@' needs an entity name, e.g. @dprk", pos)
                self._check_chars(pos + 1, end)
                out.append(_Token("entity", text[pos + 1:end], pos))
                pos = end
            else:
                pos = self._word(pos, out)
        out.append(_Token("end", "", len(text)))
        return out

    def _word_end(self, pos: int) -> int:
        text = self.text
        while pos < len(text) and not text[pos].isspace() and text[pos] not in _SPECIAL:
            pos += 1
        return pos

    def _phrase(self, pos: int, out: list[_Token]) -> int:
        end = self.text.find('"', pos + 1)
        if end < 0:
            raise self.error("unterminated phrase: missing closing quote", pos)
        words = self.text[pos + 1:end].split()
        if not words:
            raise self.error("empty phrase", pos)
        self._check_chars(pos + 1, end)
        out.append(_Token("phrase", " ".join(words), pos))
        return end + 1

    def _check_chars(self, start: int, end: int) -> None:
        for i in range(start, end):
            if unicodedata.category(self.text[i]) in ("Cc", "Cs") \
                    and not self.text[i].isspace():
                raise self.error(f"invalid character U+{ord(self.text[i]):04X}", i)

    def _word(self, pos: int, out: list[_Token]) -> int:
        end = self._word_end(pos)
        word = self.text[pos:end]
        self._check_chars(pos, end)
        if (option := self._option(word, pos)) is not None:
            out.append(option)
            return end
        prefix = _FIELD_RE.match(word)
        attached = end < len(self.text) and self.text[end] in '("'
        if prefix and word == prefix.group(0) and prefix.group(1).lower() in _FIELDS \
                and not attached:
            raise self.error(f"{prefix.group(0)} needs its value right after it, without a "
                             "space", pos)
        if prefix and (len(word) > prefix.end() or attached):
            name = prefix.group(1).lower()
            if name not in _FIELDS:
                raise self.error(f"unknown field '{prefix.group(0)}'; use title: or source: "
                                 "(quote the text to search for it)", pos)
            out.append(_Token("field", name, pos))
            return pos + prefix.end()
        if word in _KEYWORDS:
            out.append(_Token(word.lower(), word, pos))
        elif word == "NEAR" or word.startswith("NEAR/"):
            near = _NEAR_RE.fullmatch(word)
            if not near or int(near.group(1)) > MAX_NEAR:
                raise self.error(f"NEAR needs a distance from 0 to {MAX_NEAR}, e.g. NEAR/10",
                                 pos)
            out.append(_Token("near", near.group(1), pos))
        else:
            out.append(_Token("word", word, pos))
        return end


    def _option(self, word: str, pos: int) -> _Token | None:
        """`outlets>=N` or `history:any|only` as an option token; None for any other word."""
        outlets = _OUTLETS_RE.fullmatch(word)
        if outlets is not None:
            count = int(outlets.group(1))
            if not 1 <= count <= MAX_OUTLETS:
                raise self.error(f"outlets>= needs a number from 1 to {MAX_OUTLETS}", pos)
            return _Token("option", f"outlets={count}", pos)
        if word.lower().startswith("outlets"):
            raise self.error("write outlets>=N, e.g. outlets>=2", pos)
        if word.lower().startswith("history:"):
            value = word.partition(":")[2].lower()
            if value not in HISTORY_CHOICES:
                raise self.error("write history:any (current and past events) or "
                                 "history:only (past events only)", pos)
            return _Token("option", f"history={value}", pos)
        return None


_OUTLETS_RE = re.compile(r"(?i)outlets\s*(?:>=|≥)\s*(\d{1,3})")
_STARTS_TERM = frozenset({"word", "phrase", "entity", "field", "lparen", "not"})


class _Parser:
    """Recursive descent over the tokens; depth is bounded by MAX_DEPTH."""

    def __init__(self, expression: str, tokens: list[_Token], entities: Entities) -> None:
        self.expression = expression
        self.tokens = tokens
        self.entities = entities
        self.i = 0
        self.depth = 0
        self.count = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, message: str, pos: int) -> RuleError:
        return RuleError(message, expression=self.expression, position=pos)

    def rule(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("empty rule: expected a term", self.tok.pos)
        node = self.or_()
        if self.tok.kind == "rparen":
            raise self.error("unmatched ')'", self.tok.pos)
        if self.tok.kind != "end":  # pragma: no cover - every other token starts a term
            raise self.error(f"unexpected {self.tok.value!r}", self.tok.pos)
        if _vacuous(node):
            first = _culprit(node)
            raise self.error("a rule needs something that must occur: with only negations "
                             "it would match almost every article", first)
        return node

    def expect_term(self, after: _Token) -> None:
        if self.tok.kind not in _STARTS_TERM:
            what = "end of rule" if self.tok.kind == "end" else repr(self.tok.value)
            raise self.error(f"expected a term after {after.value!r}, found {what}",
                             self.tok.pos)

    def or_(self) -> Node:
        first = self.and_()
        children = [first]
        while self.tok.kind == "or":
            op = self.tok
            self.i += 1
            self.expect_term(op)
            children.append(self.and_())
        return _flat(Or, children, first.pos)

    def and_(self) -> Node:
        first = self.near()
        children = [first]
        while True:
            if self.tok.kind in ("plus", "and"):
                op = self.tok
                self.i += 1
                self.expect_term(op)
            elif self.tok.kind not in _STARTS_TERM:
                break
            children.append(self.near())
        return _flat(And, children, first.pos)

    def near(self) -> Node:
        left = self.unary()
        while self.tok.kind == "near":
            op = self.tok
            self.i += 1
            self.expect_term(op)
            right = self.unary()
            for side in (left, right):
                if not _positional(side):
                    raise self.error("NEAR joins terms, phrases, @entities, title: of those or "
                                     "(A | B) groups, not negations, AND or source:", side.pos)
            left = Near(left, right, int(op.value), pos=left.pos)
        return left

    def unary(self) -> Node:
        nots: list[_Token] = []
        while self.tok.kind == "not":
            nots.append(self.tok)
            self.i += 1
            if self.tok.kind not in _STARTS_TERM:
                self.expect_term(nots[-1])
        node = self.primary()
        for op in reversed(nots):
            node = Not(node, pos=op.pos)
        return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "lparen":
            return self.group(tok)
        if tok.kind == "field":
            return self.field(tok)
        if tok.kind in ("word", "phrase", "entity"):
            self.i += 1
            return self.leaf(tok)
        if tok.kind in ("plus", "and", "or", "near"):
            raise self.error(f"expected a term before {tok.value!r}", tok.pos)
        if tok.kind == "rparen":
            raise self.error("unmatched ')'", tok.pos)
        raise self.error("expected a term", tok.pos)

    def group(self, tok: _Token) -> Node:
        self.enter(tok)
        self.i += 1
        if self.tok.kind == "rparen":
            raise self.error("empty parentheses", tok.pos)
        node = self.or_()
        if self.tok.kind != "rparen":
            raise self.error("unbalanced parentheses: '(' is never closed", tok.pos)
        self.i += 1
        self.depth -= 1
        return node

    def field(self, tok: _Token) -> Node:
        self.i += 1
        if tok.value == "source":
            value = self.tok
            if value.kind not in ("word", "phrase"):
                raise self.error("source: needs an outlet name, e.g. source:VOA", tok.pos)
            self.i += 1
            self.counted(tok)
            return Source(value.value, pos=tok.pos)
        if self.tok.kind not in ("word", "phrase", "entity", "lparen", "field"):
            raise self.error("title: needs a term, phrase, @entity or (group) right after it",
                             tok.pos)
        self.enter(tok)
        node = Title(self.primary(), pos=tok.pos)
        self.depth -= 1
        return node

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"rule nests deeper than {MAX_DEPTH} levels", tok.pos)

    def counted(self, tok: _Token) -> None:
        self.count += 1
        if self.count > MAX_TERMS:
            raise self.error(f"rule has more than {MAX_TERMS} terms", tok.pos)

    def leaf(self, tok: _Token) -> Node:
        self.counted(tok)
        if tok.kind == "entity":
            entity = self.entities.resolve(tok.value)
            if entity is None:
                hint = ", ".join(f"@{n}" for n in self.entities.suggest(tok.value))
                raise self.error(f"unknown entity @{tok.value}"
                                 + (f"; did you mean {hint}?" if hint else ""), tok.pos)
            return EntityRef(entity.name, pos=tok.pos)
        if not fold(tok.value).strip():
            raise self.error("empty term", tok.pos)
        return (Phrase if tok.kind == "phrase" else Term)(tok.value, pos=tok.pos)


def _flat(kind: type[And] | type[Or], children: list[Node], pos: int) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat), pos=pos)


def _positional(node: Node) -> bool:
    """True when the node has occurrences with positions (so NEAR can measure distances)."""
    if isinstance(node, (Term, Phrase, EntityRef, Near)):
        return True
    if isinstance(node, Title):
        return _positional(node.child)
    if isinstance(node, Or):
        return all(_positional(c) for c in node.children)
    return False


def _vacuous(node: Node) -> bool:
    """The rule's value on an article where none of its terms occur and no source matches."""
    if isinstance(node, Not):
        return not _vacuous(node.child)
    if isinstance(node, Title):
        return _vacuous(node.child)
    if isinstance(node, And):
        return all(_vacuous(c) for c in node.children)
    if isinstance(node, Or):
        return any(_vacuous(c) for c in node.children)
    return False


def _culprit(node: Node) -> int:
    """The position of the negation that makes a vacuous rule match everything."""
    if isinstance(node, Not):
        return node.pos
    if isinstance(node, Title):
        return _culprit(node.child)
    if isinstance(node, (And, Or)):
        return _culprit(next(c for c in node.children if _vacuous(c)))
    return node.pos  # pragma: no cover - leaves are never vacuous


_PRECEDENCE: dict[type, int] = {Or: 1, And: 2, Near: 3, Not: 4}


def format(node: Node, options: RuleOptions | None = None) -> str:
    """The canonical text of a rule: `parse_rule(format(ast, options)) == (ast, options)`."""
    text = _format(node, 0)
    if options is not None and options.min_outlets > 1:
        text += f" outlets>={options.min_outlets}"
    if options is not None and options.history != "exclude":
        text += f" history:{options.history}"
    return text


def _format(node: Node, need: int) -> str:
    text = _format_bare(node)
    return f"({text})" if _PRECEDENCE.get(type(node), 5) < need else text


def _format_bare(node: Node) -> str:
    if isinstance(node, (Term, Phrase, EntityRef, Source)):
        return _format_leaf(node)
    if isinstance(node, Title):
        return "title:" + _format(node.child, 5)
    if isinstance(node, Not):
        return "-" + _format(node.child, 4)
    if isinstance(node, Near):
        return f"{_format(node.left, 3)} NEAR/{node.distance} {_format(node.right, 4)}"
    if isinstance(node, And):
        return " + ".join(_format(c, 3) for c in node.children)
    return " | ".join(_format(c, 2) for c in node.children)


def _format_leaf(node: Term | Phrase | EntityRef | Source) -> str:
    if isinstance(node, Term):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, EntityRef):
        return f"@{node.name}"
    bare = _BARE_SOURCE_RE.fullmatch(node.name) and node.name not in _KEYWORDS \
        and not node.name.startswith("NEAR")
    return f"source:{node.name}" if bare else f'source:"{node.name}"'
