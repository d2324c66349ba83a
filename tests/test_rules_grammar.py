"""The rule grammar: ASTs for every construct, every error with its position, round-trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import RuleError
from bot.rules.grammar import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NEAR,
    MAX_TERMS,
    And,
    EntityRef,
    Near,
    Not,
    Or,
    Phrase,
    Source,
    Term,
    Title,
    format,
    parse,
)

A, B, C = Term("a"), Term("b"), Term("c")


@pytest.mark.parametrize(("expression", "ast"), [
    ("a", A),
    ("a + b", And((A, B))),
    ("a b", And((A, B))),
    ("a AND b", And((A, B))),
    ("a | b", Or((A, B))),
    ("a OR b", Or((A, B))),
    ("a -b", And((A, Not(B)))),
    ("a NOT b", And((A, Not(B)))),
    ("a - b", And((A, Not(B)))),
    ("a | b c", Or((A, And((B, C))))),
    ("(a | b) c", And((Or((A, B)), C))),
    ("a (b c)", And((A, B, C))),
    ("a | (b | c)", Or((A, B, C))),
    ("a NEAR/5 b", Near(A, B, 5)),
    ("a NEAR/5 b c", And((Near(A, B, 5), C))),
    ("a NEAR/2 b NEAR/3 c", Near(Near(A, B, 2), C, 3)),
    ("(a | b) NEAR/0 c", Near(Or((A, B)), C, 0)),
    ('"a  b "', Phrase("a b")),
    ('“North Korea”', Phrase("North Korea")),
    ("@dprk", EntityRef("dprk")),
    ("@DPRK", EntityRef("dprk")),
    ("@朝鲜", EntityRef("dprk")),
    ("title:a", Title(A)),
    ("TITLE:a", Title(A)),
    ("title:(a | b)", Title(Or((A, B)))),
    ('title:"a b"', Title(Phrase("a b"))),
    ("a source:VOA", And((A, Source("VOA")))),
    ('a source:"Radio Free Asia"', And((A, Source("Radio Free Asia")))),
    ("Kim-Jong-un", Term("Kim-Jong-un")),
    ("or", Term("or")),
    ("a --b", And((A, Not(Not(B))))),
    ("朝鲜＋派兵", And((Term("朝鲜"), Term("派兵")))),
    ("（a｜b）c", And((Or((A, B)), C))),
    ("朝鲜:派兵", Term("朝鲜:派兵")),
    ("10:30", Term("10:30")),
])
def test_parse_builds_the_expected_tree(expression: str, ast: object) -> None:
    """Each construct parses to its AST, with NOT > NEAR > AND > OR precedence."""
    assert parse(expression) == ast


@pytest.mark.parametrize(("expression", "position", "message"), [
    ("", 0, "empty rule"),
    ("   ", 3, "empty rule"),
    ("(a", 0, "never closed"),
    ("a (b (c)", 2, "never closed"),
    ("a)", 1, "unmatched ')'"),
    ("()", 0, "empty parentheses"),
    ('""', 0, "empty phrase"),
    ('"  "', 0, "empty phrase"),
    ('a "b', 2, "unterminated phrase"),
    ("a +", 3, "expected a term after '+'"),
    ("+ a", 0, "expected a term before '+'"),
    ("a | | b", 4, "expected a term after '|'"),
    ("a OR", 4, "expected a term after 'OR'"),
    ("a -", 3, "expected a term after '-'"),
    ("@", 0, "'@' needs an entity name"),
    ("-a", 0, "something that must occur"),
    ("NOT a NOT b", 0, "something that must occur"),
    ("a | -b", 4, "something that must occur"),
    ("b -(a | b) | -c", 13, "something that must occur"),
    ("@dprc + 派兵", 0, "unknown entity @dprc; did you mean @dprk"),
    ("a + @nosuchthing", 4, "unknown entity @nosuchthing"),
    ("a NEAR b", 2, "NEAR needs a distance"),
    ("a NEAR/x b", 2, "NEAR needs a distance"),
    (f"a NEAR/{MAX_NEAR + 1} b", 2, "NEAR needs a distance"),
    ("-a NEAR/3 b", 0, "NEAR joins"),
    ("a NEAR/3 (b c)", 10, "NEAR joins"),
    ("a NEAR/3 source:VOA", 9, "NEAR joins"),
    ("source:", 0, "needs its value right after it"),
    ("title: a", 0, "needs its value right after it"),
    ("source:(a)", 0, "source: needs an outlet name"),
    ("title:-a", 0, "title: needs a term"),
    ("tittle:a", 0, "unknown field 'tittle:'"),
    ("a\x00b", 1, "invalid character U+0000"),
    ("x" * (MAX_LENGTH + 1), MAX_LENGTH, f"longer than {MAX_LENGTH}"),
    (" ".join(f"t{i}" for i in range(MAX_TERMS + 1)), None, f"more than {MAX_TERMS} terms"),
    ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, "deeper than"),
])
def test_bad_rules_name_the_position(expression: str, position: int | None,
                                     message: str) -> None:
    """Every kind of bad rule raises RuleError with a clear message and its 0-based position."""
    with pytest.raises(RuleError) as caught:
        parse(expression)
    assert message in caught.value.message
    expected = position if position is not None else expression.index(f" t{MAX_TERMS}") + 1
    assert caught.value.position == expected
    assert caught.value.expression == expression


def test_limits_are_inclusive() -> None:
    """A rule exactly at each limit is accepted."""
    parse(" ".join(f"t{i}" for i in range(MAX_TERMS)))
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    parse(f"a NEAR/{MAX_NEAR} b")
    parse("a" * MAX_LENGTH)


@pytest.mark.parametrize("expression", [
    "朝鲜 + 派兵", "a | b c", "(a | b) c", "a -(b | c)", "a NEAR/3 (b | c) NEAR/4 d",
    'title:"x y" source:"Radio Free Asia"', "title:(a | b) -title:c", "@dprk NEAR/10 @putin",
    "--a", "a | b | (c NEAR/1 d)", "source:VOA a", "title:title:a", "title:source:VOA",
])
def test_format_round_trips(expression: str) -> None:
    """Formatting a parsed rule and parsing it again gives the same rule."""
    ast = parse(expression)
    assert parse(format(ast)) == ast


_WORDS = st.sampled_from(["a", "b", "朝鲜", "派兵", "NK", "@dprk", "@putin", '"x y"',
                          "title:", "source:", "NEAR/3", "NEAR", "OR", "AND", "NOT", "-", "+",
                          "|", "(", ")", '"', "@", "title:a", "source:VOA", "北韓", "a:b"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60),
                 st.lists(_WORDS, max_size=12).map(" ".join),
                 st.lists(_WORDS, max_size=12).map("".join)))
def test_parser_raises_only_rule_errors_and_round_trips(text: str) -> None:
    """On any text the parser either raises RuleError or returns a rule that round-trips."""
    try:
        ast = parse(text)
    except RuleError as exc:
        assert 0 <= exc.position <= max(len(text), 1)
        return
    assert parse(format(ast)) == ast
