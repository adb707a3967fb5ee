"""The ``taskgate`` command line: submit and follow tasks, move files, read locks; exit codes for scripts."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskgate.follow import follow
from taskgate.http_client import EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE, Api, CliError

DEFAULT_URL = "http://127.0.0.1:8788"
TERMINAL = {"SUCCESS", "FAILED", "CANCELLED"}
_BAR_WIDTH = 30

EPILOG = """\
environment: TASKGATE_URL (gateway URL, default http://127.0.0.1:8788), TASKGATE_API_KEY (API key).
exit codes: 0 success | 1 the task FAILED or was CANCELLED | 2 usage or input refused (400/409/413/422)
            | 3 not found | 4 no key, wrong key or missing scope (401/403) | 5 gateway unreachable or 5xx
            | 6 --wait or --follow gave up after --timeout seconds
"""


def _parse_value(raw: str) -> Any:
    """Read ``key=value`` values as JSON when they are (numbers, booleans, lists), else as text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _pairs(items: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"expected key=value, got {item!r}", EXIT_USAGE)
        data[key] = _parse_value(value)
    return data


class Output:
    """Print for humans, or JSON with ``--json``; progress goes to stderr."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, data: Any, human: Callable[[Any], str]) -> None:
        """Print ``data`` as JSON or as its human rendering."""
        print(json.dumps(data, indent=2) if self.as_json else human(data))

    def progress(self, record: dict[str, Any], started: float) -> None:
        """Draw the progress bar of a task on stderr (a line per change when stderr is not a terminal)."""
        if self.as_json:
            return
        stage = record["stages"].get(record["task_name"], {})
        fraction = stage.get("progress") or (1.0 if record["status"] == "SUCCESS" else 0.0)
        filled = int(fraction * _BAR_WIDTH)
        line = (
            f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction * 100:5.1f}% {record['status']:<9} "
            f"{record['task_name']} {time.monotonic() - started:6.1f}s"
        )
        if sys.stderr.isatty():
            print("\r" + line, end="\n" if record["status"] in TERMINAL else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _task_text(record: dict[str, Any]) -> str:
    lines = [f"task {record['task_id']}: {record['task_name']} {record['status']}"]
    stage = record["stages"].get(record["task_name"], {})
    for key, value in (stage.get("output") or {}).items():
        lines.append(f"  {key}: {json.dumps(value) if not isinstance(value, str) else value}")
    if record.get("error"):
        lines.append(f"  error: {record['error']['type']}: {record['error']['message']}")
    return "\n".join(lines)


def _exit_for(record: dict[str, Any]) -> int:
    return EXIT_TASK_FAILED if record["status"] in ("FAILED", "CANCELLED") else EXIT_OK


def cmd_submit(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Submit a task; with ``--wait`` follow it to the end."""
    body: dict[str, Any] = {"task_name": args.task_name, "input_data": _pairs(args.input)}
    if args.task_id:
        body["task_id"] = args.task_id
    if args.callback:
        body["callback"] = args.callback
    record = api.call("POST", "/v1/tasks", body)
    if not args.wait:
        out.emit(record, lambda r: f"submitted {r['task_id']} ({r['status']})")
        return EXIT_OK
    record = follow(api, out.progress, record["task_id"], args.timeout)
    out.emit(record, _task_text)
    return _exit_for(record)


def cmd_status(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Show a task; with ``--follow`` follow it to the end first."""
    if args.follow:
        record = follow(api, out.progress, args.task_id, args.timeout)
        out.emit(record, _task_text)
        return _exit_for(record)
    record = api.call("GET", f"/v1/tasks/{urllib.parse.quote(args.task_id)}")
    out.emit(record, _task_text)
    return EXIT_OK


def cmd_tasks(api: Api, out: Output, args: argparse.Namespace) -> int:
    """List recent tasks."""
    query = {k: v for k, v in (("status", args.status), ("task_name", args.task_name), ("limit", args.limit)) if v}
    found = api.call("GET", "/v1/tasks?" + urllib.parse.urlencode(query))
    out.emit(
        found,
        lambda d: (
            "\n".join(f"{t['task_id']}  {t['status']:<9}  {t['task_name']}  {t['created_at']}" for t in d["tasks"])
            or "no tasks"
        ),
    )
    return EXIT_OK


def cmd_cancel(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Cancel a task."""
    record = api.call("DELETE", f"/v1/tasks/{urllib.parse.quote(args.task_id)}")
    out.emit(record, lambda r: f"task {r['task_id']}: {r['status']} (cancel requested)")
    return EXIT_OK


def cmd_upload(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Upload a file into the storage root."""
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"{source} is not a file", EXIT_USAGE)
    stored = api.upload(source, args.path, args.overwrite)
    out.emit(stored, lambda s: f"{s['path']}  {s['size_bytes']} bytes  sha256 {s['sha256']}")
    return EXIT_OK


def cmd_download(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Download a file from the storage root."""
    dest = Path(args.file or Path(args.path).name)
    size = api.download(args.path, dest)
    out.emit({"path": args.path, "file": str(dest), "size_bytes": size}, lambda d: f"{d['file']}  {size} bytes")
    return EXIT_OK


def cmd_locks(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Show the GPU leases (holder, age, waiters)."""
    locks = api.call("GET", "/v1/monitor/gpu-locks")
    out.emit(locks, lambda d: json.dumps(d, indent=2))
    return EXIT_OK


def cmd_hash_key(api: Api | None, out: Output, args: argparse.Namespace) -> int:
    """Print the SHA-256 to put in ``auth.api_keys`` (a new random key when none is given)."""
    key = args.key or secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    entry = {"name": args.name, "key_sha256": digest, "scopes": args.scope or ["user"]}
    data = {"key": None if args.key else key, "api_key": entry}
    out.emit(
        data,
        lambda d: (
            (f"key: {key}  (give it to the client; it is not stored)\n" if not args.key else "")
            + f"auth.api_keys entry: {json.dumps(entry)}"
        ),
    )
    return EXIT_OK


def _connection_options() -> argparse.ArgumentParser:
    """Return the options every gateway command takes, before or after the command's name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="gateway URL")
    common.add_argument("--key", default=argparse.SUPPRESS, help="API key (or TASKGATE_API_KEY)")
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine output (JSON, no progress bar)"
    )
    common.add_argument("--http-timeout", type=float, default=argparse.SUPPRESS, help="seconds per HTTP call")
    return common


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every sub-command."""
    common = _connection_options()
    parser = argparse.ArgumentParser(
        prog="taskgate",
        description="Drive a taskgate gateway from a terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_connection_options()],  # its own copy: set_defaults below changes the actions it holds
    )
    parser.set_defaults(
        url=os.environ.get("TASKGATE_URL", DEFAULT_URL),
        key=os.environ.get("TASKGATE_API_KEY"),
        json=False,
        http_timeout=30.0,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "submit",
        parents=[common],
        help="submit a task: taskgate submit TASK_NAME key=value ...",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task_name")
    p.add_argument("input", nargs="*", help="input_data as key=value (values are JSON when they parse)")
    p.add_argument("--task-id")
    p.add_argument("--callback", help="URL to POST the signed event to when the task ends")
    p.add_argument("--wait", action="store_true", help="follow the task live with a progress bar; print its outputs")
    p.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")
    p.set_defaults(run=cmd_submit)
    p = sub.add_parser("status", help="show a task", parents=[common])
    p.add_argument("task_id")
    p.add_argument("--follow", action="store_true", help="follow the task live to its end, then show it")
    p.add_argument("--timeout", type=float, default=0, help="with --follow: give up after this many seconds")
    p.set_defaults(run=cmd_status)
    p = sub.add_parser("cancel", help="cancel a task", parents=[common])
    p.add_argument("task_id")
    p.set_defaults(run=cmd_cancel)
    p = sub.add_parser("tasks", help="list recent tasks", parents=[common])
    p.add_argument("--status", choices=sorted(TERMINAL | {"PENDING", "RUNNING"}))
    p.add_argument("--task-name")
    p.add_argument("--limit", type=int)
    p.set_defaults(run=cmd_tasks)
    p = sub.add_parser(
        "upload", help="upload FILE to PATH in the storage root (default uploads/<name>)", parents=[common]
    )
    p.add_argument("file")
    p.add_argument("path", nargs="?")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_upload)
    p = sub.add_parser("download", help="download PATH from the storage root to FILE", parents=[common])
    p.add_argument("path")
    p.add_argument("file", nargs="?")
    p.set_defaults(run=cmd_download)
    sub.add_parser("locks", help="show GPU leases", parents=[common]).set_defaults(run=cmd_locks)
    p = sub.add_parser("hash-key", help="print the auth.api_keys entry of a key (a new key when none given)")
    p.add_argument("key", nargs="?")
    p.add_argument("--name", default="client")
    p.add_argument("--scope", action="append", choices=["user", "admin"])
    p.set_defaults(run=cmd_hash_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    out = Output(args.json)
    api = Api(args.url, args.key, args.http_timeout)
    try:
        code: int = args.run(api, out, args)
    except CliError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "exit_code": exc.code}))
        print(f"taskgate: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code
