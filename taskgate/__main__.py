"""``taskgate run``: the whole system in the foreground; ``worker``: supervised worker pools; else the client CLI."""

from __future__ import annotations

import sys

from taskgate.launcher import run


def main() -> None:
    """Dispatch the sub-command."""
    args = sys.argv[1:]
    if args[:1] == ["run"]:
        sys.exit(run())
    if args[:1] == ["worker"]:
        from taskgate.supervisor import main as worker_main  # noqa: PLC0415  (only the worker needs psutil)

        sys.exit(worker_main(args[1:]))
    from taskgate.cli import main as cli_main  # noqa: PLC0415

    sys.exit(cli_main(args))


if __name__ == "__main__":
    main()
