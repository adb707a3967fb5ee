"""The Lua scripts: read from ``gpu_lock/lua`` on first use, registered once per client."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Generic, TypeVar

S = TypeVar("S")


@cache
def script_source(name: str) -> str:
    """Return a script's source with the shared helpers of ``lib.lua`` in front."""
    lua = files("gpu_lock") / "lua"
    return (lua / "lib.lua").read_text("utf-8") + "\n" + (lua / f"{name}.lua").read_text("utf-8")


class Scripts(Generic[S]):
    """The registered scripts of one client (EVALSHA, with a NOSCRIPT fallback to EVAL)."""

    def __init__(self, register: Callable[[str], S]) -> None:
        self.acquire = register(script_source("acquire"))
        self.renew = register(script_source("renew"))
        self.release = register(script_source("release"))
        self.force_release = register(script_source("force_release"))
        self.leave = register(script_source("leave"))
