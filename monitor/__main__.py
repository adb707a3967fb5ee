"""Run the monitor alone: ``python -m monitor`` (it leads only while it holds the leader lease)."""

from __future__ import annotations

import asyncio
import signal
import sys

from actors.messages import MessageSender
from actors.registry import check_task_names
from config import ConfigError, Settings, configure_logging, load_settings
from monitor.dispatch import stage_enqueue
from monitor.loop import Monitor
from redis_io.clients import MONITOR, aclose_client, async_client
from state.live import LiveSettings


async def _serve(settings: Settings) -> None:
    client = async_client(settings, MONITOR)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Monitor(
            client, LiveSettings(settings), stage_enqueue(MessageSender(client, settings.state_ttl_s * 1000))
        ).run(stop)
    finally:
        await aclose_client(client)


def main() -> None:
    """Load settings and run the monitor until SIGTERM or SIGINT."""
    try:
        settings = load_settings()
        check_task_names(settings)
    except ConfigError as exc:
        sys.exit(f"taskgate monitor: {exc}")
    if not settings.redis_configured:
        sys.exit("taskgate monitor: neither TASKGATE_REDIS_URL nor TASKGATE_REDIS_SENTINELS is set")
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
