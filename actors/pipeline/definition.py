"""Pipeline definitions: the YAML/JSON format, read into Structs and checked against the task schemas.

A definition names typed ``inputs``, ``stages`` (one per task, each with its ``input`` template) and an
``output`` template. Templates hold ``${{ inputs.<name> }}``, ``${{ stages.<task>.output.<field> }}`` and the
operators of ``actors.pipeline.templates``. ``check_definition`` refuses anything that could not run, naming
the path of the error (``stages[2].input.audio_path``).
"""

from __future__ import annotations

import json
import typing
from typing import Annotated, Any, Literal

import msgspec

from actors.validation import InvalidInput, StoragePath

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}\Z"
PREFIX = "pipeline."
InputType = Literal["string", "path", "boolean", "integer", "number", "list", "list[string]", "object", "any"]

PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "path": Annotated[str, StoragePath],
    "boolean": bool,
    "integer": int,
    "number": float,
    "list": list[Any],
    "list[string]": list[str],
    "object": dict[str, Any],
    "any": Any,
}


class DefinitionError(InvalidInput):
    """Raised when a pipeline definition cannot run; ``pointer`` is the path of the error in the definition."""


class InputSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One typed input of a pipeline."""

    type: InputType = "string"
    required: bool = False
    default: Any = None
    description: str = ""


class StageSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One stage: a task, its input template, when it is created, and its weight in the pipeline's progress."""

    task: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    input: dict[str, Any] = msgspec.field(default_factory=dict)
    when: str | None = None
    weight: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 1.0


class Definition(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A pipeline: ``name`` (submitted as ``pipeline.<name>``), inputs, stages and the output it gathers."""

    name: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
    description: str = ""
    inputs: dict[str, InputSpec] = msgspec.field(default_factory=dict)
    stages: Annotated[list[StageSpec], msgspec.Meta(min_length=1, max_length=32)]
    output: Annotated[dict[str, Any], msgspec.Meta(min_length=1)]

    @property
    def task_name(self) -> str:
        """Return the task_name the pipeline is submitted as (and its own stage's name)."""
        return PREFIX + self.name


def parse_definition(text: str | bytes, *, name: str | None = None) -> Definition:
    """Read a definition written in YAML or JSON (JSON is YAML); ``name``, when given, must match or fills it.

    Raises:
        DefinitionError: the text does not parse or does not have the definition's shape.
    """
    import yaml  # noqa: PLC0415  (read on load and PUT only)

    try:
        doc = msgspec.json.decode(text)  # JSON first: it joins escaped surrogate pairs, which YAML leaves apart
    except msgspec.DecodeError:
        try:
            doc = yaml.safe_load(text)
        except (yaml.YAMLError, UnicodeError) as exc:
            raise DefinitionError(f"the definition is neither YAML nor JSON: {exc}", "$") from None
    if not isinstance(doc, dict):
        raise DefinitionError("a definition is a mapping with name, inputs, stages and output", "$")
    if name is not None and doc.setdefault("name", name) != name:
        raise DefinitionError(f"the definition is named {doc['name']!r}, not {name!r} as in the path", "name")
    try:
        doc = msgspec.json.decode(msgspec.json.encode(doc))  # YAML-only values (dates, odd keys) become JSON's
    except (UnicodeError, TypeError) as exc:
        raise DefinitionError(f"the definition is not plain JSON data: {exc}", "$") from None
    inputs = doc.get("inputs")
    for key, spec in inputs.items() if isinstance(inputs, dict) else ():
        _convert(spec, InputSpec, f"inputs.{key}")  # each by name: msgspec says `inputs[...]` for map values
    definition: Definition = _convert(doc, Definition, "")
    return definition


def _convert(value: Any, into: type[msgspec.Struct], prefix: str) -> Any:
    try:
        return msgspec.convert(value, into)
    except msgspec.ValidationError as exc:
        message = str(exc)
        at = message.rsplit("`$", 1)[1].rstrip("`") if "`$" in message else ""
        path = (prefix + at).lstrip(".") or "$"
        message = message.split(" - at `$", maxsplit=1)[0]
        if path.endswith(".type") and path.startswith("inputs."):
            message += f"; the input types are {', '.join(typing.get_args(InputType))}"
        raise DefinitionError(f"{message} at `{path}`", path) from None


def encode_definition(definition: Definition) -> bytes:
    """Return the definition as the JSON kept in Redis."""
    return msgspec.json.encode(definition)


def decode_definition(raw: bytes | str) -> Definition:
    """Read back a definition kept in Redis (it was checked when it was stored)."""
    return msgspec.json.decode(raw, type=Definition)


def input_struct(definition: Definition) -> type[msgspec.Struct]:
    """Return the Struct of a pipeline's input: its schema, its defaults and the storage-path marks."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for key, spec in definition.inputs.items():
        kind = PYTHON_TYPES[spec.type]
        if spec.required:
            fields.append((key, kind))
        elif spec.default is not None:
            fields.append((key, kind, msgspec.field(default_factory=_constant(spec.default))))
        else:
            fields.append((key, kind | None if kind is not Any else Any, None))
    fields.sort(key=len)  # required fields first (msgspec wants them before the defaulted ones)
    struct = msgspec.defstruct(_camel(definition.name) + "Input", fields, forbid_unknown_fields=True, kw_only=True)
    struct.__doc__ = f"Input of ``{definition.task_name}``."
    return struct


def output_struct(definition: Definition) -> type[msgspec.Struct]:
    """Return a Struct naming the pipeline's output fields (their types are those of the artifacts gathered)."""
    struct = msgspec.defstruct(_camel(definition.name) + "Output", [(k, Any, None) for k in definition.output])
    struct.__doc__ = f"Output of ``{definition.task_name}``: every artifact of its stages."
    return struct


def describe(definition: Definition) -> dict[str, Any]:
    """Return the definition as ``GET /v1/pipelines`` lists it."""
    return {"task_name": definition.task_name, **json.loads(encode_definition(definition))}


def _constant(value: Any) -> Any:
    return lambda: json.loads(json.dumps(value))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
