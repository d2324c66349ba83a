"""Replays through the real command line are reproducible: `newsbot run --once` over one folder,
three times on fresh stores and with different PYTHONHASHSEED values, groups the articles into
the same stories every time (compared as sets of sets of article paths; story ids are random)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import redis

from bot.feeds.seeds import read_seed_folder
from tests.conftest import REPO, SEEDS
from tests.test_cli import _env, _newsbot

DEV = REPO / "tests" / "data" / "dev"
SHARED_STAMP = 1729511224000  # 2024-10-21 11:47 UTC, the time of seed 001
HOSTS = ("www.dw.com", "www.voachinese.com", "www.bbc.com", "www.rfi.fr", "www.zaobao.com.sg",
         "www.rfa.org")
HASH_SEEDS = ("1", "4242", "31337")

Grouping = frozenset[frozenset[str]]


def _copy_restamped(folder: Path) -> int:
    """Copy the seeds and dev articles into `folder`, every third dated one restamped to
    SHARED_STAMP; returns how many now share it."""
    shared = dated = 0
    for source in sorted([*SEEDS.iterdir(), *DEV.iterdir()]):
        text = source.read_text(encoding="utf-8")
        if re.match(r"<!--\d+-->", text):
            dated += 1
            if dated % 3 == 0:
                text = f"<!--{SHARED_STAMP}-->" + text[text.index("\n"):]
                shared += 1
        (folder / source.name).write_text(text, encoding="utf-8")
    return shared


def _add_mixes(folder: Path, count: int) -> None:
    """`count` more articles (the same every time) made of sentences of the dev articles, at
    one of three times, so that many stories share terms and times: ties everywhere."""
    articles = [*read_seed_folder(SEEDS)[0], *read_seed_folder(DEV)[0]]
    sentences = [s.strip() for a in articles for s in re.split(r"(?<=[。！？])", a.text)
                 if len(s.strip()) > 12 and "\n" not in s.strip()]
    rng = random.Random(20241021)
    for i in range(count):
        title = rng.choice(sentences)[:24].replace("[", "").replace("]", "")
        stamp = SHARED_STAMP + rng.randrange(3) * 3_600_000
        body = "".join(rng.sample(sentences, 5))
        (folder / f"mix_{i:04d}.txt").write_text(
            f"<!--{stamp}-->\n[{title} ({i})](https://{rng.choice(HOSTS)}/zh/mix-{i})\n"
            f"------\n\n<p>{body}</p>\n", encoding="utf-8")


def _grouping(tmp_path: Path, folder: Path, *, redis_url: str, prefix: str,
              hash_seed: str) -> Grouping:
    """One replay on a fresh data directory and key prefix: the stories as sets of paths."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - path: {folder}\n")
    env = _env(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=prefix, NEWSBOT_FEEDS=str(feeds),
               NEWSBOT_DATA_DIR=str(tmp_path / f"data-{hash_seed}"), PYTHONHASHSEED=hash_seed)
    run = _newsbot("run", "--once", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    listed = _newsbot("stories", "--since", "100000d", "--json", env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    return frozenset(frozenset(Path(a["path"]).name for a in story["articles"])
                     for story in json.loads(listed.stdout))


def _replays(tmp_path: Path, folder: Path, *, redis_url: str, key_prefix: str
             ) -> list[Grouping]:
    """Three replays of `folder`, one per hash seed; their keys are removed afterwards."""
    try:
        return [_grouping(tmp_path, folder, redis_url=redis_url, prefix=f"{key_prefix}{n}:",
                          hash_seed=seed) for n, seed in enumerate(HASH_SEEDS)]
    finally:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        for key in client.scan_iter(match=f"{key_prefix}*", count=1000):
            client.delete(key)
        client.close()


def _differences(groupings: list[Grouping]) -> str:
    """The stories some replays made and others did not, per replay, for a failure message."""
    common = frozenset.intersection(*groupings)
    return "\n".join(f"replay {n} (PYTHONHASHSEED={seed}), {len(g)} stories, its own: "
                     f"{sorted(sorted(s) for s in g - common)}"
                     for n, (seed, g) in enumerate(zip(HASH_SEEDS, groupings, strict=True)))


def test_replaying_the_dev_articles_groups_them_the_same_way_every_time(
        tmp_path: Path, redis_url: str, key_prefix: str) -> None:
    """The seeds and dev articles, a third of the dated ones restamped to one shared time,
    replayed three times (fresh store, other hash seed) give the same stories."""
    folder = tmp_path / "articles"
    folder.mkdir()
    assert _copy_restamped(folder) >= 5
    groupings = _replays(tmp_path, folder, redis_url=redis_url, key_prefix=key_prefix)
    assert len(set(groupings)) == 1, _differences(groupings)
    assert sum(map(len, groupings[0])) >= 0.9 * len(list(folder.iterdir()))  # few copies


def test_replaying_a_crowded_folder_groups_it_the_same_way_every_time(
        tmp_path: Path, redis_url: str, key_prefix: str) -> None:
    """The same with 150 more articles mixed from their sentences at three shared times, so
    that candidate stories tie: still the same stories on every replay."""
    folder = tmp_path / "articles"
    folder.mkdir()
    _copy_restamped(folder)
    _add_mixes(folder, 150)
    groupings = _replays(tmp_path, folder, redis_url=redis_url, key_prefix=key_prefix)
    assert len(set(groupings)) == 1, _differences(groupings)
    assert sum(map(len, groupings[0])) >= 0.9 * len(list(folder.iterdir()))  # few copies
