import msgspec

from actors.registry import QUEUES, REGISTRY
from actors.worker.app import build_broker
from config import load_settings


def test_every_registered_task_is_a_declared_actor_on_its_queue() -> None:
    broker, _ = build_broker(load_settings({"TASKGATE_REDIS_URL": "redis://127.0.0.1:1/0"}))
    try:
        platform_actors = {name for name in broker.actors if name.startswith("taskgate.")}
        assert set(broker.actors) - platform_actors == set(REGISTRY)
        for name, spec in REGISTRY.items():
            assert broker.get_actor(name).queue_name == spec.queue
            assert spec.queue in QUEUES
    finally:
        broker.close()


def test_task_names_are_namespaced_by_their_service_queue() -> None:
    for name, spec in REGISTRY.items():
        # a pipeline's own stage only gathers its stages' artifacts: it runs on the system queue
        expected = "system" if name.startswith("pipeline.") else name.split(".")[0]
        assert spec.queue == expected, name


def test_input_structs_forbid_unknown_fields() -> None:
    for spec in REGISTRY.values():
        assert spec.input_type.__struct_config__.forbid_unknown_fields, spec.name
        assert issubclass(spec.output_type, msgspec.Struct)


def test_the_gateway_never_imports_heavy_engines() -> None:
    import subprocess
    import sys

    heavy = ("torch", "onnxruntime", "faster_whisper", "rapidocr", "pyannote", "ctranslate2", "openai", "piper")
    code = f"import sys, gateway.app; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_per_task_settings_must_name_registered_tasks() -> None:
    import pytest

    from actors.registry import check_task_names
    from config import ConfigError

    check_task_names(load_settings({"TASKGATE_TASK_RETRIES": "{system.ping: {max_retries: 1}}"}))
    with pytest.raises(ConfigError, match=r"task_retries: unknown task_name 'system\.pong'"):
        check_task_names(load_settings({"TASKGATE_TASK_RETRIES": "{system.pong: {max_retries: 1}}"}))
    levels = "{nope.task: {warning: 1, soft_timeout: 2, hard_timeout: 3}}"
    with pytest.raises(ConfigError, match=r"task_timeout_levels: unknown task_name 'nope\.task'"):
        check_task_names(load_settings({"TASKGATE_GPU_LOCK_MONITOR__TASK_TIMEOUT_LEVELS": levels}))
    api_keys = '[{name: bob, key_sha256: "' + "0" * 64 + '", limits: {per_task: {system.pong: {max_queued: 1}}}}]'
    with pytest.raises(ConfigError, match=r"auth.api_keys\[bob\].limits.per_task: unknown task_name 'system\.pong'"):
        check_task_names(load_settings({"TASKGATE_AUTH__API_KEYS": api_keys}))
