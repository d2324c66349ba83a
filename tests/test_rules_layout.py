"""The rules package is text in, matches out: no chats, store, platforms or routing (module
sizes are checked for all of bot/ by tests/test_architecture.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "bot" / "rules"
MODULES = sorted(RULES.glob("*.py"))
OUTSIDE = ("bot.chats", "bot.store", "bot.platforms", "bot.routing")


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
