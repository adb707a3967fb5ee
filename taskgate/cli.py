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

from taskgate.cli_bulk import add_search_commands, has_filter, labels_of, run_bulk
from taskgate.cli_queues import add_queue_commands
from taskgate.cli_views import locks_text, status_text
from taskgate.follow import follow
from taskgate.http_client import EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE, Api, CliError
from taskgate.pipeline import definition_of, is_definition, read_file, read_pipeline

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


def _bodies(api: Api, args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.file and args.task_name and "=" in args.task_name:  # after --file, the first word is an input
        args.input, args.task_name = [args.task_name, *(args.input or [])], None
    if bool(args.file) == bool(args.task_name):
        raise CliError("give a TASK_NAME with key=value inputs, or --file PIPELINE.yaml (not both)", EXIT_USAGE)
    task_name = args.task_name
    if args.file:
        doc = read_file(Path(args.file))
        if not is_definition(doc):
            if args.input:
                raise CliError("key=value inputs go into the pipeline file's stages, not after --file", EXIT_USAGE)
            return read_pipeline(Path(args.file), args.task_id, args.callback)
        name = doc.get("name") or Path(args.file).stem
        kept = api.call("PUT", f"/v1/pipelines/{urllib.parse.quote(str(name))}", definition_of(doc))
        task_name = kept["task_name"]
        args.task_id, args.callback = args.task_id or doc.get("task_id"), args.callback or doc.get("callback")
    body: dict[str, Any] = {"task_name": task_name, "input_data": _pairs(args.input)}
    if args.task_id:
        body["task_id"] = args.task_id
    if args.callback:
        body["callback"] = args.callback
    if args.delay is not None:
        body["delay_s"] = args.delay
    if args.run_at is not None:
        body["run_at"] = int(args.run_at) if args.run_at.isdigit() else args.run_at
    body |= {k: v for k, v in (("priority", args.priority), ("tenant", args.tenant)) if v}
    if args.label:
        body["labels"] = labels_of(args.label)
    return [body]


def cmd_submit(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Submit a task (or a pipeline file's stages under one task_id); with ``--wait`` follow it to the end."""
    record: dict[str, Any] = {}
    for body in _bodies(api, args):
        record = api.call("POST", "/v1/tasks", body)
        for warning in record.get("warnings") or []:
            print(f"taskgate: warning: {warning}", file=sys.stderr)
    if not args.wait:
        out.emit(record, lambda r: f"submitted {r['task_id']} ({r['status']}; stages: {', '.join(r['stages'])})")
        return EXIT_OK
    record = follow(api, out.progress, record["task_id"], args.timeout)
    out.emit(record, _task_text)
    return _exit_for(record)


def cmd_status(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Show a task with every stage; the exit code follows its status, as with ``submit --wait``.

    With ``--follow``, follow it live to its end first.
    """
    if args.follow:
        record = follow(api, out.progress, args.task_id, args.timeout)
        out.emit(record, status_text)
        return _exit_for(record)
    record = api.call("GET", f"/v1/tasks/{urllib.parse.quote(args.task_id)}")
    out.emit(record, status_text)
    return _exit_for(record)


def cmd_cancel(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Cancel a task, or (without a task id) every task the filter matches that has not ended."""
    if args.task_id is None:
        return run_bulk(api, out, args, "cancel")
    if has_filter(args) or args.dry_run:
        raise CliError("cancel takes a task id or filter options, not both", EXIT_USAGE)
    record = api.call("DELETE", f"/v1/tasks/{urllib.parse.quote(args.task_id)}")
    out.emit(record, lambda r: f"task {r['task_id']}: {r['status']} (cancel requested)")
    return EXIT_OK


def cmd_upload(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Upload a file into the storage root."""
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"{source} is not a file", EXIT_USAGE)
    try:
        stored = api.upload(source, args.path, args.overwrite)
    except CliError as exc:
        if exc.http_status == 409:
            raise CliError(f"{exc}; with taskgate: pass --overwrite to replace it", exc.code, 409) from None
        raise
    out.emit(stored, lambda s: f"{s['path']}  {s['size_bytes']} bytes  sha256 {s['sha256']}")
    return EXIT_OK


def cmd_download(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Download a file from the storage root."""
    dest = Path(args.file or Path(args.path).name)
    if dest.exists() and not args.force:
        raise CliError(f"{dest} exists; pass --force to overwrite it", EXIT_USAGE)
    size = api.download(args.path, dest)
    out.emit({"path": args.path, "file": str(dest), "size_bytes": size}, lambda d: f"{d['file']}  {size} bytes")
    return EXIT_OK


def cmd_locks(api: Api, out: Output, args: argparse.Namespace) -> int:
    """Show the GPU leases (holder, age, waiters)."""
    locks = api.call("GET", "/v1/monitor/gpu-locks")
    out.emit(locks, locks_text)
    return EXIT_OK


def _key_from_stdin() -> str:
    """Read a key from standard input: typed without echo on a terminal, else its first line."""
    if sys.stdin.isatty():
        import getpass  # noqa: PLC0415

        key = getpass.getpass("key: ")
    else:
        key = sys.stdin.readline().rstrip("\r\n")
    if not key:
        raise CliError("no key on standard input", EXIT_USAGE)
    return key


def cmd_hash_key(api: Api | None, out: Output, args: argparse.Namespace) -> int:
    """Print the SHA-256 to put in ``auth.api_keys``: of a new random key, or with ``--stdin`` of the key read there.

    The key is never an argument: arguments are visible to every user in the process list.
    """
    given = _key_from_stdin() if args.stdin else None
    key = given or secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    entry = {"name": args.name, "key_sha256": digest, "scopes": args.scope or ["user"]}
    data = {"key": None if given else key, "api_key": entry}
    out.emit(
        data,
        lambda d: (
            (f"key: {key}  (give it to the client; it is not stored)\n" if not given else "")
            + f"auth.api_keys entry: {json.dumps(entry)}"
        ),
    )
    return EXIT_OK


def cmd_webhook_secret(api: Api | None, out: Output, args: argparse.Namespace) -> int:
    """Print the secret that signs this system's webhook events (what a receiver verifies with)."""
    from config import ConfigError, load_settings  # noqa: PLC0415  (only this command reads the settings)
    from config.webhook_secret import secret_path, webhook_secret  # noqa: PLC0415

    try:
        settings = load_settings()
        secret = webhook_secret(settings)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    source = "webhooks.secret" if settings.webhooks.secret else str(secret_path(settings))
    out.emit({"secret": secret, "source": source}, lambda d: d["secret"] or "(unsigned: webhooks.unsigned is set)")
    return EXIT_OK


def _system_commands(sub: Any) -> None:
    """Add the commands that run taskgate itself (``__main__`` runs them before this parser sees them)."""
    sub.add_parser("run", help="run the whole system in the foreground: embedded Redis, workers, gateway")
    sub.add_parser("worker", help="run supervised worker pools on this host (taskgate worker --help)")
    p = sub.add_parser("webhook-secret", help="print the secret that signs webhook events (from the settings)")
    p.set_defaults(run=cmd_webhook_secret)


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
        help="submit a task: taskgate submit TASK_NAME key=value ... | taskgate submit --file pipeline.yaml",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task_name", nargs="?")
    p.add_argument("input", nargs="*", help="input_data as key=value (values are JSON when they parse)")
    p.add_argument(
        "--file",
        help="a pipeline YAML file: stages submitted in order under one task_id, or a definition kept on the "
        "gateway (admin) and submitted with the key=value inputs",
    )
    p.add_argument("--task-id")
    p.add_argument("--callback", help="URL to POST the signed event to when the task ends")
    p.add_argument("--delay", type=float, metavar="SECONDS", help="start it this much later (SCHEDULED until then)")
    p.add_argument("--run-at", metavar="TIME", help="start it at TIME: ISO 8601 with a zone, or epoch milliseconds")
    p.add_argument("--priority", choices=["high", "normal", "low"], help="default: the key's, else the task type's")
    p.add_argument("--tenant", help="the client the task counts as for fairness and search (admin keys only)")
    p.add_argument("--label", action="append", default=[], metavar="NAME:VALUE", help="a label to search by")
    p.add_argument("--wait", action="store_true", help="follow the task live with a progress bar; print its outputs")
    p.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")
    p.set_defaults(run=cmd_submit)
    p = sub.add_parser("status", help="show a task and every stage (exit 1 when FAILED or CANCELLED)", parents=[common])
    p.add_argument("task_id")
    p.add_argument("--follow", action="store_true", help="follow the task live to its end, then show it")
    p.add_argument("--timeout", type=float, default=0, help="with --follow: give up after this many seconds")
    p.set_defaults(run=cmd_status)
    add_search_commands(sub, common, cmd_cancel)
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
    p.add_argument("--force", action="store_true", help="overwrite FILE when it exists")
    p.set_defaults(run=cmd_download)
    sub.add_parser("locks", help="show GPU leases", parents=[common]).set_defaults(run=cmd_locks)
    p = sub.add_parser("hash-key", help="print the auth.api_keys entry of a new key (or of one read with --stdin)")
    p.add_argument("--stdin", action="store_true", help="hash the key read from standard input (never an argument)")
    p.add_argument("--name", default="client")
    p.add_argument("--scope", action="append", choices=["user", "admin"])
    p.set_defaults(run=cmd_hash_key)
    add_queue_commands(sub, common)
    _system_commands(sub)
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
