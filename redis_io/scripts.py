"""Lua scripts: loaded once from a package's ``lua/`` folder, called by SHA through a channel.

The one way to call a script, sync (``Channel``) or async (``AsyncChannel``): ``EVALSHA`` first, and the
source is loaded only when Redis answers ``NOSCRIPT`` (a restarted, flushed or other server). redis-py's
``Script`` does the same with pipeline checks and argument copies on every call, which the per-task hot
paths would pay for several times per task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from redis.exceptions import NoScriptError

from redis_io.channel import AsyncChannel, Channel

Arg = str | int | float | bytes
_INCLUDE = "-- include: "


@cache
def _read(package: str, name: str) -> str:
    return (files(package) / "lua" / f"{name}.lua").read_text("utf-8")


def _included(package: str, source: str) -> str:
    """Return ``source`` with each ``-- include: NAME`` line replaced by ``{package}/lua/NAME.lua``."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(_INCLUDE):
            lines[i] = _read(package, line.removeprefix(_INCLUDE).strip())
    return "\n".join(lines)


class LuaScript:
    """One Lua script; call it with a ``Channel`` (sync) or ``AsyncChannel`` (``await script.run(...)``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)

    @classmethod
    def load(cls, package: str, name: str, *, prelude: str | None = None) -> LuaScript:
        """Return ``{package}/lua/{name}.lua``, with ``{package}/lua/{prelude}.lua`` (shared helpers) in front.

        A line ``-- include: other`` in the script is replaced by ``{package}/lua/other.lua``: helpers that only
        a slow path needs go after its fast path's early return, so the fast path never builds their closures.
        """
        source = _included(package, _read(package, name))
        if prelude is not None:
            source = _read(package, prelude) + "\n" + source
        return cls(source)

    def command(self, keys: Sequence[Arg], args: Sequence[Arg]) -> tuple[Any, ...]:
        """Return the ``EVALSHA`` command, for ``execute_many`` batches."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def __call__(self, channel: Channel, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run the script on a sync channel and return its raw reply."""
        try:
            return channel.execute(*self.command(keys, args))
        except NoScriptError:
            channel.execute("SCRIPT", "LOAD", self.source)
            return channel.execute(*self.command(keys, args))

    async def run(self, channel: AsyncChannel, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run the script on an async channel and return its raw reply."""
        try:
            return await channel.execute(*self.command(keys, args))
        except NoScriptError:
            await channel.execute("SCRIPT", "LOAD", self.source)
            return await channel.execute(*self.command(keys, args))

    async def run_many(self, channel: AsyncChannel, calls: Sequence[tuple[Sequence[Arg], Sequence[Arg]]]) -> list[Any]:
        """Run the script once per ``(keys, args)`` in one round trip; an error reply stays in its place.

        Not atomic across calls: each call is its own script run, as in a non-transactional pipeline.
        """
        replies = await channel.execute_many(*(self.command(k, a) for k, a in calls))
        if any(isinstance(reply, NoScriptError) for reply in replies):
            await channel.execute("SCRIPT", "LOAD", self.source)
            replies = await channel.execute_many(*(self.command(k, a) for k, a in calls))
        return replies
