"""Run the gateway: ``python -m gateway``."""

from __future__ import annotations

import sys

from aiohttp import web

from actors.worker.app import check_task_names
from config import ConfigError, configure_logging, load_settings
from gateway.app import create_app


def main() -> None:
    """Load settings and serve until interrupted."""
    try:
        settings = load_settings()
        check_task_names(settings)
    except ConfigError as exc:
        sys.exit(f"taskgate: {exc}")
    configure_logging(settings.log_format, settings.log_level)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
