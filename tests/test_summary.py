"""Extractive summaries: sentence splitting, boilerplate removal, scoring, budget, seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.feeds.seeds import read_seed_folder
from bot.models import Article
from bot.summary import BUDGET, ExtractiveSummarizer, measure, sentences_of, split_sentences
from bot.text import html_to_text
from tests.conftest import REPO

CASES: list[dict[str, Any]] = yaml.safe_load(
    (REPO / "tests" / "data" / "summaries.yaml").read_text(encoding="utf-8"))
SUMMARIZER = ExtractiveSummarizer()
# What feeds put around the prose of the seeds: timestamps, outlet tags, datelines, captions,
# footers. None of it may reach a summary.
SEED_BOILERPLATE = ("GMT", "2024-10-21T", "05/01/2024", "华盛顿 —", "华盛顿", "德国之声中文网",
                    "2023年7月27日", "2024年6月19日", "举杯敬酒", "阅兵式", "分享", "RSS",
                    "feedx", "http", "<", ">")


def _seeds() -> dict[str, Article]:
    articles, errors = read_seed_folder(REPO / "seeds", feed_id="seeds")
    assert not errors
    return {Path(a.path or "").name[:3]: a for a in articles}


def _article(text: str, outlet: str = "Test") -> Article:
    return Article(outlet=outlet, title="t", text=text)


@pytest.mark.parametrize(("text", "expected"), [
    ("朝鲜发射导弹。韩国表示抗议！日本呢？", ["朝鲜发射导弹。", "韩国表示抗议！", "日本呢？"]),
    ("他说:“我们反对。”随后离开。", ["他说:“我们反对。”", "随后离开。"]),
    ("The U.S. said on Monday that Mr. Kim sent 1.5 million shells. Seoul protested.",
     ["The U.S. said on Monday that Mr. Kim sent 1.5 million shells.", "Seoul protested."]),
    ('"It is illegal," he said. A. Smith disagreed! Why? No.',
     ['"It is illegal," he said.', "A. Smith disagreed!", "Why?", "No."]),
    ("价格上涨了2.5%;市场平稳。", ["价格上涨了2.5%;", "市场平稳。"]),
    ("On Nov. 4 talks began. They ended.", ["On Nov. 4 talks began.", "They ended."]),
])
def test_split_sentences(text: str, expected: list[str]) -> None:
    """CJK and Latin sentence ends, closing quotes kept, abbreviations and decimals not split."""
    assert split_sentences(text) == expected


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_summaries_of_written_articles_state_the_event_without_boilerplate(
        case: dict[str, Any]) -> None:
    """English and Chinese articles with datelines, captions and footers: the summary keeps
    the event and none of the boilerplate, within the budget and three sentences."""
    text = html_to_text(case["html"])
    summary = SUMMARIZER.summarize([_article(text)], terms=case["terms"])
    for fragment in case["states"]:
        assert fragment in summary, summary
    for fragment in case["absent"]:
        assert fragment not in summary, (fragment, summary)
    assert 0 < measure(summary) <= BUDGET
    assert len(split_sentences(summary)) <= 3


@pytest.mark.parametrize("seed", ["000", "001", "002", "003", "004"])
def test_seed_summaries_have_no_html_captions_or_datelines(seed: str) -> None:
    """Each seed alone summarizes to prose only."""
    summary = SUMMARIZER.summarize([_seeds()[seed]], terms=["朝鲜", "派兵"])
    assert summary
    for fragment in SEED_BOILERPLATE:
        assert fragment not in summary, (fragment, summary)
    assert measure(summary) <= BUDGET


def test_three_outlet_story_summary_states_the_event() -> None:
    """001, 002 and 003 (DW, VOA, BBC): Seoul summoned Russia's ambassador over North Korean
    troops; the first sentence says so."""
    seeds = _seeds()
    summary = SUMMARIZER.summarize([seeds["001"], seeds["002"], seeds["003"]],
                                   terms=["朝鲜", "派兵"])
    first = split_sentences(summary)[0]
    assert "召见" in first and "俄罗斯" in first and "大使" in first
    assert "朝鲜" in first and ("军队" in first or "部队" in first or "士兵" in first)
    for fragment in SEED_BOILERPLATE:
        assert fragment not in summary, (fragment, summary)


def test_sentences_the_other_outlets_share_win_over_unique_ones() -> None:
    """With position equal, the sentence other reports also carry is preferred."""
    lead = ("市长今天在市政厅宣布新的公交线路将于明年开通。天气预报说周末将有大雨和强风。"
            "新线路连接机场和火车站，全长二十公里。")
    other = "新线路连接机场和火车站。"
    summary = ExtractiveSummarizer(max_sentences=2).summarize(
        [_article(lead, "A"), _article(other, "B")])
    assert summary == ("市长今天在市政厅宣布新的公交线路将于明年开通。"
                       "新线路连接机场和火车站,全长二十公里。")
    alone = ExtractiveSummarizer(max_sentences=2).summarize([_article(lead, "A")])
    assert "天气预报" in alone  # without the other outlet, position decides


def test_matched_terms_pull_their_sentence_in() -> None:
    """The sentence with the rule's terms is kept over a neutral one at the same position."""
    text = ("The summit opened in Geneva on Monday. Delegates discussed trade at length. "
            "Later the ministers agreed on sanctions against three shipping firms. "
            "The weather was mild for the season.")
    summary = ExtractiveSummarizer(max_sentences=2).summarize([_article(text)],
                                                              terms=["sanctions"])
    assert "sanctions" in summary and summary.startswith("The summit opened")


def test_an_overlong_only_sentence_is_cut_within_the_budget() -> None:
    """A single sentence past the budget is cut at a clause with an ellipsis."""
    clauses = (f"第{i}项措施立即生效并由观察员监督执行" for i in range(40))
    text = "各方同意" + "，".join(clauses) + "。"
    summary = SUMMARIZER.summarize([_article(text)])
    assert summary.endswith("…") and measure(summary) <= BUDGET


def test_no_prose_no_summary() -> None:
    """Reports with no prose (timestamps, links, captions only) give an empty summary."""
    text = "Mon, 04 Nov 2024 18:06:19 GMT\nhttps://example.com/a\n图片来源:示例\n分享 :"
    assert SUMMARIZER.summarize([_article(text)]) == ""
    assert SUMMARIZER.summarize([]) == ""
    assert sentences_of("") == []
