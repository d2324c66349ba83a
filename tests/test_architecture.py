"""The house rules of bot/, checked on every run: the import layers of pyproject.toml
([tool.importlinter], drawn in docs/architecture.md), no import cycles between modules, Redis
spoken only by bot/store/, and no Python module over MAX_LINES lines."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from tests.conftest import REPO

MAX_LINES = 400
_REDIS_RE = re.compile(r"^\s*(?:import|from) redis\b|\.redis\b", re.MULTILINE)


def _modules() -> list[Path]:
    return sorted((REPO / "bot").rglob("*.py"))


def test_imports_keep_to_the_layers() -> None:
    """`lint-imports` (import-linter, installed with the test extra) passes."""
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert linter is not None, "import-linter is part of the test extra: pip install -e '.[test]'"
    done = subprocess.run([linter], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_between_modules() -> None:
    """No module of bot/ reaches itself through imports, type-checking imports and a
    package's __init__ re-exporting its modules included."""
    graph = grimp.build_graph("bot", cache_dir=None)
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert len(imports) > 100 and sum(map(len, imports.values())) > 300  # the graph is read
    assert _cycles(imports) == []


def test_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: a -> b -> c -> a is found, d -> a is not part of it."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_store_speaks_redis() -> None:
    """No module outside bot/store/ imports redis or touches a client's `.redis`."""
    speaking = [str(p.relative_to(REPO)) for p in _modules()
                if _REDIS_RE.search(p.read_text(encoding="utf-8"))]
    assert speaking, "the pattern finds the store's own modules"
    assert [p for p in speaking if not p.startswith("bot/store/")] == []


def test_no_module_is_over_the_line_limit() -> None:
    """Every Python module of bot/ fits in MAX_LINES lines (the C core is exempt)."""
    lengths = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
               for p in _modules()}
    assert {p: n for p, n in lengths.items() if n > MAX_LINES} == {}
