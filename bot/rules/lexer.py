"""Rule text -> tokens (bot.rules.grammar has the grammar), and the options a rule carries
(`outlets>=N`, `history:any|only`) taken out of the tokens before parsing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.errors import RuleError
from bot.rules.nodes import HISTORY_CHOICES, MAX_NEAR, MAX_OUTLETS, RuleOptions

_OPERATOR_FORMS = str.maketrans({"＋": "+", "｜": "|", "（": "(", "）": ")", "＂": '"', "“": '"',
                                 "”": '"', "－": "-", "＠": "@", "＞": ">", "＝": "=", "：": ":"})
_SPECIAL = frozenset('()|+"')
_NEAR_RE = re.compile(r"NEAR/(\d{1,6})")
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_FIELDS = ("title", "source")
KEYWORDS = frozenset({"OR", "AND", "NOT"})
_OUTLETS_RE = re.compile(r"(?i)outlets\s*(?:>=|≥)\s*(\d{1,3})")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: `kind` is word phrase entity field option lparen rparen or and plus not near
    or end; `pos` its offset into the expression."""

    kind: str
    value: str
    pos: int


def split_options(expression: str, tokens: list[Token]) -> tuple[list[Token], RuleOptions]:
    """The tokens without the option tokens (and the `+`/AND joining each to the rule), and
    the options they set; each option must stand at the top level, once."""
    kept: list[Token] = []
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


class Lexer:
    """Splits an expression into tokens; positions are offsets into the expression."""

    def __init__(self, expression: str) -> None:
        self.source = expression
        self.text = expression.translate(_OPERATOR_FORMS)

    def error(self, message: str, pos: int) -> RuleError:
        return RuleError(message, expression=self.source, position=pos)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text, pos = self.text, 0
        while pos < len(text):
            ch = text[pos]
            if ch.isspace():
                pos += 1
            elif ch in "()|+":
                kind = {"(": "lparen", ")": "rparen", "|": "or", "+": "plus"}[ch]
                out.append(Token(kind, ch, pos))
                pos += 1
            elif ch == '"':
                pos = self._phrase(pos, out)
            elif ch == "-":
                out.append(Token("not", ch, pos))
                pos += 1
            elif ch == "@":
                end = self._word_end(pos + 1)
                if end == pos + 1:
                    raise self.error("'@' needs an entity name, e.g. @dprk", pos)
                self._check_chars(pos + 1, end)
                out.append(Token("entity", text[pos + 1:end], pos))
                pos = end
            else:
                pos = self._word(pos, out)
        out.append(Token("end", "", len(text)))
        return out

    def _word_end(self, pos: int) -> int:
        text = self.text
        while pos < len(text) and not text[pos].isspace() and text[pos] not in _SPECIAL:
            pos += 1
        return pos

    def _phrase(self, pos: int, out: list[Token]) -> int:
        end = self.text.find('"', pos + 1)
        if end < 0:
            raise self.error("unterminated phrase: missing closing quote", pos)
        words = self.text[pos + 1:end].split()
        if not words:
            raise self.error("empty phrase", pos)
        self._check_chars(pos + 1, end)
        out.append(Token("phrase", " ".join(words), pos))
        return end + 1

    def _check_chars(self, start: int, end: int) -> None:
        for i in range(start, end):
            if unicodedata.category(self.text[i]) in ("Cc", "Cs") \
                    and not self.text[i].isspace():
                raise self.error(f"invalid character U+{ord(self.text[i]):04X}", i)

    def _word(self, pos: int, out: list[Token]) -> int:
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
            out.append(Token("field", name, pos))
            return pos + prefix.end()
        if word in KEYWORDS:
            out.append(Token(word.lower(), word, pos))
        elif word == "NEAR" or word.startswith("NEAR/"):
            near = _NEAR_RE.fullmatch(word)
            if not near or int(near.group(1)) > MAX_NEAR:
                raise self.error(f"NEAR needs a distance from 0 to {MAX_NEAR}, e.g. NEAR/10",
                                 pos)
            out.append(Token("near", near.group(1), pos))
        else:
            out.append(Token("word", word, pos))
        return end


    def _option(self, word: str, pos: int) -> Token | None:
        """`outlets>=N` or `history:any|only` as an option token; None for any other word."""
        outlets = _OUTLETS_RE.fullmatch(word)
        if outlets is not None:
            count = int(outlets.group(1))
            if not 1 <= count <= MAX_OUTLETS:
                raise self.error(f"outlets>= needs a number from 1 to {MAX_OUTLETS}", pos)
            return Token("option", f"outlets={count}", pos)
        if word.lower().startswith("outlets"):
            raise self.error("write outlets>=N, e.g. outlets>=2", pos)
        if word.lower().startswith("history:"):
            value = word.partition(":")[2].lower()
            if value not in HISTORY_CHOICES:
                raise self.error("write history:any (current and past events) or "
                                 "history:only (past events only)", pos)
            return Token("option", f"history={value}", pos)
        return None
