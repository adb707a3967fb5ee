from pathlib import Path

import pytest

from config import ConfigError, load_settings


def test_defaults_follow_the_design() -> None:
    settings = load_settings({})
    assert settings.port == 8788
    assert settings.state_ttl_s == 7 * 24 * 3600
    assert settings.gpu_lock_monitor.timeout_levels.warning == 1800
    assert settings.gpu_lock_monitor.timeout_levels.hard_timeout == 7200
    assert [d.index for d in settings.gpu_lock.device_list] == [0]


def test_environment_overrides_nested_keys_with_typed_values() -> None:
    settings = load_settings(
        {"TASKGATE_PORT": "9000", "TASKGATE_GPU_LOCK__POLL_INTERVAL": "0.2", "TASKGATE_GPU_LOCK__DEVICES": "[0, 1]"}
    )
    assert settings.port == 9000
    assert settings.gpu_lock.poll_interval == 0.2
    assert [d.index for d in settings.gpu_lock.device_list] == [0, 1]


def test_yaml_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "taskgate.yml"
    config.write_text(
        "gpu_lock:\n  max_wait_time: 60\ngpu_lock_monitor:\n  timeout_levels: {warning: 10, soft_timeout: 20,"
        " hard_timeout: 30}\n  heartbeat: {interval: 2, timeout: 9}\nport: 7000\n"
    )
    settings = load_settings({"TASKGATE_CONFIG": str(config), "TASKGATE_PORT": "7100"})
    assert settings.gpu_lock.max_wait_time == 60
    assert settings.gpu_lock_monitor.timeout_levels.soft_timeout == 20
    assert settings.gpu_lock_monitor.heartbeat.timeout == 9
    assert settings.port == 7100


def test_unknown_key_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "taskgate.yml"
    config.write_text("gpu_lock:\n  poll_intervall: 1\n")
    with pytest.raises(ConfigError, match=r"poll_intervall.*\$\.gpu_lock"):
        load_settings({"TASKGATE_CONFIG": str(config)})


def test_bad_value_stops_start_up_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\$\.gpu_lock\.poll_interval"):
        load_settings({"TASKGATE_GPU_LOCK__POLL_INTERVAL": "-1"})


def test_tiers_out_of_order_are_refused() -> None:
    with pytest.raises(ConfigError, match="warning <= soft_timeout <= hard_timeout"):
        load_settings({"TASKGATE_GPU_LOCK_MONITOR__TIMEOUT_LEVELS__WARNING": "9000"})


def test_unreadable_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"TASKGATE_CONFIG": str(tmp_path / "missing.yml")})


def test_example_config_documents_a_valid_configuration() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "config.example.yml"
    settings = load_settings({"TASKGATE_CONFIG": str(example)})
    assert settings.gpu_lock.poll_interval > 0


def _missing_keys(struct_type: type, document: dict, prefix: str = "") -> list[str]:
    import msgspec

    missing = []
    for field in msgspec.structs.fields(struct_type):
        path = f"{prefix}{field.encode_name}"
        if field.encode_name not in document:
            missing.append(path)
            continue
        nested = field.type
        if (
            isinstance(nested, type)
            and issubclass(nested, msgspec.Struct)
            and isinstance(document[field.encode_name], dict)
        ):
            missing += _missing_keys(nested, document[field.encode_name], path + ".")
    return missing


def test_example_config_documents_every_key() -> None:
    import typing

    import yaml

    from config.settings import Settings

    example = Path(__file__).resolve().parents[2] / "deploy" / "config.example.yml"
    document = yaml.safe_load(example.read_text())
    typing.get_type_hints(Settings)
    assert _missing_keys(Settings, document) == []


def test_retry_policy_per_task_overrides_the_defaults() -> None:
    settings = load_settings(
        {
            "TASKGATE_MAX_RETRIES": "2",
            "TASKGATE_TASK_RETRIES": "{llm.translate_subtitles: {max_retries: 6, min_backoff_s: 5}}",
        }
    )
    assert settings.retry_policy("system.ping").max_retries == 2
    override = settings.retry_policy("llm.translate_subtitles")
    assert (override.max_retries, override.min_backoff_s, override.max_backoff_s) == (6, 5.0, 60.0)


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("GPU_LOCK_MONITOR__HEARTBEAT__INTERVAL", "1e308", r"\$\.gpu_lock_monitor\.heartbeat\.interval"),
        ("GPU_LOCK__LEASE_TTL", "1e-9", r"\$\.gpu_lock\.lease_ttl"),
        ("GPU_LOCK__POLL_INTERVAL", "0.001", r"\$\.gpu_lock\.poll_interval"),
        ("GPU_LOCK__MAX_WAIT_TIME", "1e12", r"\$\.gpu_lock\.max_wait_time"),
        ("GPU_LOCK__BACKOFF_FACTOR", "1000", r"\$\.gpu_lock\.backoff_factor"),
        ("GPU_LOCK_MONITOR__MONITOR_INTERVAL", "0", r"\$\.gpu_lock_monitor\.monitor_interval"),
        ("GPU_LOCK_MONITOR__TIMEOUT_LEVELS__HARD_TIMEOUT", "1e15", r"\$\.gpu_lock_monitor\.timeout_levels"),
        ("GPU_LOCK__DEVICES", "[{index: 5000}]", r"\$\.gpu_lock\.devices\[0\]\.index"),
    ],
)
def test_live_settings_have_bounds(variable: str, value: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_settings({f"TASKGATE_{variable}": value})


def test_a_heartbeat_timeout_under_two_intervals_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"heartbeat\.timeout .*twice heartbeat\.interval"):
        load_settings(
            {
                "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__INTERVAL": "10",
                "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__TIMEOUT": "15",
            }
        )
    settings = load_settings(
        {
            "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__INTERVAL": "0.2",
            "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__TIMEOUT": "1.5",
        }
    )
    assert settings.gpu_lock_monitor.heartbeat.timeout == 1.5


def test_a_lease_ttl_over_the_lock_timeout_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"lease_ttl .* must be <= gpu_lock\.lock_timeout"):
        load_settings({"TASKGATE_GPU_LOCK__LEASE_TTL": "600", "TASKGATE_GPU_LOCK__LOCK_TIMEOUT": "60"})


def test_sentinels_come_from_a_comma_separated_variable_or_a_yaml_list(tmp_path: Path) -> None:
    settings = load_settings(
        {"TASKGATE_REDIS_SENTINELS": "10.0.0.1:26379, s2:26380,[::1]:26381", "TASKGATE_REDIS_SENTINEL_MASTER": "m"}
    )
    assert settings.sentinel_addresses == [("10.0.0.1", 26379), ("s2", 26380), ("::1", 26381)]
    assert (settings.redis_sentinel_master, settings.redis_configured) == ("m", True)
    config = tmp_path / "taskgate.yml"
    config.write_text("redis_sentinels: [a:1, b]\n")
    listed = load_settings({"TASKGATE_CONFIG": str(config)})
    assert (listed.sentinel_addresses, listed.redis_sentinel_master) == ([("a", 1), ("b", 26379)], "mymaster")
    assert not load_settings({"TASKGATE_REDIS_SENTINELS": ""}).redis_configured


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TASKGATE_REDIS_SENTINELS": "a:1", "TASKGATE_REDIS_URL": "redis://a"}, "not both"),
        ({"TASKGATE_REDIS_SENTINELS": "a:port"}, "is not host:port"),
        ({"TASKGATE_REDIS_SENTINELS": "a:70000"}, "port in 1..65535"),
        ({"TASKGATE_REDIS_SENTINELS": "::1:5"}, r"\[address\]:port"),
        ({"TASKGATE_REDIS_SENTINEL_MASTER": ""}, "redis_sentinel_master"),
    ],
)
def test_bad_sentinel_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)
