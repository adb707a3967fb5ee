"""The lock's Lua scripts (``gpu_lock/lua``, each with the helpers of ``lib.lua`` in front), bound to a channel.

The lock calls them through a ``redis_io.Channel`` (``aforce_release`` runs its one script over an
``AsyncChannel``); both send ``EVALSHA`` and load a script only when Redis answers ``NOSCRIPT``
(``redis_io.LuaScript``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from redis_io import Channel, LuaScript

Call = Callable[..., Any]
NAMES = ("acquire", "renew", "release", "force_release", "leave")
SCRIPTS = {name: LuaScript.load("gpu_lock", name, prelude="lib") for name in NAMES}


class Scripts:
    """Every gpu_lock script bound to one channel: ``scripts.acquire(keys=..., args=...)``."""

    def __init__(self, bind: Callable[[LuaScript], Call]) -> None:
        self.acquire = bind(SCRIPTS["acquire"])
        self.renew = bind(SCRIPTS["renew"])
        self.release = bind(SCRIPTS["release"])
        self.force_release = bind(SCRIPTS["force_release"])
        self.leave = bind(SCRIPTS["leave"])


def sync_scripts(channel: Channel) -> Scripts:
    """Return the scripts called through a synchronous channel."""
    return Scripts(lambda script: partial(script, channel))
