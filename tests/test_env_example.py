""".env.example and the README's configuration table against the settings model: every setting
is listed once, with a comment, and every example value is one the bot accepts."""

from __future__ import annotations

import re

import pytest

from bot.config import Settings
from tests.conftest import REPO

_LINE = re.compile(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$")


def _aliases() -> set[str]:
    """The environment name of every setting of the model."""
    return {str(field.alias) for field in Settings.model_fields.values()}


def _example() -> list[tuple[str, str, str]]:
    """(name, example value, the comment above it) for each setting line of .env.example."""
    rows, comment = [], ""
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line)
        if match:
            rows.append((match.group(1), match.group(2), comment))
            comment = ""
        elif line.startswith("#"):
            comment += line.lstrip("# ") + " "
        else:
            comment = ""
    return rows


def test_env_example_lists_every_setting_once_with_a_comment() -> None:
    """Each setting of the model is in .env.example exactly once, below a comment saying
    what it does; nothing else is."""
    names = [name for name, _, _ in _example()]
    assert sorted(names) == sorted(_aliases())
    assert [name for name, _, comment in _example() if len(comment.strip()) < 10] == []


def test_env_example_values_are_accepted() -> None:
    """Every example value (placeholders in angle brackets aside) is valid on its own."""
    checked = 0
    for name, value, _ in _example():
        if not value or value.startswith("<"):
            continue
        Settings.model_validate({name: value})
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("name", sorted(_aliases()))
def test_the_readme_documents_every_setting(name: str) -> None:
    """The README's configuration table has a row for every setting."""
    assert f"| `{name}` |" in (REPO / "README.md").read_text(encoding="utf-8")
