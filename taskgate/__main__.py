"""``python -m taskgate run``: the whole system in the foreground."""

from __future__ import annotations

import sys

from taskgate.launcher import run


def main() -> None:
    """Dispatch the sub-command."""
    args = sys.argv[1:]
    if args[:1] == ["run"]:
        sys.exit(run())
    sys.exit("usage: python -m taskgate run")


if __name__ == "__main__":
    main()
