"""The seed-file reader on the five shipped seeds and on malformed files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.feeds.seeds import parse_seed, read_seed_folder
from tests.conftest import SEEDS


def _by_prefix() -> dict[str, object]:
    articles, errors = read_seed_folder(SEEDS)
    assert errors == []
    return {Path(a.path or "").name[:3]: a for a in articles}


@pytest.mark.parametrize(("prefix", "outlet", "published", "title_start"), [
    ("000", "VOA", datetime(2024, 11, 4, 18, 9, 2, tzinfo=UTC), "韩国与欧盟同声强烈谴责"),
    ("001", "DW", datetime(2024, 10, 21, 11, 47, 4, tzinfo=UTC), "韩国指朝鲜派兵增援"),
    ("002", "VOA", datetime(2024, 10, 21, 13, 39, 4, tzinfo=UTC), "韩国召见俄驻韩大使"),
    ("003", "unknown", None, "韩国要求朝鲜"),
    ("004", "RFI", datetime(2024, 1, 5, 14, 45, 2, tzinfo=UTC), "韩国敦促朝俄停止武器贸易"),
])
def test_each_seed_reads_outlet_time_and_title(prefix: str, outlet: str,
                                               published: datetime | None,
                                               title_start: str) -> None:
    """Each seed yields its outlet (from the URL's site), UTC time or None, and its title."""
    article = _by_prefix()[prefix]
    assert article.outlet == outlet  # type: ignore[attr-defined]
    assert article.published == published  # type: ignore[attr-defined]
    assert article.title.startswith(title_start)  # type: ignore[attr-defined]


def test_seed_bodies_are_plain_text_without_captions() -> None:
    """Bodies carry no HTML tags, no image URLs and no image captions."""
    seeds = _by_prefix()
    for article in seeds.values():
        text = article.text  # type: ignore[attr-defined]
        assert "<" not in text and "weserv" not in text and len(text) > 500
    assert "乌克兰公布的一段视频据称显示" not in seeds["001"].text  # type: ignore[attr-defined]
    assert "召见了俄罗斯驻韩国大使" in seeds["001"].text  # type: ignore[attr-defined]


def test_headerless_seed_has_no_url_and_first_line_title() -> None:
    """A file without the header (seed 003) takes its first line as title, no URL or date."""
    article = _by_prefix()["003"]
    assert article.url is None and article.published is None  # type: ignore[attr-defined]
    assert article.title == "韩国要求朝鲜:朝军立即停止赴乌克兰参战"  # type: ignore[attr-defined]


def test_text_is_nfkc_normalized() -> None:
    """Full-width punctuation is NFKC-folded (（德国之声中文网） becomes (德国之声中文网))."""
    assert "(德国之声中文网)" in _by_prefix()["001"].text  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["", "   \n\n", "<!--1730743742000-->\n"])
def test_empty_seed_is_a_parse_error(text: str) -> None:
    """A seed file with no title raises ParseError, not anything else."""
    with pytest.raises(ParseError):
        parse_seed(text, path="x.txt")


def test_broken_file_in_folder_is_reported_and_others_read(tmp_path: Path) -> None:
    """An unreadable file in a folder is reported while the good files are still read."""
    (tmp_path / "a.txt").write_text("[T](https://www.dw.com/a)\n------\n<p>body</p>")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    articles, errors = read_seed_folder(tmp_path)
    assert [a.title for a in articles] == ["T"] and articles[0].outlet == "DW"
    assert len(errors) == 1 and "b.txt" in str(errors[0])
