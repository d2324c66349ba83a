"""Regenerate the derived variants in tests/data/dev/ from seeds/ (run from the repo root).

Variants: 002 republished by another outlet under a rewritten title; 001 in Traditional script
(OpenCC s2t) republished by a Taiwanese outlet; a lead-only version of 002; 000 from the same
outlet under another URL with a different dateline.
"""

from __future__ import annotations

from pathlib import Path

import opencc

from bot.text import html_to_text

REPO = Path(__file__).resolve().parents[2]
DEV = Path(__file__).resolve().parent / "dev"


def _seed(prefix: str) -> tuple[str, str]:
    """(header-less body, title) of the seed whose file name starts with `prefix`."""
    path = next((REPO / "seeds").glob(f"{prefix}_*.txt"))
    lines = path.read_text(encoding="utf-8").splitlines()
    title = lines[1][1:lines[1].index("](")]
    return "\n".join(lines[3:]), title


def _write(name: str, millis: int, title: str, url: str, body: str) -> None:
    (DEV / name).write_text(f"<!--{millis}-->\n[{title}]({url})\n------\n{body}\n",
                            encoding="utf-8")


def main() -> None:
    """Write the four variant files."""
    body002, _ = _seed("002")
    _write("var_002_retitled_zaobao.txt", 1729522800000,
           "首尔召见俄罗斯大使 抗议朝鲜军人赴俄",
           "https://www.zaobao.com.sg/realtime/world/story20241021-4000001", body002)
    body001, title001 = _seed("001")
    s2t = opencc.OpenCC("s2t")
    _write("var_001_traditional_cna.txt", 1729519200000, s2t.convert(title001),
           "https://www.cna.com.tw/news/aopl/202410210001.aspx", s2t.convert(body001))
    lead = "".join(html_to_text(body002).split("\n")[1:3])  # below the date line
    _write("var_002_lead_rfa.txt", 1729526400000, "韩国召见俄驻韩大使抗议朝鲜派兵",
           "https://www.rfa.org/mandarin/yataibaodao/chaoxian/summons-10212024.html",
           f"<p>{lead}</p>")
    body000, title000 = _seed("000")
    _write("var_000_dateline_voa.txt", 1730746800000, title000,
           "https://www.voachinese.com/a/korea-eu-condemn-dprk-troops-20241104/7850600.html",
           body000.replace("华盛顿 —", "首尔 —", 1))


if __name__ == "__main__":
    main()
