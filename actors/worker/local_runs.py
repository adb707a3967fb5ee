"""The runs a host's worker processes have in flight, told to their sidecar through a local folder.

The supervisor (``taskgate worker``) makes a folder and names it to its pools in ``RUNS_DIR_ENV``. A worker
process notes each run it started there once its start committed (an empty file ``{pid}:{run id}``, made by one
``mknod``; a run id that cannot be a file name goes in a file ``{pid}.{n}`` instead) and removes the note when
the run is no longer tracked. The sidecar lists the folder every heartbeat round: the runs
it heartbeats cost no Redis command per run. A note left by a killed process stays until the heartbeat script
finds its run no longer tracked (the monitor recovered it); the sidecar then removes it. A worker process
started without a supervisor has no folder: nothing heartbeats it, as before.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import tempfile
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

# The folder's path, set by the supervisor for its pools (not a ``TASKGATE_`` setting: it is per supervisor).
RUNS_DIR_ENV = "_TASKGATE_RUNS_DIR"
_NAME_MAX = 255
_PREFIX = "taskgate-runs-"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _alive(pid: int) -> bool:
    """Return whether process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalRuns:
    """A worker process's notes of its runs (``add`` and ``remove``), and the sidecar's view (``listed``)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = None if folder is None else str(folder)
        self._numbers = itertools.count()

    @classmethod
    def make(cls) -> LocalRuns:
        """Make a folder of notes (in memory, under ``/dev/shm``, where there is one), named by this process.

        Folders left by supervisors that died without removing theirs (SIGKILL) are removed first.
        """
        shm = "/dev/shm"  # noqa: S108  (a private folder made by mkdtemp: mode 0700, a random name)
        base = shm if os.path.isdir(shm) else tempfile.gettempdir()
        for stale in Path(base).glob(f"{_PREFIX}*-*"):
            pid = stale.name.removeprefix(_PREFIX).partition("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        return cls(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=base))

    @classmethod
    def from_env(cls) -> LocalRuns:
        """Return the notes of the folder the supervisor named (none: this process is not supervised)."""
        return cls(os.environ.get(RUNS_DIR_ENV) or None)

    def add(self, run_id: str, pid: int) -> str | None:
        """Note a started run of process ``pid``; return the note's name (None without a folder or on failure)."""
        if self.folder is None:
            return None
        name = f"{pid}:{run_id}"
        try:
            if "/" not in run_id and "\0" not in run_id and len(name.encode()) <= _NAME_MAX:
                os.mknod(f"{self.folder}/{name}", 0o600 | stat.S_IFREG)
                return name
            name = f"{pid}.{next(self._numbers)}"
            fd = os.open(f"{self.folder}/{name}", _FLAGS, 0o600)
            try:
                os.write(fd, run_id.encode())
            finally:
                os.close(fd)
        except OSError as exc:  # the run then shows no heartbeat: the monitor's probe handles it as before
            log.warning("run_not_noted", run_id=run_id, error=str(exc))
            return None
        return name

    def remove(self, name: str | None) -> None:
        """Remove a note (gone already is fine)."""
        if self.folder is None or name is None:
            return
        try:
            os.unlink(f"{self.folder}/{name}")
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("run_note_not_removed", note=name, error=str(exc))

    def listed(self) -> dict[str, list[tuple[str, int]]]:
        """Return the noted runs: run id -> its notes (name, pid); a run re-started on this host may have two."""
        if self.folder is None:
            return {}
        found: dict[str, list[tuple[str, int]]] = {}
        try:
            names = os.listdir(self.folder)
        except OSError as exc:
            log.warning("run_notes_not_listed", folder=self.folder, error=str(exc))
            return {}
        for name in names:
            pid, colon, run_id = name.partition(":")
            if not colon:
                pid = name.partition(".")[0]
                try:
                    run_id = Path(self.folder, name).read_text()
                except OSError:
                    continue  # removed meanwhile: its run ended
            if pid.isdigit() and run_id:
                found.setdefault(run_id, []).append((name, int(pid)))
        return found
