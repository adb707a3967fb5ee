"""Per-scenario figures of the fault tests: printed (``pytest -s`` shows them) and checked for loss."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.harness import TERMINAL, Client


async def settle(client: Client, task_ids: list[str], timeout_s: float) -> tuple[dict[str, dict[str, Any]], float]:
    """Poll until every task is terminal or ``timeout_s`` passed; return the records found and the seconds taken."""
    started = time.monotonic()
    records: dict[str, dict[str, Any]] = {}
    while True:
        for task_id in task_ids:
            if records.get(task_id, {}).get("status") not in TERMINAL:
                status, body, _ = await client.request("GET", f"/v1/tasks/{task_id}")
                if status == 200:
                    records[task_id] = body
        done = all(records.get(t, {}).get("status") in TERMINAL for t in task_ids)
        if done or time.monotonic() - started > timeout_s:
            return records, time.monotonic() - started
        await asyncio.sleep(0.1)


def report(scenario: str, accepted: int, records: dict[str, dict[str, Any]], recover_s: float, how: str) -> None:
    """Print a scenario's figures (accepted, terminal, lost, stuck, time to recover); fail on loss or stuck tasks.

    Lost: accepted and gone from the store. Stuck: still not terminal when the scenario's deadline passed.
    """
    terminal = sum(r["status"] in TERMINAL for r in records.values())
    figures = {"accepted": accepted, "terminal": terminal, "lost": accepted - len(records)}
    figures["stuck"] = len(records) - terminal
    fields = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\nFIGURES {scenario}: {fields} recover_s={recover_s:.2f} ({how})")
    assert figures["lost"] == 0, figures
    assert figures["stuck"] == 0, {t: r["status"] for t, r in records.items()}
