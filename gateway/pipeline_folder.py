"""Kept pipelines: a definition read and checked, and the ``pipelines_dir`` folder loaded into Redis at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from aiohttp import web

from actors.pipeline.check import check_definition
from actors.pipeline.definition import Definition, DefinitionError, encode_definition, parse_definition
from actors.pipeline.tasks import builtin_definitions
from config import keys
from gateway.context import CTX

log = structlog.get_logger(__name__)


def load(text: str | bytes, name: str | None = None) -> Definition:
    """Read and check a definition; a built-in's name is refused.

    Raises:
        DefinitionError: naming the path of the first error.
    """
    definition = parse_definition(text, name=name)
    if definition.task_name in builtin_definitions():
        raise DefinitionError(f"{definition.task_name!r} is a built-in pipeline: choose another name", "name")
    check_definition(definition)
    return definition


def read_folder(folder: Path) -> list[Definition]:
    """Read and check every definition of a folder.

    Raises:
        DefinitionError: naming the file and the path of the first error.
    """
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".yaml", ".yml", ".json"):
            try:
                found.append(load(path.read_text("utf-8"), path.stem))
            except DefinitionError as exc:
                raise DefinitionError(f"{path}: {exc} (at {exc.pointer})", exc.pointer) from None
    return found


async def load_folder(app: web.Application) -> None:
    """Check the definitions of ``pipelines_dir`` and keep them in Redis (a bad one stops the start, naming it)."""
    ctx = app[CTX]
    if not ctx.settings.pipelines_dir:
        return
    found = await asyncio.to_thread(read_folder, Path(ctx.settings.pipelines_dir))
    for definition in found:
        await ctx.redis.hset(keys.PIPELINES, definition.name, encode_definition(definition))  # type: ignore[misc]
    log.info("pipelines_loaded", count=len(found), folder=ctx.settings.pipelines_dir)
