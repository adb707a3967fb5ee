"""One run per data directory, and the webhook secret a system signs with."""

from __future__ import annotations

import base64
import socket
import stat
from pathlib import Path

import pytest

from config import ConfigError
from config.settings import settings_from_mapping
from config.webhook_secret import webhook_secret
from taskgate.instance import InstanceLock, check_port_free


def test_a_second_lock_on_the_data_directory_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path)
    first.acquire()
    with pytest.raises(ConfigError, match=r"another taskgate run \(pid \d+\) uses the data directory"):
        InstanceLock(tmp_path).acquire()
    first.release()
    again = InstanceLock(tmp_path)
    again.acquire()
    again.release()


def test_a_port_in_use_is_refused_naming_the_setting() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port} is in use.*TASKGATE_PORT"):
            check_port_free("127.0.0.1", port, "the gateway", "TASKGATE_PORT")


def test_the_secret_is_generated_once_with_mode_0600_and_read_back_alike(tmp_path: Path) -> None:
    settings = settings_from_mapping({"data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="no webhook secret"):
        webhook_secret(settings)
    made = webhook_secret(settings, create=True)
    assert made is not None
    assert made.startswith("whsec_")
    assert len(base64.b64decode(made.removeprefix("whsec_"))) == 32
    assert stat.S_IMODE((tmp_path / "webhook_secret").stat().st_mode) == 0o600
    assert webhook_secret(settings, create=True) == webhook_secret(settings) == made


def test_a_configured_secret_wins_and_only_the_setting_makes_events_unsigned(tmp_path: Path) -> None:
    given = "whsec_" + base64.b64encode(b"k" * 24).decode()
    assert webhook_secret(settings_from_mapping({"data_dir": str(tmp_path), "webhooks": {"secret": given}})) == given
    unsigned = settings_from_mapping({"data_dir": str(tmp_path), "webhooks": {"unsigned": True}})
    assert webhook_secret(unsigned, create=True) is None
    assert not (tmp_path / "webhook_secret").exists()
