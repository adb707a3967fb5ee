"""``pipeline.*`` tasks: the built-in pipelines, and ``pipeline.run`` for any pipeline kept by name.

A pipeline's own stage is the last of its workflow: the gateway creates it after the stages it expands to,
and its input references their artifacts, so it starts once they have ended and gathers them into one
output. It runs on the ``system`` queue and does no work of its own.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Annotated, Any

import msgspec

from actors.pipeline.check import check_definition
from actors.pipeline.definition import NAME_PATTERN, PREFIX, Definition, input_struct, output_struct, parse_definition
from actors.pipeline.expand import GatherInput
from actors.pipeline.templates import gather
from actors.spec import REGISTRY, TaskSpec, never
from actors.worker.runtime import TaskRun

RUN_TASK = "pipeline.run"


class RunInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``pipeline.run``: a pipeline's name (built-in or kept by ``PUT /v1/pipelines/{name}``) and its input."""

    pipeline: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
    input: dict[str, Any] = msgspec.field(default_factory=dict)


class RunOutput(msgspec.Struct, kw_only=True):
    """Output of ``pipeline.run``: the pipeline's own output fields."""


def gather_artifacts(run: TaskRun, params: GatherInput) -> dict[str, Any]:
    """Gather the artifacts of the pipeline's stages (resolved by the worker) into its one output."""
    run.progress(1.0)
    return dict(gather(params.output))


@functools.cache
def builtin_definitions() -> dict[str, Definition]:
    """Return the built-in definitions (``actors/pipeline/builtin/*.yaml``) by task_name, checked."""
    found = {}
    for entry in sorted(files("actors.pipeline").joinpath("builtin").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            definition = parse_definition(entry.read_text("utf-8"))
            check_definition(definition)
            found[definition.task_name] = definition
    return found


def spec_of(definition: Definition) -> TaskSpec:
    """Return the task spec of a pipeline: its input and output Structs, run by the gathering body."""
    builtin = REGISTRY.get(definition.task_name)
    if builtin is not None and builtin.run_type is GatherInput:
        return builtin
    return _spec(msgspec.json.encode(definition))


@functools.lru_cache(maxsize=256)
def _spec(encoded: bytes) -> TaskSpec:
    definition = msgspec.json.decode(encoded, type=Definition)
    return TaskSpec(
        name=definition.task_name,
        queue="system",
        input_type=input_struct(definition),
        output_type=output_struct(definition),
        body=gather_artifacts,
        gpu_rule=never,
        description=definition.description or definition.task_name,
        run_type=GatherInput,
    )


def actor_of(task_name: str) -> TaskSpec | None:
    """Return the spec whose actor runs stage ``task_name``: its own, or ``pipeline.run`` for a kept pipeline."""
    spec = REGISTRY.get(task_name)
    if spec is None and task_name.startswith(PREFIX):
        return REGISTRY.get(RUN_TASK)
    return spec


def register() -> None:
    """Register ``pipeline.run`` and each built-in pipeline (called once every other task is registered)."""
    if RUN_TASK in REGISTRY:
        return
    REGISTRY[RUN_TASK] = TaskSpec(
        name=RUN_TASK,
        queue="system",
        input_type=RunInput,
        output_type=RunOutput,
        body=gather_artifacts,
        gpu_rule=never,
        description="Run a pipeline by name (built-in, or kept with PUT /v1/pipelines/{name}) on its input",
        run_type=GatherInput,
    )
    for definition in builtin_definitions().values():
        REGISTRY[definition.task_name] = _spec(msgspec.json.encode(definition))
