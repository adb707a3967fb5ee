"""The compose file and Dockerfile stay in step with the code (no Docker engine runs here).

The compose file is read through ``docker-compose config`` (Debian's docker-compose 1.29), a real parser
that resolves the anchors, merges and defaults the way Compose does.
"""

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from actors.registry import QUEUES
from taskgate import supervisor

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GPU_QUEUES = {"faster_whisper", "pyannote_audio", "paddleocr", "inpainting"}
INSTALL_HINT = "docker-compose not found: apt-get install docker-compose (Debian's 1.29 parses compose files offline)"


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(INSTALL_HINT)
    done = subprocess.run(
        [binary, "-f", str(DEPLOY / "compose.yaml"), "-p", "taskgate", "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},  # the defaults in the file, not this shell's TASKGATE_* variables
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def queues_of(service: dict) -> set[str]:
    command = service.get("command", [])
    return set(command[command.index("--queues") + 1 :]) if "--queues" in command else set()


def test_every_queue_has_a_worker_service(compose: dict) -> None:
    served = set().union(*(queues_of(s) for s in compose["services"].values()))
    assert set(QUEUES) <= served


def test_gpu_services_reserve_a_gpu_and_cpu_services_do_not(compose: dict) -> None:
    for name, service in compose["services"].items():
        reserved = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        wants_gpu = bool(queues_of(service) & GPU_QUEUES)
        assert bool(reserved) == wants_gpu, name
        if wants_gpu:
            assert reserved[0]["capabilities"] == ["gpu"]


def test_every_taskgate_service_shares_the_storage_root_and_reaches_redis(compose: dict) -> None:
    for name, service in compose["services"].items():
        if name == "redis":
            continue
        assert "share:/share:rw" in service["volumes"], name
        assert "data:/data:rw" in service["volumes"], name  # one webhook secret file for every service
        assert "redis" in service["networks"], name
        assert service["environment"]["TASKGATE_SHARE_DIR"] == "/share"
    assert compose["networks"]["redis"]["external"] is True
    assert compose["services"]["redis"]["profiles"] == ["local-redis"]


def test_workers_get_their_drain_before_docker_kills_them(compose: dict) -> None:
    for name, service in compose["services"].items():
        if queues_of(service):
            grace_s = float(service["stop_grace_period"].removesuffix("s"))
            assert grace_s > supervisor._STOP_GRACE_S, name


def test_dockerfile_copies_every_package_setup_cfg_installs() -> None:
    config = configparser.ConfigParser()
    config.read(DEPLOY.parent / "setup.cfg")
    packages = [line.rstrip("*") for line in config["options.packages.find"]["include"].split()]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert packages  # the list was read
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
