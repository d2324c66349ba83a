"""The rules package's shape: small modules, and text in, matches out (no chats, store or
platforms)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "bot" / "rules"
MODULES = sorted(RULES.glob("*.py"))
OUTSIDE = ("bot.chats", "bot.store", "bot.platforms", "bot.routing")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_rules_modules_stay_under_400_lines(path: Path) -> None:
    """Each module of bot/rules has at most 400 lines (the C core is not Python)."""
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_rules_modules_import_nothing_of_chats_store_or_platforms(path: Path) -> None:
    """bot/rules turns text into matches: it imports nothing of chats, the store, the
    platforms or routing, not even inside a function."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    assert [n for n in names if n.startswith(OUTSIDE)] == []
