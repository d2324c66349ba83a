"""End to end through the real `newsbot` command line: the seeds demo and HTTP feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from bot.feeds.seeds import read_seed_folder
from bot.feeds.sources import feed_id
from tests.conftest import REPO, SEEDS
from tests.feedserver import FeedServer, rss


def _newsbot(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_")) and k != "REDIS_URL"}
    env.update(extra)
    return env


def _alerts(stdout: str) -> list[str]:
    return [block for block in stdout.split("[ALERT] ")[1:]]


def test_demo_prints_two_alerts_then_none_then_starts_over(tmp_path: Path) -> None:
    """The README demo (embedded store): two alerts, none on a rerun, two in a fresh data dir."""
    env = _env(NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FETCH_TIMEOUT="5")
    first = _newsbot("run", "--once", env=env)
    assert first.returncode == 0, first.stderr
    alerts = _alerts(first.stdout)
    assert len(alerts) == 2, first.stdout
    big = next(a for a in alerts if "3 outlets" in a)
    assert "DW · VOA · unknown" in big and "韩国要求朝鲜" in big
    assert any(a.startswith("韩国与欧盟同声强烈谴责朝鲜出兵援俄攻乌") for a in alerts)
    assert "韩国敦促朝俄停止武器贸易" not in first.stdout  # seed 004 matches no rule

    again = _newsbot("run", "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert _alerts(again.stdout) == []

    fresh = _newsbot("run", "--once", env={**env, "NEWSBOT_DATA_DIR": str(tmp_path / "new")})
    assert len(_alerts(fresh.stdout)) == 2


def _seed_feeds(server: FeedServer) -> dict[str, str]:
    """Serve the seeds as RSS, one feed per outlet; returns outlet -> URL."""
    articles, _ = read_seed_folder(SEEDS)
    by_outlet: dict[str, list[dict[str, object]]] = {}
    for a in articles:
        item: dict[str, object] = {"title": a.title, "description": a.text, "guid": a.path}
        if a.url:
            item["link"] = a.url
        if a.published:
            item["pubDate"] = a.published
        by_outlet.setdefault(a.outlet, []).append(item)
    return {outlet: server.add(f"/{outlet}.xml", rss(items, language="zh"))
            for outlet, items in by_outlet.items()}


def test_http_feeds_alert_and_bad_feeds_are_marked_and_skipped(tmp_path: Path, redis_url: str,
                                                                key_prefix: str) -> None:
    """Seeds served over loopback alert twice while malformed, 500 and slow feeds are marked."""
    with FeedServer() as server:
        good = _seed_feeds(server)
        bad = {"malformed": server.add("/bad.xml", b"<rss><channel><item><title>x</ite"),
               "http500": server.add("/500.xml", b"oops", status=500),
               "timeout": server.add("/slow.xml", rss([{"title": "late"}]), delay=3.0)}
        lines = ["feeds:"]
        lines += [f"  - url: {u}\n    outlet: {o if o != 'unknown' else 'BBC'}\n    language: zh"
                  for o, u in good.items()]
        lines += [f"  - url: {u}" for u in bad.values()]
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text("\n".join(lines) + "\n")
        env = _env(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=key_prefix,
                   NEWSBOT_FEEDS=str(feeds), NEWSBOT_FETCH_TIMEOUT="1",
                   NEWSBOT_DATA_DIR=str(tmp_path / "data"))
        result = _newsbot("run", "--once", env=env)
    assert result.returncode == 0, result.stderr
    alerts = _alerts(result.stdout)
    assert len(alerts) == 2, result.stdout + result.stderr
    assert any("3 outlets: DW · VOA · BBC" in a for a in alerts)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for kind, url in bad.items():
            state = client.hgetall(f"{key_prefix}feed:{feed_id(url)}")
            assert state["status"] == "error", (kind, state)
            assert state["errors"] == "1"
        for url in good.values():
            assert client.hget(f"{key_prefix}feed:{feed_id(url)}", "status") == "ok"
        for key in client.scan_iter(match=f"{key_prefix}*"):
            client.delete(key)
    finally:
        client.close()


def test_help_on_every_subcommand() -> None:
    """`--help` works on the program and on every subcommand."""
    env = _env()
    for args in (["--help"], ["run", "--help"], ["stories", "--help"], ["rules", "--help"],
                 ["rules", "check", "--help"], ["stories", "show", "--help"],
                 ["feeds", "--help"], ["feeds", "import", "--help"], ["feeds", "export", "--help"],
                 ["feeds", "list", "--help"], ["outbox", "--help"], ["outbox", "retry", "--help"]):
        result = _newsbot(*args, env=env)
        assert result.returncode == 0 and "usage: newsbot" in result.stdout, args


def test_rules_check_reports_file_line_col(tmp_path: Path) -> None:
    """An invalid rule file makes `rules check` exit 1 naming file:line:col."""
    (tmp_path / "bad.yaml").write_text("topics:\n  - name: t\n    expression: 朝鲜 + \n")
    result = _newsbot("rules", "check", env=_env(NEWSBOT_RULES_DIR=str(tmp_path)))
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:3:" in result.stderr
    ok = _newsbot("rules", "check", env=_env())
    assert ok.returncode == 0 and "topics OK" in ok.stdout


def test_run_polls_on_schedule_and_stops_on_sigterm(tmp_path: Path, redis_url: str,
                                                     key_prefix: str) -> None:
    """`newsbot run` alerts on a new item at the next poll and exits cleanly on SIGTERM."""
    import queue
    import signal
    import threading

    item = {"title": "朝鲜向俄罗斯派兵", "description": "韩国情报机构称朝鲜派兵一万二千人。",
            "link": "https://www.dw.com/zh/a-1", "pubDate": "Mon, 21 Oct 2024 11:00:00 GMT"}
    later = {"title": "Japan and EU agree trade deal", "description": "Tokyo and Brussels.",
             "link": "https://www.dw.com/en/a-2", "pubDate": "Mon, 21 Oct 2024 12:00:00 GMT"}
    third = {"title": "日本抗议朝鲜派兵俄罗斯", "description": "日本政府对朝鲜派兵表示抗议，东京。",
             "link": "https://www.rfi.fr/cn/a-3", "pubDate": "Sat, 02 Nov 2024 12:00:00 GMT"}
    with FeedServer() as server:
        url = server.add("/feed.xml", rss([item], language="zh"))
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {url}\n    interval: 0.5\n")
        env = _env(REDIS_URL=redis_url, NEWSBOT_KEY_PREFIX=key_prefix, NEWSBOT_FEEDS=str(feeds),
                   NEWSBOT_HTTP_PORT="0")
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []],
                         daemon=True).start()

        def next_alert() -> str:
            while True:  # bounded by the queue timeout; raises queue.Empty if nothing comes
                line = lines.get(timeout=30)
                if line.startswith("[ALERT]"):
                    return line

        try:
            assert "朝鲜向俄罗斯派兵" in next_alert()
            server.add("/feed.xml", rss([item, later, third], language="zh"))
            assert "日本抗议朝鲜派兵俄罗斯" in next_alert()
            assert server.count("/feed.xml") >= 2
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert "scheduler: stopped" in stderr
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    for key in client.scan_iter(match=f"{key_prefix}*"):
        client.delete(key)
    client.close()


def test_rules_test_over_a_folder_prints_matches_and_terms() -> None:
    """`rules test --path seeds/` lists the four matching seeds with the matched terms."""
    result = _newsbot("rules", "test", "朝鲜 + 派兵", "--path", "seeds/", env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("MATCH ") == 4 and "[朝鲜, 派兵]" in result.stdout
    assert "4 of 5 articles match" in result.stdout


def test_rules_test_json_has_one_object_per_article() -> None:
    """`--json` gives url, title, file path, matched and terms for every article."""
    result = _newsbot("rules", "test", "@dprk + 弹道导弹", "--path", "seeds/", "--json",
                      env=_env())
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 5 and all({"url", "title", "path", "matched", "terms"} <= set(r)
                                  for r in rows)
    by_file = {Path(r["path"]).name[:3]: r for r in rows}
    assert by_file["004"]["matched"] and by_file["004"]["terms"]


def test_rules_test_with_a_bad_rule_exits_non_zero() -> None:
    """An invalid rule prints the error with its position and exits 2."""
    result = _newsbot("rules", "test", "朝鲜 + (派兵", "--path", "seeds/", env=_env())
    assert result.returncode == 2 and "parentheses" in result.stderr and "^" in result.stderr


def test_rules_test_over_stored_articles_after_a_run(tmp_path: Path) -> None:
    """Without --path, `rules test` reads the articles the bot has stored."""
    env = _env(NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FEEDS=str(tmp_path / "f.yaml"))
    (tmp_path / "f.yaml").write_text(f"feeds:\n  - path: {SEEDS}\n")
    assert _newsbot("run", "--once", env=env).returncode == 0
    result = _newsbot("rules", "test", "北韓 + 派兵", "--since", "3650d", env=env)
    assert result.returncode == 0, result.stderr
    assert "4 of 5 articles match" in result.stdout


def test_stories_list_and_explain_after_the_demo(tmp_path: Path) -> None:
    """`stories --json` lists the seeds' stories; `stories explain` gives each join's score."""
    env = _env(NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FEEDS=str(tmp_path / "f.yaml"))
    (tmp_path / "f.yaml").write_text(f"feeds:\n  - path: {SEEDS}\n")
    assert _newsbot("run", "--once", env=env).returncode == 0
    listed = _newsbot("stories", "--since", "1h", "--json", env=env)
    stories = json.loads(listed.stdout)
    groups = sorted(sorted(Path(a["path"]).name[:3] for a in s["articles"]) for s in stories)
    assert groups == [["000"], ["001", "002", "003"], ["004"]]
    big = next(s for s in stories if len(s["articles"]) == 3)
    why = _newsbot("stories", "explain", big["id"], env=env)
    assert why.returncode == 0 and why.stdout.count(">= 0.") == 2, why.stdout
    missing = _newsbot("stories", "explain", "no-such-story", env=env)
    assert missing.returncode == 1 and "no story" in missing.stderr
    shown = _newsbot("stories", "show", big["id"], env=env)
    lines = shown.stdout.splitlines()
    assert shown.returncode == 0 and lines[0].startswith("[ALERT] "), shown.stdout + shown.stderr
    assert "召见" in lines[2] and "<" not in lines[2]  # the summary, plain text
    assert lines[3] == "  3 outlets: DW · VOA · unknown"
    assert lines[4].startswith("  Matched: ") and "First reported 2024-10-21" in lines[4]
    html = _newsbot("stories", "show", big["id"], "--platform", "telegram", env=env).stdout
    assert html.startswith("<b><a href=") and "3 outlets: " in html
    slack = json.loads(_newsbot("stories", "show", big["id"], "--platform", "slack",
                                env=env).stdout)
    assert [b["type"] for b in slack["blocks"]] == ["section", "section", "context", "context"]
    assert _newsbot("stories", "show", "no-such-story", env=env).returncode == 1


def test_chat_command_adds_a_rule_and_alerts_the_console(tmp_path: Path) -> None:
    """`newsbot chat "/rule add ..."` stores a console rule that the next run alerts on."""
    env = _env(NEWSBOT_DATA_DIR=str(tmp_path / "data"), NEWSBOT_FEEDS=str(tmp_path / "f.yaml"),
               NEWSBOT_RULES_DIR=str(tmp_path / "rules"))
    (tmp_path / "rules").mkdir()
    (tmp_path / "f.yaml").write_text(f"feeds:\n  - path: {SEEDS}\n")
    added = _newsbot("chat", "/rule add @dprk + 弹道导弹", env=env)
    assert added.returncode == 0 and "#1" in added.stdout, added.stdout + added.stderr
    bad = _newsbot("chat", "/rule add (朝鲜", env=env)
    assert bad.returncode == 1 and "column 1" in bad.stdout
    run = _newsbot("run", "--once", env=env)
    assert "韩国敦促朝俄停止武器贸易" in run.stdout  # seed 004 now matches this chat's rule
