"""``system.*`` tasks: no engine; for health checks, diagnostics and benchmarks."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time
from typing import Annotated, Any, Literal

import msgspec

from actors.spec import always, task
from actors.worker.runtime import TaskRun


class PingInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``system.ping`` takes no input."""


class PingOutput(msgspec.Struct, kw_only=True):
    """``system.ping`` answers ``pong``."""

    pong: bool


class SleepInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``system.sleep``: how long, and how the time is spent."""

    seconds: Annotated[float, msgspec.Meta(ge=0, le=86400)]
    mode: Literal["python", "subprocess", "subprocess_blocking", "c"] = "python"
    # Diagnostics of the monitor's tiers: "subprocess_blocking" waits on a child without checkpoints,
    # "c" sleeps inside a C call that holds the GIL (no Python thread of the process runs meanwhile).
    gpu: bool = False


class SleepOutput(msgspec.Struct, kw_only=True):
    """Output of ``system.sleep``."""

    slept_s: float


@task("system.ping", queue="system", input=PingInput, output=PingOutput)
def ping(run: TaskRun, params: PingInput) -> PingOutput:
    """Answer pong: proves a worker picks tasks up and the lifecycle records them."""
    return PingOutput(pong=True)


def _sleep_gpu(_settings: Any, params: SleepInput | None) -> bool:
    """GPU rule of ``system.sleep``: a lease only when the input asks for one."""
    return bool(params is not None and params.gpu)


def _sleep_holding_gil(seconds: float) -> None:
    # PyDLL calls keep the GIL (CDLL would release it): libc's usleep blocks every thread of the process.
    libc = ctypes.PyDLL(None)
    libc.usleep.argtypes = [ctypes.c_uint]
    remaining_us = int(seconds * 1_000_000)
    while remaining_us > 0:
        step = min(remaining_us, 900_000)  # usleep takes less than a second per call
        libc.usleep(step)
        remaining_us -= step


def _sleep_in_child(run: TaskRun, seconds: float) -> None:
    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    (run.output_dir / "child.pid").write_text(str(child.pid))
    child.wait()


@task("system.sleep", queue="system", input=SleepInput, output=SleepOutput, gpu=_sleep_gpu)
def sleep(run: TaskRun, params: SleepInput) -> SleepOutput:
    """Spend ``seconds`` in Python (checkpointing and reporting progress) or in a child process."""
    started = time.monotonic()
    if params.mode == "c":
        _sleep_holding_gil(params.seconds)
    elif params.mode == "subprocess_blocking":
        _sleep_in_child(run, params.seconds)
    elif params.mode == "subprocess":
        run.run_subprocess([sys.executable, "-c", f"import time; time.sleep({params.seconds})"], what="sleep")
    else:
        while (elapsed := time.monotonic() - started) < params.seconds:
            run.checkpoint()
            run.progress(elapsed / params.seconds if params.seconds else 1.0)
            time.sleep(min(0.05, params.seconds - elapsed))
    return SleepOutput(slept_s=round(time.monotonic() - started, 3))


class GpuHoldInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``system.gpu_hold``: how long to hold a GPU lease, and how much memory it asks for."""

    seconds: Annotated[float, msgspec.Meta(ge=0, le=86400)]
    # MiB the lease asks on memory-weighted devices (default: the task's declared amount); slot devices give 1 slot
    memory_mb: Annotated[int, msgspec.Meta(ge=1, le=16 * 1024 * 1024)] | None = None


class GpuHoldOutput(msgspec.Struct, kw_only=True):
    """Output of ``system.gpu_hold``: the device held and for how long."""

    device: int | None
    held_s: float
    memory_mb: int | None = None  # MiB granted on a memory-weighted device


@task("system.gpu_hold", queue="system", input=GpuHoldInput, output=GpuHoldOutput, gpu=always)
def gpu_hold(run: TaskRun, params: GpuHoldInput) -> GpuHoldOutput:
    """Take a GPU lease and hold it for ``seconds`` (lock-health checks and benchmarks); cancellable."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < params.seconds:
        run.checkpoint()
        run.progress(elapsed / params.seconds)
        time.sleep(min(0.05, params.seconds - elapsed))
    return GpuHoldOutput(
        device=run.gpu_device, held_s=round(time.monotonic() - started, 3), memory_mb=run.gpu_memory_mb
    )
