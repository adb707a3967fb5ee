"""Child processes that die with their parent whatever kills it (Linux ``PR_SET_PDEATHSIG``).

``python -m taskgate.lifetime PARENT_PID SIGNAL COMMAND...`` asks the kernel to send SIGNAL to this
process when its parent dies, checks that the parent is still PARENT_PID (it may have died first), and
execs COMMAND. The request survives exec, so a redis-server or a Dramatiq pool started this way stops
when ``taskgate run`` or ``taskgate worker`` is killed, even by SIGKILL. On other systems it only execs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
# The signals that stop a supervising process in order: Ctrl-C, SIGTERM (docker stop, systemd, kill) and the
# hang-up of a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def die_with_parent(sig: int, parent_pid: int | None = None) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (now, if it is already gone).

    Raises:
        OSError: the kernel refused the request.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)  # the parent died before the request took effect


def guarded(command: list[str], sig: int = signal.SIGTERM) -> list[str]:
    """Return ``command`` wrapped so that it receives ``sig`` when this process dies."""
    return [sys.executable, "-m", "taskgate.lifetime", str(os.getpid()), str(int(sig)), *command]


def main(argv: list[str]) -> None:
    """Set the parent-death signal, then exec the command."""
    parent, sig, *command = argv
    die_with_parent(int(sig), int(parent))
    os.execvp(command[0], command)  # noqa: S606  (the command comes from our own launcher)


if __name__ == "__main__":
    main(sys.argv[1:])
