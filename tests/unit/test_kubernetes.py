"""deploy/kubernetes: both overlays render, validate offline and stay in step with the code.

Built-in kinds are checked by kubernetes-validate's bundled schemas (strict: unknown fields fail); KEDA's
ScaledObject is not among them and is checked against tests/unit/keda_schema.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from actors.registry import QUEUES, REGISTRY, always
from config import keys, load_settings
from taskgate import supervisor
from tests.unit.keda_schema import SCALED_OBJECT
from tests.unit.kustomize import pod_spec, render

OVERLAYS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "overlays"
KUBERNETES_VERSION = "1.30.0"
GPU_QUEUES = {"faster_whisper", "pyannote_audio", "paddleocr", "inpainting"}


@pytest.fixture(scope="module", params=["cpu", "gpu"])
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(OVERLAYS / request.param)


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(doc)["containers"]
    return only


def queue_of(doc: dict[str, Any]) -> str | None:
    """Return the one queue a worker Deployment serves (None for the gateway and the monitor)."""
    command = container(doc)["command"]
    return command[-1] if "--queues" in command and command.index("--queues") == len(command) - 2 else None


def workers(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return queue -> the worker Deployment serving it (its command's --queues)."""
    served = {}
    for doc in of_kind(docs, "Deployment").values():
        command = container(doc)["command"]
        if "worker" in command:
            for queue in command[command.index("--queues") + 1 :]:
                assert queue not in served, f"{queue} served by two Deployments"
                served[queue] = doc
    return served


def test_every_document_validates(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    for doc in docs:
        if doc["kind"] == "ScaledObject":
            jsonschema.validate(doc, SCALED_OBJECT)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_queue_has_one_worker_deployment_and_gpu_queues_request_a_gpu(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = overlay
    served = workers(docs)
    assert set(served) == set(QUEUES)
    for queue, doc in served.items():
        limits = container(doc)["resources"].get("limits", {})
        wants_gpu = name == "gpu" and queue in GPU_QUEUES
        assert ("nvidia.com/gpu" in limits) == wants_gpu, queue
        assert pod_spec(doc)["terminationGracePeriodSeconds"] > supervisor._STOP_GRACE_S, queue


def test_each_worker_deployment_scales_on_its_dramatiq_lists(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    scaled = {so["spec"]["scaleTargetRef"]["name"]: so for so in of_kind(docs, "ScaledObject").values()}
    env = of_kind(docs, "ConfigMap")["taskgate-env"]["data"]
    for queue, doc in workers(docs).items():
        triggers = scaled[doc["metadata"]["name"]]["spec"]["triggers"]
        lists = {t["metadata"]["listName"] for t in triggers}
        assert lists == {keys.dramatiq_queue(queue), keys.dramatiq_queue(queue) + ".DQ", keys.lanes_queued(queue)}
        assert all(t["metadata"]["addressFromEnv"] in env for t in triggers)
    assert len(scaled) == len(QUEUES)


def test_every_pod_gets_settings_that_load(overlay: tuple[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    _, docs = overlay
    maps = of_kind(docs, "ConfigMap")
    config_file = tmp_path / "config.yml"
    config_file.write_text(maps["taskgate-config"]["data"]["config.yml"])
    for name, doc in of_kind(docs, "Deployment").items():
        spec = container(doc)
        environ = {}
        for source in spec["envFrom"]:
            environ |= maps[source["configMapRef"]["name"]]["data"]
        environ |= {e["name"]: e["value"] for e in spec.get("env", [])}
        mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
        assert mounts[str(Path(environ["TASKGATE_CONFIG"]).parent)] == "config", name
        settings = load_settings({**environ, "TASKGATE_CONFIG": str(config_file)})
        assert settings.redis_url, name
        assert settings.share_dir == "/share", name
        if name != "monitor":
            assert mounts["/share"] == "share", name
        if queue := queue_of(doc):
            # A pod given a GPU runs its queue's engines on it (so their tasks take a lease); others do not.
            # system.gpu_hold always takes a lease and needs no device: it is a lock diagnostic.
            gpu = "nvidia.com/gpu" in spec["resources"].get("limits", {})
            engines = [s for s in REGISTRY.values() if s.queue == queue and s.gpu_rule is not always]
            assert any(s.uses_gpu(settings) for s in engines) == gpu, name


def test_the_share_volume_is_read_write_many(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    (claim,) = of_kind(docs, "PersistentVolumeClaim").values()
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for doc in of_kind(docs, "Deployment").values():
        for volume in pod_spec(doc)["volumes"]:
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_gateway_probes_health_and_leaves_the_monitor_to_its_own_deployment(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = overlay
    deployments = of_kind(docs, "Deployment")
    gateway = container(deployments["gateway"])
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e["value"] for e in gateway["env"]}
    assert env["TASKGATE_GPU_LOCK_MONITOR__ENABLED"] == "false"
    assert container(deployments["monitor"])["command"] == ["python", "-m", "monitor"]
    assert deployments["monitor"]["spec"]["replicas"] >= 2  # a follower takes over through the leader lease


def test_every_deployment_has_a_disruption_budget_selecting_its_pods(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = overlay
    budgets = [pdb["spec"]["selector"]["matchLabels"] for pdb in of_kind(docs, "PodDisruptionBudget").values()]
    for name, doc in of_kind(docs, "Deployment").items():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if b.items() <= labels.items()]
        assert len(matching) == 1, name
