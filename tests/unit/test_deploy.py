"""The compose file and Dockerfile stay in step with the code (no Docker engine runs here)."""

from pathlib import Path

import yaml

from actors.registry import QUEUES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GPU_QUEUES = {"faster_whisper", "pyannote_audio", "paddleocr", "inpainting"}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def queues_of(service: dict) -> set[str]:
    command = service.get("command", [])
    return set(command[command.index("--queues") + 1 :]) if "--queues" in command else set()


def test_every_queue_has_a_worker_service() -> None:
    services = compose()["services"]
    served = set().union(*(queues_of(s) for s in services.values()))
    assert set(QUEUES) <= served


def test_gpu_services_reserve_a_gpu_and_cpu_services_do_not() -> None:
    for name, service in compose()["services"].items():
        reserved = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        wants_gpu = bool(queues_of(service) & GPU_QUEUES)
        assert bool(reserved) == wants_gpu, name
        if wants_gpu:
            assert reserved[0]["capabilities"] == ["gpu"]


def test_every_taskgate_service_shares_the_storage_root_and_reaches_redis() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        if name == "redis":
            continue
        assert "share:/share" in service["volumes"], name
        assert "redis" in service["networks"], name
        assert service["environment"]["TASKGATE_SHARE_DIR"] == "/share"
    assert doc["networks"]["redis"]["external"] is True
    assert doc["services"]["redis"]["profiles"] == ["local-redis"]


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for package in ("config", "state", "gpu_lock", "actors", "gateway", "monitor", "taskgate"):
        assert f"COPY {package} ./{package}" in dockerfile
