"""One Dramatiq pool whose main process logs through taskgate's logging: ``python -m taskgate.pool ARGS``.

``dramatiq`` formats its main process's lines with ``logging.basicConfig`` (plain text in a JSON log). This runs
the same command line with ``--skip-logging`` after ``configure_logging``, so every line a pool writes is JSON.
"""

from __future__ import annotations

import sys

from config import ConfigError, configure_logging, load_settings


def main(argv: list[str] | None = None) -> int:
    """Configure logging, then run Dramatiq's command line with ``argv``; return its exit code."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"taskgate: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    # dramatiq is imported in pool processes only; its command line has no annotations
    from dramatiq.cli import main as dramatiq_main  # noqa: PLC0415
    from dramatiq.cli import make_argument_parser  # noqa: PLC0415

    parser = make_argument_parser()  # type: ignore[no-untyped-call]
    args = parser.parse_args(["--skip-logging", *(sys.argv[1:] if argv is None else argv)])
    return int(dramatiq_main(args) or 0)  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    sys.exit(main())
