"""structlog configured once per process: contextvars first, ISO UTC times, JSON off a terminal.

Our events and every standard-library logger (Dramatiq's, aiohttp's) go through one renderer, so the JSON log
holds one object per line, with a traceback as the string field ``exception``. Each line reaches the stream in
one ``write`` call followed by a flush: processes that share a pipe, and Dramatiq's worker processes that send
their output to the main process one write at a time, never interleave within a line.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LineStream:
    """A text stream that passes each whole line to ``target`` in one ``write`` and flushes it at once."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        """Write ``text`` (a line and its newline: structlog and ``logging`` write both in one call)."""
        written = self.target.write(text)
        self.target.flush()
        return written

    def flush(self) -> None:
        """Flush the target (every write already did)."""
        self.target.flush()


def configure_logging(log_format: str = "auto", level: str = "info") -> None:
    """Configure structlog and route the standard library's logging through the same renderer.

    The stream is the ``sys.stdout`` of the moment: a Dramatiq worker process calls this after Dramatiq has
    pointed ``sys.stdout`` at its pipe to the main process.
    """
    as_json = log_format == "json" or (log_format == "auto" and not sys.stdout.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # JSON gets the traceback as a string field; the console renderer prints it itself.
    tracebacks: list[structlog.typing.Processor] = (
        [structlog.processors.StackInfoRenderer(), structlog.processors.format_exc_info] if as_json else []
    )
    stream = LineStream(sys.stdout)
    structlog.configure(
        processors=[*shared, *tracebacks, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(cast(TextIO, stream)),  # it writes and flushes, all it needs
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tracebacks, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(_LEVELS[level], logging.INFO))
