"""Every module of every package imports: mypy ignores missing imports, so a stale module path needs this check."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = ("config", "redis_io", "state", "gpu_lock", "actors", "gateway", "monitor", "taskgate")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [m.name for m in pkgutil.walk_packages(path, package + ".") if not m.name.endswith("__main__")]
    return names


@pytest.mark.parametrize("name", _modules())
def test_module_imports(name: str) -> None:
    importlib.import_module(name)
