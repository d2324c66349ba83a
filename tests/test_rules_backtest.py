"""Backtesting a rule over a folder: results, text and JSON output, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.models import Article
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
    assert status == EXIT_OK
    assert lines[0] == "  弹道导弹 = @missile-launch: missile launch (导弹试射)"
    assert lines[1].startswith("MATCH")
    assert lines[-1] == "2 of 5 articles match '@dprk + 弹道导弹'"
    assert ("韩国敦促朝俄停止武器贸易 英国:这是俄罗斯被孤立的征兆  [朝鲜, 弹道导弹, 金正恩, 朝方]"
            in output)


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


def test_an_invalid_rule_as_json_is_an_error_object() -> None:
    """`--json` with an invalid rule gives the message, the column and the rule, exit 2."""
    status, output = run_rules_test("朝鲜 + (", path=SEEDS, as_json=True)
    assert status == 2
    assert json.loads(output) == {"error": "expected a term", "column": 7, "position": 6,
                                  "rule": "朝鲜 + ("}


def test_history_is_listed_with_its_reason_and_kept_out_unless_asked() -> None:
    """A report about the Korean War has both words but is listed as about the past (with the
    year and the words that say so), not as a match; `history:any` matches it."""
    essay = Article(outlet="x", title="抗美援朝战争胜利71周年 志愿军出兵朝鲜的历史回顾",
                    text="1950年6月,朝鲜派兵越过三八线;10月,中国人民志愿军出兵朝鲜。",
                    published=datetime(2024, 10, 25, tzinfo=UTC))  # (出兵朝鲜: sent to it)
    [kept_out] = backtest("朝鲜 + 派兵", [essay])
    assert not kept_out.matched and kept_out.history is not None
    assert kept_out.history.year == 1950 and "抗美援朝" in kept_out.history.evidence
    [asked] = backtest("朝鲜 + 派兵 history:any", [essay])
    assert asked.matched and asked.history is None
