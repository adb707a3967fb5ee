"""``system.*`` tasks: no engine; for health checks, diagnostics and benchmarks."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Literal

import msgspec

from actors.registry import task
from actors.runtime import TaskRun


class PingInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``system.ping`` takes no input."""


class PingOutput(msgspec.Struct, kw_only=True):
    """``system.ping`` answers ``pong``."""

    pong: bool


class SleepInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``system.sleep``: how long, and how the time is spent."""

    seconds: Annotated[float, msgspec.Meta(ge=0, le=86400)]
    mode: Literal["python", "subprocess"] = "python"


class SleepOutput(msgspec.Struct, kw_only=True):
    """Output of ``system.sleep``."""

    slept_s: float


@task("system.ping", queue="system", input=PingInput, output=PingOutput)
def ping(run: TaskRun, params: PingInput) -> PingOutput:
    """Answer pong: proves a worker picks tasks up and the lifecycle records them."""
    return PingOutput(pong=True)


@task("system.sleep", queue="system", input=SleepInput, output=SleepOutput)
def sleep(run: TaskRun, params: SleepInput) -> SleepOutput:
    """Spend ``seconds`` in Python (checkpointing and reporting progress) or in a child process."""
    started = time.monotonic()
    if params.mode == "subprocess":
        run.run_subprocess([sys.executable, "-c", f"import time; time.sleep({params.seconds})"], what="sleep")
    else:
        while (elapsed := time.monotonic() - started) < params.seconds:
            run.checkpoint()
            run.progress(elapsed / params.seconds if params.seconds else 1.0)
            time.sleep(min(0.05, params.seconds - elapsed))
    return SleepOutput(slept_s=round(time.monotonic() - started, 3))
