"""The command line's task filters (``taskgate tasks``) and bulk actions (``taskgate retry``, ``cancel`` by filter)."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from taskgate.cli_views import tasks_text
from taskgate.http_client import EXIT_OK, EXIT_USAGE, Api, CliError

STATUSES = ["CANCELLED", "FAILED", "PENDING", "RUNNING", "SCHEDULED", "SUCCESS"]


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """Add the filter of ``GET /v1/tasks`` (and of the bulk actions) to a command."""
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--task-name")
    p.add_argument("--by-key", metavar="NAME", help="tasks submitted with this API key (its name)")
    p.add_argument("--tenant")
    p.add_argument("--error-type", help="tasks whose stage failed with this error type")
    p.add_argument("--label", action="append", default=[], metavar="NAME:VALUE", help="repeatable")
    p.add_argument("--since", help="epoch ms or ISO 8601 with a zone")
    p.add_argument("--until", help="epoch ms or ISO 8601 with a zone")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    named = {
        "status": args.status,
        "task_name": args.task_name,
        "key": args.by_key,
        "tenant": args.tenant,
        "error_type": args.error_type,
        "since": args.since,
        "until": args.until,
    }
    return {k: v for k, v in named.items() if v}


def cmd_tasks(api: Api, out: Any, args: argparse.Namespace) -> int:
    """Search tasks, newest first; ``--cursor`` goes on from an earlier page's next_cursor."""
    query: list[tuple[str, Any]] = list(_fields(args).items()) + [("label", label) for label in args.label]
    if args.limit:
        query.append(("limit", args.limit))
    if args.cursor:
        query.append(("cursor", args.cursor))
    found = api.call("GET", "/v1/tasks?" + urllib.parse.urlencode(query))
    out.emit(
        found, lambda d: tasks_text(d) + (f"\nnext page: --cursor {d['next_cursor']}" if d.get("next_cursor") else "")
    )
    return EXIT_OK


def has_filter(args: argparse.Namespace) -> bool:
    """Return whether the command line names any filter."""
    return bool(_fields(args) or args.label)


def labels_of(values: list[str]) -> dict[str, str]:
    """Return ``--label NAME:VALUE`` options as a map."""
    labels = {}
    for value in values:
        name, sep, wanted = value.partition(":")
        if not sep:
            raise CliError(f"--label takes NAME:VALUE, not {value!r}", EXIT_USAGE)
        labels[name] = wanted
    return labels


def _bulk_text(result: dict[str, Any]) -> str:
    verb = {"retry": "retried", "cancel": "cancelled"}[result["action"]]
    if result["dry_run"]:
        verb = f"would be {verb}"
    sample = f" (e.g. {', '.join(result['sample'][:5])})" if result["sample"] else ""
    return (
        f"{result['count']} of {result['matched']} matching tasks {verb}{sample}; "
        f"{result['skipped']} left as they were; {result['elapsed_s']} s"
    )


def run_bulk(api: Api, out: Any, args: argparse.Namespace, action: str) -> int:
    """``POST /v1/tasks/{action}`` with the filter given on the command line."""
    body: dict[str, Any] = _fields(args)
    if args.label:
        body["labels"] = labels_of(args.label)
    if args.dry_run:
        body["dry_run"] = True
    out.emit(api.call("POST", f"/v1/tasks/{action}", body), _bulk_text)
    return EXIT_OK


def cmd_retry(api: Api, out: Any, args: argparse.Namespace) -> int:
    """Run again every FAILED or CANCELLED task the filter matches (admin)."""
    return run_bulk(api, out, args, "retry")


def add_search_commands(sub: Any, common: argparse.ArgumentParser, cancel: Any) -> None:
    """Add ``cancel`` (one task, or by filter), ``retry`` and ``tasks`` to the command line."""
    p = sub.add_parser("cancel", help="cancel a task, or every task a filter matches (admin)", parents=[common])
    p.add_argument("task_id", nargs="?", help="the task; without it, the filter options select tasks")
    add_filter_options(p)
    p.add_argument("--dry-run", action="store_true", help="with a filter: only count")
    p.set_defaults(run=cancel)
    p = sub.add_parser(
        "retry", help="run again the FAILED or CANCELLED tasks a filter matches (admin)", parents=[common]
    )
    add_filter_options(p)
    p.add_argument("--dry-run", action="store_true", help="only count")
    p.set_defaults(run=cmd_retry)
    p = sub.add_parser("tasks", help="search tasks (filters combine), newest first", parents=[common])
    add_filter_options(p)
    p.add_argument("--limit", type=int)
    p.add_argument("--cursor", help="the next_cursor of an earlier page")
    p.set_defaults(run=cmd_tasks)
