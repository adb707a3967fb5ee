"""``taskgate queues``, ``pause``, ``resume``, ``drain`` and ``undrain``: who waits, from a terminal (admin key)."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any, Protocol

from taskgate.cli_views import table
from taskgate.http_client import EXIT_OK, Api

BANDS = ("high", "normal", "low", "put_back")


class Output(Protocol):
    """What the commands print through (``taskgate.cli.Output``)."""

    def emit(self, data: Any, human: Any) -> None:
        """Print ``data`` as JSON or as ``human(data)``."""


def queues_text(data: dict[str, Any]) -> str:
    """Render ``GET /v1/queues``: one row per queue, then the drained hosts."""
    rows = []
    for q in data["queues"]:
        since = q["paused_since"]
        state = f"paused by {since['by']} at {since['at']}" if since else "running"
        rows.append([q["queue"], state, str(q["queued"]), *(str(q["queued_by_priority"][b]) for b in BANDS)])
    text = table(["QUEUE", "STATE", "QUEUED", *(b.upper() for b in BANDS)], rows)
    hosts = data.get("drained_hosts") or []
    if hosts:
        text += "\n\ndrained hosts: " + ", ".join(h["host"] for h in hosts)
    return text


def _queue_text(row: dict[str, Any]) -> str:
    return f"queue {row['queue']}: {'paused' if row['paused'] else 'running'} ({row['queued']} queued)"


def _host_text(row: dict[str, Any]) -> str:
    return f"host {row['host']}: {'drained (takes nothing new)' if row['drained'] else 'taking work'}"


def cmd_queues(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Show every queue: paused or not, queued messages by priority; the drained hosts."""
    out.emit(api.call("GET", "/v1/queues"), queues_text)
    return EXIT_OK


def _queue_action(action: str) -> Any:
    def run(api: Api, out: Output, args: argparse.Namespace) -> int:
        out.emit(api.call("POST", f"/v1/queues/{urllib.parse.quote(args.queue, safe='')}/{action}"), _queue_text)
        return EXIT_OK

    return run


def _host_action(action: str) -> Any:
    def run(api: Api, out: Output, args: argparse.Namespace) -> int:
        out.emit(api.call("POST", f"/v1/workers/{urllib.parse.quote(args.host, safe='')}/{action}"), _host_text)
        return EXIT_OK

    return run


def add_queue_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the queue and host commands to the CLI's sub-commands."""
    sub.add_parser("queues", help="show queues: paused or not, queued by priority", parents=[common]).set_defaults(
        run=cmd_queues
    )
    for action, text in (("pause", "pause a queue (submits accepted, nothing starts)"), ("resume", "resume a queue")):
        p = sub.add_parser(action, help=text, parents=[common])
        p.add_argument("queue")
        p.set_defaults(run=_queue_action(action))
    for action, text in (
        ("drain", "drain a worker host (it finishes its runs, takes nothing new)"),
        ("undrain", "let a drained worker host take work again"),
    ):
        p = sub.add_parser(action, help=text, parents=[common])
        p.add_argument("host")
        p.set_defaults(run=_host_action(action))
