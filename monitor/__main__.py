"""Run the monitor alone: ``python -m monitor`` (it leads only while it holds the leader lease)."""

from __future__ import annotations

import asyncio
import signal
import sys

from config import ConfigError, Settings, configure_logging, load_settings
from monitor.dispatch import broker_enqueue
from monitor.loop import Monitor
from redis_io.clients import MONITOR, aclose_client, async_client


async def _serve(settings: Settings) -> None:
    from actors.worker.app import build_broker  # noqa: PLC0415  (declares the actors the re-queue sends to)

    broker, _lifecycle = build_broker(settings)
    client = async_client(settings, MONITOR)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Monitor(client, settings, broker_enqueue(broker)).run(stop)
    finally:
        broker.close()
        await aclose_client(client)


def main() -> None:
    """Load settings and run the monitor until SIGTERM or SIGINT."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"taskgate monitor: {exc}")
    if not settings.redis_configured:
        sys.exit("taskgate monitor: neither TASKGATE_REDIS_URL nor TASKGATE_REDIS_SENTINELS is set")
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
