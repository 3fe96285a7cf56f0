"""Running for real: the Dockerfile, compose.yaml, .dockerignore and the systemd unit.

The image is built only where a Docker engine answers (`docker info`); elsewhere that test is
skipped with the reason. The files themselves are checked everywhere.
"""

import configparser
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _docker_engine() -> str | None:
    """Why the image cannot be built here, or None when a Docker engine answers."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        info = subprocess.run(["docker", "info"], check=False, capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        return "no Docker engine answers `docker info` (client only)"
    return None


@pytest.mark.slow
def test_image_builds_and_runs_as_a_non_root_user() -> None:
    reason = _docker_engine()
    if reason:
        pytest.skip(f"cannot build the image: {reason}")
    tag = f"loa-test:{uuid.uuid4().hex[:12]}"
    try:
        subprocess.run(["docker", "build", "--quiet", "-t", tag, str(ROOT)], check=True,
                       capture_output=True, timeout=1200)
        inspect = subprocess.run(
            ["docker", "image", "inspect", "--format",
             "{{.Config.User}}|{{json .Config.Healthcheck.Test}}", tag],
            check=True, capture_output=True, text=True, timeout=60).stdout
        user, healthcheck = inspect.strip().split("|", 1)
        assert user == "loa"
        assert "/healthz" in healthcheck
        probe = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", tag, "python", "-c",
             ("import importlib.util, os, bot; "
              "print(os.getuid(), importlib.util.find_spec('pytest') is None)")],
            check=True, capture_output=True, text=True, timeout=120).stdout.split()
        assert probe[0] != "0"  # not root
        assert probe[1] == "True"  # the dev extra is not installed
        _serves_health_and_metrics(tag)
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], check=False, capture_output=True,
                       timeout=120)


# Run inside the container: the status and body of one GET on the health and metrics server.
_GET = ("import sys, urllib.request, urllib.error\n"
        "try:\n"
        "    r = urllib.request.urlopen('http://127.0.0.1:9464' + sys.argv[1], timeout=5)\n"
        "    print(r.status); print(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code); print(e.read().decode())\n"
        "except OSError:\n"
        "    print(0)\n")


def _serves_health_and_metrics(tag: str) -> None:
    """The image's bot (the console channel, stdin held open, no network) answers /healthz 200
    and serves /metrics once it is up; the image's own HEALTHCHECK command passes."""
    name = f"loa-test-{uuid.uuid4().hex[:12]}"
    subprocess.run(["docker", "run", "-d", "-i", "--name", name, "--network", "none", tag],
                   check=True, capture_output=True, timeout=120)
    try:
        def get(path: str) -> tuple[int, str]:
            out = subprocess.run(["docker", "exec", name, "python", "-c", _GET, path],
                                 check=False, capture_output=True, text=True, timeout=60).stdout
            status, _, body = out.partition("\n")
            return int(status or 0), body

        deadline = time.monotonic() + 120
        while (health := get("/healthz"))[0] != 200:
            assert time.monotonic() < deadline, f"/healthz never answered 200: {health}"
            time.sleep(0.5)  # polling a process in another container: no event to wait on
        assert json.loads(health[1])["status"] == "ok"
        status, metrics = get("/metrics")
        assert status == 200 and "loa_outbox_messages" in metrics
        check = subprocess.run(
            ["docker", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", tag],
            check=True, capture_output=True, text=True, timeout=60).stdout
        command = json.loads(check)[1:]  # ["CMD", "python", "-c", "..."]
        assert subprocess.run(["docker", "exec", name, *command], check=False,
                              capture_output=True, timeout=60).returncode == 0
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True,
                       timeout=120)


def test_dockerfile_is_slim_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("\nFROM ") + text.startswith("FROM ") == 1
    assert "FROM python:3.11-slim" in text
    assert "\nUSER loa\n" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "pip install ." in text and "[dev]" not in text
    assert 'CMD ["python", "bot.py", "run"]' in text


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".env", ".git", ".venv", "data/*.db", "tests"):
        assert pattern in lines, pattern


def test_compose_file_names_the_services_and_volume() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "loa"}
    assert services["db"]["image"] == "postgres:16"
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert set(compose["volumes"]) == {"pgdata"}
    loa = services["loa"]
    assert loa["build"] == "."
    assert loa["env_file"] == ".env"
    assert loa["depends_on"]["db"]["condition"] == "service_healthy"
    assert "@db:5432/loa" in loa["environment"]["DATABASE_URL"]
    assert loa["environment"]["DATABASE_URL"].startswith("postgresql://")


def test_systemd_unit() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are cased
    unit.read(ROOT / "deploy" / "loa.service", encoding="utf-8")
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/")
    assert service["User"] == "loa" and service["WorkingDirectory"]
    assert service["ExecStart"].endswith("bot.py run")
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"].endswith("/data")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
