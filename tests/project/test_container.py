"""The container image and compose file: built and started where a container runtime works.

Skipped, with the reason, where `docker info` does not succeed (no daemon, no permission)
or compose is missing: building needs a daemon and the base images from a registry.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _runtime_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return f"no working container runtime: `docker info` says: {last}"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    if compose.returncode != 0:
        return "no `docker compose` plugin"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dockerfile_runs_as_a_non_root_user_on_a_pinned_slim_base() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert bases and all(b.startswith("python:3.") and "-slim" in b for b in bases)
    assert all(b.split(":", 1)[1][0].isdigit() and b.count(".") >= 2 for b in bases)  # 3.x.y
    assert "USER accord" in text and 'ENTRYPOINT ["accord"]' in text
    assert '"serve"' in text and "pip install ." in text  # the pins of pyproject.toml
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["init"]["command"] == ["init"]  # `accord init`: the migrations
    assert services["init"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["accord"]["command"][0] == "serve"
    assert services["accord"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["db"]["image"].split(":", 1)[1][0].isdigit()  # PostgreSQL pinned
    url = services["accord"]["environment"]["ACCORD_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and url.endswith("@db:5432/accord")


@pytest.mark.slow
def test_compose_brings_up_accord_serve_on_postgresql_with_migrations_applied() -> None:
    problem = _runtime_problem()
    if problem is not None:
        pytest.skip(problem)
    project = f"accord-test-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = {**os.environ, "ACCORD_PORT": str(port)}
    base = ["docker", "compose", "-p", project, "-f", str(ROOT / "compose.yaml")]
    try:
        subprocess.run([*base, "up", "-d", "--build"], check=True, env=env, timeout=1800)
        deadline = time.monotonic() + 180
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(2)
        assert b'"ok"' in body, "accord serve did not answer /healthz within 180 s"
        # The migrations were applied by the init service: serve refuses an old schema.
        logs = subprocess.run([*base, "logs", "init"], capture_output=True, text=True, env=env)
        assert "schema" in logs.stdout
    finally:
        subprocess.run([*base, "down", "-v"], capture_output=True, env=env, timeout=300)
