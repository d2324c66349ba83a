"""HTML to text (`bot.text.html_to_text`) on flat and nested markup: seconds per MB at several
sizes, nested against flat in the same run, and the code before issue 13 (one lexbor parse of
the whole markup; kept below as `old_html_to_text`) as the baseline.

    .venv/bin/python bench/html_text.py [--sizes 25,100,400,1600] [--budget 10]

Flat markup: real article markup (the seeds' bodies, one after another, repeated) and
`<p>x</p>` repeated (the densest flat tags). Nested or hostile markup: `<div>` n deep (what an
item description of `&lt;div&gt;` repeated unescapes to), `<b id=n>` (formatting elements
that all differ), `<ul><li>` n deep, `<b><div></b>` (misnested), a run of white space
without a line break, `<br` without `>`. Each figure of the new code is the best of three
runs or more (until 0.3 s were spent); the old code runs once. The old code is quadratic: at a
size where it would take more than --budget seconds (extrapolated from the last size
measured) it is not run, and its guess is marked ~.

Prints, per markup and size, seconds per MB for the new and the old code and old/new; then,
for the new code, the slowest nested markup at each size against each flat markup. Target
(issue 13, item 6): nested within a small constant of flat at every size, i.e. linear.
"""

from __future__ import annotations

import argparse
import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from bot.feeds.seeds import parse_seed
from bot.text import html_to_text

REPO = Path(__file__).resolve().parent.parent

# ---- the code before issue 13 (bot/text.py html_to_text and clean), kept as the baseline

_OLD_DROP_TAGS = ("script", "style", "noscript", "iframe", "img", "figcaption", "small", "svg",
                  "form")
_OLD_BLOCK_RE = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr|/figure)\b[^>]*>",
                           re.I)
_OLD_SOURCE_BREAK_RE = re.compile(r"\s*\n\s*")
_OLD_SPACE_RE = re.compile(r"[ \t\u3000\xa0]+")
_OLD_NEWLINES_RE = re.compile(r"\s*\n\s*")


def old_clean(text: str) -> str:
    """bot.text.clean before issue 13."""
    text = unicodedata.normalize("NFKC", text)
    text = _OLD_SPACE_RE.sub(" ", text)
    return _OLD_NEWLINES_RE.sub("\n", text).strip()


def old_html_to_text(html: str) -> str:
    """bot.text.html_to_text before issue 13: one parse of the whole markup."""
    if "<" not in html:
        return old_clean(html)
    html = _OLD_BLOCK_RE.sub(lambda m: m.group(0) + "\n", _OLD_SOURCE_BREAK_RE.sub(" ", html))
    tree = LexborHTMLParser(html)
    for tag in _OLD_DROP_TAGS:
        for node in tree.css(tag):
            node.decompose()
    root = tree.body or tree.root
    return old_clean(root.text(separator="") if root is not None else "")


# ---- the markup

def _articles() -> str:
    """The seeds' HTML bodies, one after another."""
    bodies = []
    for path in sorted((REPO / "seeds").iterdir()):
        text = path.read_text(encoding="utf-8")
        bodies.append(text.split("------", 1)[-1])
        parse_seed(text)  # (a seed that no longer reads would make this markup meaningless)
    return "".join(bodies)


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: unit * max(1, size // len(unit))


def markups() -> dict[str, tuple[bool, Callable[[int], str]]]:
    """name: (nested?, markup of about `size` characters)."""
    articles = _articles()
    return {
        "flat: seed articles": (False, lambda size: articles * max(
            1, round(size / len(articles.encode())))),
        "flat: <p>x</p>": (False, _repeat("<p>x</p>")),
        "nested: <div>": (True, _repeat("<div>")),
        "nested: <b id=n>": (True, lambda size: "".join(
            f"<b id={i}>" for i in range(size // 11))),
        "nested: <ul><li>": (True, _repeat("<ul><li>")),
        "misnested: <b><div></b>": (True, _repeat("<b><div></b>")),
        "white space, no line break": (True, lambda size: "<p>a" + " " * size + "b"),
        "<br without >": (True, _repeat("<br")),
    }


# ---- timing

def best_seconds(fn: Callable[[], object], *, runs: int = 3, spend: float = 0.3) -> float:
    """The fastest of repeated runs of `fn`: `runs` of them, more until `spend` seconds."""
    best, spent, done = float("inf"), 0.0, 0
    while done < runs or spent < spend:
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best, spent, done = min(best, took), spent + took, done + 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,100,400,1600", help="KB, comma-separated")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds one run of the baseline may take")
    args = parser.parse_args()
    sizes = [int(kb) * 1000 for kb in args.sizes.split(",")]
    new_per_mb: dict[tuple[str, int], float] = {}
    print(f"{'markup':28} {'size':>8} {'new s/MB':>9} {'old s/MB':>10} {'old/new':>8}")
    for name, (_, make) in markups().items():
        measured: tuple[int, float] | None = None  # the baseline's last (size, seconds)
        for size in sizes:
            html = make(size)
            megabytes = len(html.encode()) / 1e6
            if size == sizes[0] and html_to_text(html) != old_html_to_text(html):
                raise SystemExit(f"{name}: the new and the old code read it differently")
            new = _new_seconds(html) / megabytes
            old, guessed = _old_seconds(html, measured, budget=args.budget)
            if not guessed:
                measured = (len(html), old)
            new_per_mb[name, size] = new
            print(f"{name:28} {megabytes * 1000:6.0f}KB {new:9.3f} {'~' if guessed else ' '}"
                  f"{old / megabytes:9.3f} {old / megabytes / new:7.1f}x")
    _summary(new_per_mb, sizes)


def _new_seconds(html: str) -> float:
    return best_seconds(lambda: html_to_text(html))


def _old_seconds(html: str, measured: tuple[int, float] | None, *,
                 budget: float) -> tuple[float, bool]:
    """Seconds the old code takes on `html`, and whether that is a guess: extrapolated
    quadratically from the last size measured, when it would pass `budget` seconds."""
    if measured is not None:
        guess = measured[1] * (len(html) / measured[0]) ** 2
        if guess > budget:
            return guess, True
    return best_seconds(lambda: old_html_to_text(html), runs=1, spend=0.0), False


def _summary(new_per_mb: dict[tuple[str, int], float], sizes: list[int]) -> None:
    """The worst nested/flat ratio of the new code at each size, against either flat markup."""
    kinds = markups()
    print("\nnew code, the slowest nested markup against flat markup of the same size:")
    for size in sizes:
        seconds, worst = max((new_per_mb[name, size], name) for name, (nested, _)
                             in kinds.items() if nested)
        dense, articles = new_per_mb["flat: <p>x</p>", size], new_per_mb[
            "flat: seed articles", size]
        print(f"  {size // 1000:5}K  {worst} {seconds:.3f} s/MB: {seconds / dense:.2f}x "
              f"<p>x</p> ({dense:.3f}), {seconds / articles:.2f}x seed articles "
              f"({articles:.3f})")


if __name__ == "__main__":
    main()
