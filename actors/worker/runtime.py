"""What a task body sees of the platform while it runs: paths, progress, cancellation, subprocesses."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from actors.errors import EngineFailed, InputFileError, RedisAway, TaskCancelled
from config import Settings
from redis_io.retry import TRANSIENT_ERRORS
from state import PathOutsideRoot, StateStore
from state.retention import join_sweep
from state.storage import relative_to_root, resolve_in_root

T = TypeVar("T")
Runner = Callable[[Awaitable[Any]], Any]

log = structlog.get_logger(__name__)

_PROGRESS_EVERY_S = 0.5
_CANCEL_CHECK_EVERY_S = 0.25
_AWAY_RETRY_S = 1.0


@dataclass
class TaskRun:
    """One run of one stage; handed to the task body with its decoded input."""

    workflow_id: str
    task_name: str
    settings: Settings
    store: StateStore
    run_async: Runner
    attempt: int = 1
    gpu_device: int | None = None
    gpu_memory_mb: int | None = None  # MiB the lease granted, on memory-weighted devices
    _last_progress: float = field(default=0.0, repr=False)
    _last_cancel_check: float = field(default=0.0, repr=False)
    _cancelled: bool = field(default=False, repr=False)
    _redis_away_since: float | None = field(default=None, repr=False)
    _redis_last_try: float = field(default=0.0, repr=False)
    _children: set[subprocess.Popen[bytes]] = field(default_factory=set, repr=False)
    _in_sweep: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def root(self) -> Path:
        """Return the storage root."""
        return self.settings.share_root

    @property
    def output_dir(self) -> Path:
        """Return (creating it) this stage's output folder, ``{root}/workflows/{id}/{task_name}``.

        The first call of a run enters the workflow in the storage sweep (``state.retention``), so its folder
        goes when the workflow expires: a workflow that never has a folder costs the sweep nothing.
        """
        out = self.root / "workflows" / self.workflow_id / self.task_name
        out.mkdir(parents=True, exist_ok=True)
        if not self._in_sweep:
            self._in_sweep = True
            try:
                self.run_async(join_sweep(self.store.client, self.workflow_id))
            except TRANSIENT_ERRORS as exc:  # the stage's ending enters it too (``SyncStorageUsage.measure``)
                log.warning("storage_sweep_not_joined", task_id=self.workflow_id, error=str(exc))
        return out

    def input_path(self, value: str, *, folder: bool = False) -> Path:
        """Resolve an input path inside the storage root and check that it exists.

        An http(s) URL is downloaded into the stage folder first (see ``actors.worker.downloads.fetch_input``).

        Raises:
            InputFileError: the path leaves the root, does not exist or cannot be read.
        """
        if value.startswith(("http://", "https://")):
            if folder:
                raise InputFileError(f"{value[:200]!r}: a URL cannot stand for an input folder")
            from actors.worker.downloads import fetch_input  # noqa: PLC0415  (aiohttp only for URL inputs)

            return fetch_input(self, value)
        try:
            path = resolve_in_root(self.root, value)
        except PathOutsideRoot as exc:
            raise InputFileError(str(exc)) from None
        if folder and not path.is_dir():
            raise InputFileError(f"input folder {value!r} does not exist in the storage root")
        if not folder and not path.is_file():
            raise InputFileError(f"input file {value!r} does not exist in the storage root")
        try:
            if not folder:
                with path.open("rb") as handle:
                    handle.read(1)
        except OSError as exc:
            raise InputFileError(f"input file {value!r} cannot be read: {exc.strerror}") from None
        return path

    def rel(self, path: Path) -> str:
        """Return ``path`` relative to the storage root, the form outputs use."""
        return relative_to_root(self.root, path)

    def progress(self, fraction: float, *, force: bool = False) -> None:
        """Report progress (0..1); writes are throttled to one every half second.

        While Redis is unreachable the report is dropped (the next one carries the news) and the work goes on.
        """
        now = time.monotonic()
        if force or now - self._last_progress >= _PROGRESS_EVERY_S:
            self._last_progress = now
            self._tolerant(self.store.set_progress(self.workflow_id, self.task_name, fraction), "progress")

    def cancel_requested(self) -> bool:
        """Return whether the stage was asked to stop (reads Redis at most every 0.25 s).

        While Redis is unreachable the last answer stands.
        """
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= _CANCEL_CHECK_EVERY_S:
            self._last_cancel_check = now
            asked = self._tolerant(self.store.cancel_requested(self.workflow_id, self.task_name), "cancel_check")
            self._cancelled = self._cancelled or bool(asked)
        return self._cancelled

    def _tolerant(self, call: Coroutine[Any, Any, T], what: str) -> T | None:
        """Run a store call; on a transient Redis error note since when Redis is away and return None.

        While Redis is away, calls are tried at most once per ``_AWAY_RETRY_S``, so the work is not slowed.
        """
        now = time.monotonic()
        if self._redis_away_since is not None and now - self._redis_last_try < _AWAY_RETRY_S:
            call.close()
            return None
        self._redis_last_try = now
        try:
            result: T = self.run_async(call)
        except TRANSIENT_ERRORS as exc:
            if self._redis_away_since is None:
                self._redis_away_since = now
                log.warning("stage_redis_unreachable", what=what, error=str(exc))
            return None
        if self._redis_away_since is not None:
            log.info("stage_redis_reachable_again", away_s=round(time.monotonic() - self._redis_away_since, 3))
            self._redis_away_since = None
        return result

    def stop(self) -> None:
        """Mark the run as cancelled and stop its child processes (lease lost, soft timeout)."""
        self._cancelled = True
        with self._lock:
            for child in self._children:
                if child.poll() is None:
                    child.kill()

    def checkpoint(self) -> None:
        """Stop here if the stage was asked to stop, or if Redis has been away for longer than the grace.

        Raises:
            TaskCancelled: a cancel was requested.
            RedisAway: Redis has been unreachable for ``redis_grace_s``; the stage is retried later.
        """
        if self.cancel_requested():
            raise TaskCancelled("cancelled on request")
        away_since = self._redis_away_since
        if away_since is not None and time.monotonic() - away_since > self.settings.redis_grace_s:
            raise RedisAway(f"Redis unreachable for more than redis_grace_s ({self.settings.redis_grace_s:g} s)")

    @contextmanager
    def open_subprocess(self, args: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
        """Start a child whose pipes the body drives (``popen`` goes to ``subprocess.Popen``).

        ``stop`` kills it like the children of ``run_subprocess``; leaving the block kills it if it still
        runs (an error or a cancel on the way), so no child outlives its stage.
        """
        child = subprocess.Popen(list(args), **popen)
        with self._lock:
            self._children.add(child)
        try:
            yield child
        finally:
            with self._lock:
                self._children.discard(child)
            if child.poll() is None:
                child.kill()
            child.wait()
            for pipe in (child.stdin, child.stdout, child.stderr):
                if pipe is not None:
                    with suppress(OSError):  # a killed reader leaves unflushed input behind
                        pipe.close()

    def run_subprocess(self, args: Sequence[str], *, what: str) -> subprocess.CompletedProcess[bytes]:
        """Run a child process that a cancel can stop; return it when it exits 0.

        Raises:
            TaskCancelled: a cancel was requested while it ran (the child is killed).
            EngineFailed: the child exited non-zero; the message has the end of its stderr.
        """
        child = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with self._lock:
            self._children.add(child)
        try:
            while True:
                try:  # communicate() may be retried after a timeout without losing output
                    stdout, stderr = child.communicate(timeout=_CANCEL_CHECK_EVERY_S)
                    break
                except subprocess.TimeoutExpired:
                    if self.cancel_requested():
                        child.kill()
                        child.communicate()
                        raise TaskCancelled("cancelled on request") from None
        finally:
            with self._lock:
                self._children.discard(child)
        if self._cancelled:
            raise TaskCancelled("cancelled on request")
        if child.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise EngineFailed(f"{what} failed (exit {child.returncode}): {' | '.join(tail) or 'no output'}")
        return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
