"""The ``batches`` section: how large a batch may be and how it is written and reconciled."""

from __future__ import annotations

from config.section import PositiveInt, PositiveSeconds
from config.section import Section as _Section


class BatchSettings(_Section):
    """``POST /v1/batches``: the item limit, the write chunk, and the completion watcher's reconcile period."""

    max_items: PositiveInt = 1000  # a larger batch is refused (422 naming the limit)
    write_chunk: PositiveInt = 100  # item submits pipelined per Redis round trip; the loop runs between chunks
    reconcile_interval_s: PositiveSeconds = 60.0  # the monitor re-reads unfinished items this often (gaps)
