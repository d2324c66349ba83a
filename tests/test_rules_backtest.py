"""Backtesting a rule over a folder: results, text and JSON output, errors."""

from __future__ import annotations

import json
from pathlib import Path

from bot.rules.backtest import EXIT_OK, EXIT_RULE_ERROR, backtest, read_articles, run_rules_test
from tests.conftest import SEEDS


def test_backtest_marks_each_seed_with_terms() -> None:
    """Every article gets a result: matched or not, and the terms that made it match."""
    articles, _ = read_articles(SEEDS)
    results = {Path(r.path or "").name[:3]: r for r in backtest("朝鲜 + 派兵", articles)}
    assert {n for n, r in results.items() if r.matched} == {"000", "001", "002", "003"}
    assert results["001"].terms == ("朝鲜", "派兵") and results["001"].hits
    assert results["004"].terms == () and results["004"].url


def test_run_rules_test_prints_matches_first_and_a_summary() -> None:
    """The text output lists matches with their terms, then the other articles, then a count."""
    status, output = run_rules_test("@dprk + 弹道导弹", path=SEEDS)
    lines = output.splitlines()
    assert status == EXIT_OK and lines[0].startswith("MATCH")
    assert lines[-1] == "2 of 5 articles match '@dprk + 弹道导弹'"
    assert "韩国敦促朝俄停止武器贸易 英国:这是俄罗斯被孤立的征兆  [朝鲜, 弹道导弹, 朝方]" in output


def test_run_rules_test_json_has_one_object_per_article() -> None:
    """`--json` prints url, title, path, matched and terms (with positions) per article."""
    status, output = run_rules_test("朝鲜 + 派兵", path=SEEDS, as_json=True)
    data = json.loads(output)
    assert status == EXIT_OK and len(data) == 5
    assert sum(d["matched"] for d in data) == 4
    first = next(d for d in data if d["matched"])
    assert set(first) == {"url", "title", "outlet", "path", "matched", "terms", "hits"}
    assert first["terms"] == ["朝鲜", "派兵"]
    assert {"term", "alias", "field", "start", "end"} == set(first["hits"][0])


def test_run_rules_test_rule_error_exits_non_zero_with_a_caret() -> None:
    """An invalid rule exits non-zero and points at the error."""
    status, output = run_rules_test("朝鲜 + (派兵", path=SEEDS)
    assert status == EXIT_RULE_ERROR
    assert output.splitlines() == ["invalid rule: unbalanced parentheses: '(' is never closed",
                                   "  朝鲜 + (派兵", "         ^"]


def test_run_rules_test_on_a_missing_folder_fails(tmp_path: Path) -> None:
    """A folder that does not exist is an error, not an empty success."""
    status, output = run_rules_test("朝鲜", path=tmp_path / "nope")
    assert status != EXIT_OK and "no such file or folder" in output
