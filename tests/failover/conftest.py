"""Fixtures of the failover tests: a primary, a replica and three sentinels, killed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.failover.sentinels import SentinelSet


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """A primary with one replica, watched by three sentinels that agree on both."""
    root = tmp_path / "redis"
    root.mkdir()
    redis_set = SentinelSet(root)
    try:
        redis_set.start()
        yield redis_set
    finally:
        redis_set.stop()
