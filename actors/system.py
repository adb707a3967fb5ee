"""``system.*`` tasks: no engine; for health checks and benchmarks."""

from __future__ import annotations

import msgspec

from actors.registry import task
from actors.runtime import TaskRun


class PingInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``system.ping`` takes no input."""


class PingOutput(msgspec.Struct, kw_only=True):
    """``system.ping`` answers ``pong``."""

    pong: bool


@task("system.ping", queue="system", input=PingInput, output=PingOutput)
def ping(run: TaskRun, params: PingInput) -> PingOutput:
    """Answer pong: proves a worker picks tasks up and the lifecycle records them."""
    return PingOutput(pong=True)
