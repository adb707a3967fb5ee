"""Expand a pipeline and its input into the stages of one workflow, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from actors.pipeline.definition import Definition, DefinitionError
from actors.pipeline.templates import DROP, condition, fill
from state.references import REFERENCE, find_references


class GatherInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the pipeline's own stage holds: the submitted input, the output template, the stage weights."""

    pipeline: str
    input: dict[str, Any]
    output: dict[str, Any]
    weights: dict[str, float]
    after: dict[str, Any] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class Expansion:
    """The inner stages in order (task_name, input_data), then the pipeline's own stage input."""

    stages: list[tuple[str, dict[str, Any]]]
    gather: dict[str, Any]


def expand(definition: Definition, inputs: dict[str, Any]) -> Expansion:
    """Return the stages ``inputs`` (already checked against the pipeline's input Struct) create.

    A stage whose ``when`` is false is not created; a field naming an input not given, or a stage not
    created, is left out (the task's default applies).

    Raises:
        DefinitionError: a stage needs a field that this input leaves without a value.
    """
    created = {s.task for s in definition.stages if s.when is None or condition(s.when, inputs)}
    stages: list[tuple[str, dict[str, Any]]] = []
    for index, spec in enumerate(definition.stages):
        if spec.task not in created:
            continue
        data = fill(spec.input, inputs, created, REFERENCE)
        missing = [k for k in spec.input if k not in data and _required(spec.task, k)]
        if missing:
            raise DefinitionError(
                f"stage {spec.task!r} needs {missing[0]!r}, which this input leaves unset", f"stages[{index}].input"
            )
        stages.append((spec.task, data))
    output = fill(definition.output, inputs, created, REFERENCE)
    used = find_references(output) | {name for _, data in stages for name in find_references(data)}
    after = {name: _any_field(name) for name, _ in stages if name not in used}
    weights = {s.task: s.weight for s in definition.stages if s.task in created}
    gather = GatherInput(pipeline=definition.name, input=inputs, output=output, weights=weights, after=after)
    return Expansion(stages=stages, gather=msgspec.to_builtins(gather))


def _required(task: str, field: str) -> bool:
    from actors.spec import REGISTRY  # noqa: PLC0415  (complete once actors.registry is imported)

    info = msgspec.inspect.type_info(REGISTRY[task].input_type)
    return any(f.encode_name == field and f.required for f in info.fields)  # type: ignore[attr-defined]


def _any_field(task: str) -> str:
    """Return a reference to a stage's first output field: the pipeline's stage waits for it to end."""
    from actors.spec import REGISTRY  # noqa: PLC0415

    first = msgspec.inspect.type_info(REGISTRY[task].output_type).fields[0]  # type: ignore[attr-defined]
    return f"${{{{ stages.{task}.output.{first.encode_name} }}}}"


__all__ = ["DROP", "Expansion", "GatherInput", "expand"]
