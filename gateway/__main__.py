"""Run the gateway: ``python -m gateway``."""

from __future__ import annotations

import sys

from actors.registry import check_task_names
from config import ConfigError, configure_logging, load_settings
from gateway import server
from gateway.app import create_app


def main() -> None:
    """Load settings and serve until interrupted."""
    try:
        settings = load_settings()
        check_task_names(settings)
    except ConfigError as exc:
        sys.exit(f"taskgate: {exc}")
    configure_logging(settings.log_format, settings.log_level)
    server.run(create_app(settings), settings)


if __name__ == "__main__":
    main()
