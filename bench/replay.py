"""`newsbot run --once` over a replay folder: the whole command, as an operator runs it, on
a fresh data directory with the embedded store.

    python bench/replay.py [--sizes 1000,100000] [--keep DIR]

For each size, a folder of that many seed-format files is written (the synthetic news of
bench/stories_speed.py, in English words: text from the 1,000 commonest words of wordfreq's
list, Zipf-weighted, and each event's own words from ranks 2,000-20,000, so the background
frequencies weigh them as real text; half of the articles report an earlier event; dated over
the last 60 hours so they all fall in one 72-hour window), a feeds file
names the folder, and `newsbot run --once` runs in a child process with a new
NEWSBOT_DATA_DIR and no REDIS_URL (the embedded Valkey it starts). Printed per size: wall
time from the command's start to its exit (store start, reading the folder, analysis,
grouping, rules, delivery to stdout), articles per second, the command's own last line, and
the child's CPU (RUSAGE_CHILDREN: the command's own, and the store's only where the
command waits for the store it started). The baseline is the smallest size in
the same run: the cost per article at each larger size is printed as a ratio of it, so the
figure says how the whole path scales with the window, whatever the machine's load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stories_speed import Synth  # a sibling script, not a package
from wordfreq import top_n_list

REPO = Path(__file__).resolve().parents[1]
SPAN = timedelta(hours=60)


def write_folder(folder: Path, size: int, *, seed: int = 7) -> None:
    """`size` seed files in `folder`, in time order over the last SPAN."""
    folder.mkdir(parents=True)
    words = [w for w in top_n_list("en", 20000) if w.isalpha() and w.isascii()]
    synth = Synth(seed, common=words[:1000], named=words[2000:])
    start = datetime.now(UTC) - SPAN - timedelta(minutes=5)
    step = SPAN / size
    for i in range(size):
        at = start + step * i
        article = synth.article(at=at, join=i % 2 == 1)
        stamp = int(at.timestamp() * 1000)
        (folder / f"{i:07d}.txt").write_text(
            f"<!--{stamp}-->\n[{article.title}]({article.url})\n------\n\n<p>{article.text}</p>\n",
            encoding="utf-8")


def run_once(work: Path) -> tuple[float, float, str]:
    """Wall seconds, child CPU seconds and the last stderr line of one `run --once`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.pop("REDIS_URL", None)
    env.update(NEWSBOT_DATA_DIR=str(work / "data"), NEWSBOT_FEEDS=str(work / "feeds.yaml"),
               NEWSBOT_RULES_DIR=str(REPO / "rules"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "run", "--once"], cwd=work, env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"run --once exited {done.returncode}:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return wall, cpu, last


def main() -> None:
    """Replay each size once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--keep", type=Path, help="write the folders here and keep them")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    root = args.keep or Path(tempfile.mkdtemp(prefix="newsbot-replay-"))
    print(f"newsbot run --once over synthetic replay folders; embedded store; {os.cpu_count()} "
          "cores")
    base: float | None = None
    try:
        for size in sizes:
            work = root / f"replay-{size}"
            if work.exists():
                shutil.rmtree(work)
            began = time.perf_counter()
            write_folder(work / "articles", size)
            wrote = time.perf_counter() - began
            (work / "feeds.yaml").write_text(
                f"feeds:\n  - path: {work / 'articles'}\n", encoding="utf-8")
            wall, cpu, last = run_once(work)
            per = wall / size
            base = per if base is None else base
            print(f"{size:>7} articles (folder written in {wrote:.1f} s): {wall:8.1f} s wall, "
                  f"{size / wall:6.0f} articles/s, {per * 1e6:6.0f} us an article "
                  f"({per / base:.2f}x the {sizes[0]}-article replay), child CPU {cpu:.1f} s")
            print(f"        {last}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
