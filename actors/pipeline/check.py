"""Check a pipeline definition against the task schemas before it is kept or run.

Every error names its path in the definition: an unknown task or input field, a reference to a stage that
is not in the pipeline or to an output field its task does not have, a type mismatch, a cycle.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

import msgspec

from actors.pipeline.definition import PREFIX, PYTHON_TYPES, Definition, DefinitionError
from actors.pipeline.templates import CONDITION, GATHER_OPERATORS, INPUT_REFERENCE, OPERATOR_KEYS, operator_of
from actors.spec import REGISTRY
from actors.validation import closest
from state.references import REFERENCE, SYNTAX, malformed_reference

_INPUT_KINDS = {
    "string": {"str"},
    "path": {"str"},
    "boolean": {"bool"},
    "integer": {"int"},
    "number": {"float"},
    "list": {"list"},
    "list[string]": {"list"},
    "object": {"dict"},
    "any": None,
}
_KIND_OF = {
    msgspec.inspect.StrType: "str",
    msgspec.inspect.IntType: "int",
    msgspec.inspect.FloatType: "float",
    msgspec.inspect.BoolType: "bool",
    msgspec.inspect.NoneType: "null",
    msgspec.inspect.ListType: "list",
    msgspec.inspect.TupleType: "list",
    msgspec.inspect.VarTupleType: "list",
    msgspec.inspect.SetType: "list",
    msgspec.inspect.DictType: "dict",
    msgspec.inspect.StructType: "dict",
    msgspec.inspect.TypedDictType: "dict",
}


def kinds(info: msgspec.inspect.Type | None) -> set[str] | None:
    """Return the JSON kinds a type holds (``None``: any)."""
    if info is None or isinstance(info, msgspec.inspect.AnyType):
        return None
    if isinstance(info, msgspec.inspect.Metadata):
        return kinds(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        found: set[str] = set()
        for member in info.types:
            inner = kinds(member)
            if inner is None:
                return None
            found |= inner
        return found
    if isinstance(info, msgspec.inspect.LiteralType | msgspec.inspect.EnumType):
        values = info.values if isinstance(info, msgspec.inspect.LiteralType) else [m.value for m in info.cls]
        return {"str" if isinstance(v, str) else "int" for v in values}
    kind = _KIND_OF.get(type(info))
    return {kind} if kind else None


def _fits(source: set[str] | None, target: set[str] | None) -> bool:
    if source is None or target is None:
        return True
    widened = source | ({"float"} if "int" in source else set())
    return bool(widened & target) or (source <= {"null"})


def _fields(struct: type[msgspec.Struct]) -> dict[str, msgspec.inspect.Field]:
    info = msgspec.inspect.type_info(struct)
    return {f.encode_name: f for f in info.fields}  # type: ignore[attr-defined]


class _Checker:
    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.names = [stage.task for stage in definition.stages]
        self.edges: dict[str, set[str]] = {name: set() for name in self.names}

    def run(self) -> None:
        for key, spec in self.definition.inputs.items():
            if spec.default is not None:
                try:
                    msgspec.convert(spec.default, PYTHON_TYPES[spec.type])
                except msgspec.ValidationError as exc:
                    raise DefinitionError(
                        f"the default does not fit the type {spec.type}: {exc}", f"inputs.{key}.default"
                    ) from None
        seen: set[str] = set()
        for index, stage in enumerate(self.definition.stages):
            self._stage(index, stage.task, seen)
        for index, stage in enumerate(self.definition.stages):
            at = f"stages[{index}]"
            if stage.when is not None:
                self._condition(stage.when, f"{at}.when")
            fields = _fields(REGISTRY[stage.task].input_type)
            hints = typing.get_type_hints(REGISTRY[stage.task].input_type, include_extras=True)
            for key, value in stage.input.items():
                if key not in fields:
                    near = closest(key, list(fields))
                    hint = f"; did you mean {near!r}?" if near else ""
                    raise DefinitionError(f"task {stage.task!r} has no input field {key!r}{hint}", f"{at}.input.{key}")
                self._value(value, fields[key].type, f"{at}.input.{key}", stage.task, hints.get(key))
            missing = [n for n, f in fields.items() if f.required and n not in stage.input]
            if missing:
                raise DefinitionError(f"task {stage.task!r} needs input field {missing[0]!r}", f"{at}.input")
        for key, value in self.definition.output.items():
            self._value(value, None, f"output.{key}", None, None, gather_ok=True)
        self._acyclic()

    def _stage(self, index: int, task: str, seen: set[str]) -> None:
        at = f"stages[{index}].task"
        if task.startswith(PREFIX):
            raise DefinitionError(f"a pipeline cannot hold a pipeline ({task!r}); list its stages instead", at)
        if task not in REGISTRY:
            near = closest(task, list(REGISTRY))
            hint = f"; did you mean {near!r}?" if near else "; GET /v1/task-types lists the tasks"
            raise DefinitionError(f"unknown task {task!r}{hint}", at)
        if task in seen:
            raise DefinitionError(f"task {task!r} appears twice: a workflow holds one stage per task", at)
        seen.add(task)

    def _condition(self, text: str, at: str) -> None:
        match = CONDITION.match(text)
        if match is None:
            raise DefinitionError(
                f"{text!r} is not a condition: write inputs.a, not inputs.a, "
                "inputs.a == inputs.b or inputs.a != inputs.b",
                at,
            )
        for name in (match.group(2), match.group(4)):
            if name is not None and name not in self.definition.inputs:
                raise DefinitionError(f"the condition names input {name!r}, which the pipeline does not declare", at)

    def _value(
        self, value: Any, target: Any, at: str, owner: str | None, hint: Any, *, gather_ok: bool = False
    ) -> None:
        op = operator_of(value)
        if op is not None:
            self._operator(op, value, target, at, owner, gather_ok=gather_ok)
        elif isinstance(value, str):
            self._text(value, target, at, owner, hint)
        elif isinstance(value, Mapping):
            fields = _nested_fields(target)
            for key, item in value.items():
                self._value(item, fields.get(key) if fields else None, f"{at}.{key}", owner, None, gather_ok=gather_ok)
        elif isinstance(value, list):
            item_type = _item_type(target)
            for i, item in enumerate(value):
                self._value(item, item_type, f"{at}[{i}]", owner, None, gather_ok=gather_ok)
        elif hint is not None:
            _convert(value, hint, at)
        elif not _fits(_literal_kind(value), kinds(target)):
            raise DefinitionError(f"{value!r} does not fit the field's type", at)

    def _operator(
        self, op: str, value: Mapping[str, Any], target: Any, at: str, owner: str | None, *, gather_ok: bool
    ) -> None:
        known = OPERATOR_KEYS.get(op)
        if known is None or not set(value) <= known or (op == "$if" and "then" not in value):
            raise DefinitionError(f"{op!r} is not an operator here (known: {', '.join(sorted(OPERATOR_KEYS))})", at)
        if op in GATHER_OPERATORS and not gather_ok:
            raise DefinitionError(f"{op} is evaluated by the pipeline's own stage: use it in `output` only", at)
        if op == "$first":
            if not isinstance(value["$first"], list) or not value["$first"]:
                raise DefinitionError("$first takes a non-empty list of alternatives", at)
            for i, alt in enumerate(value["$first"]):
                self._value(alt, target, f"{at}.$first[{i}]", owner, None, gather_ok=gather_ok)
        elif op == "$if":
            self._condition(value["$if"], f"{at}.$if")
            for branch in ("then", "else"):
                if branch in value:
                    self._value(value[branch], target, f"{at}.{branch}", owner, None, gather_ok=gather_ok)
        elif op == "$pluck":
            self._value(value["$pluck"], None, f"{at}.$pluck", owner, None, gather_ok=True)
        else:
            inner = value[op]
            if op in ("$entries", "$merge") and not isinstance(inner, list):
                raise DefinitionError(f"{op} takes a list", at)
            self._value(inner, None, f"{at}.{op}", owner, None, gather_ok=gather_ok)

    def _text(self, text: str, target: Any, at: str, owner: str | None, hint: Any) -> None:
        bad = malformed_reference(INPUT_REFERENCE.sub("", text))
        if bad is not None:
            raise DefinitionError(f"`{bad}` is not a reference; write {SYNTAX} or ${{{{ inputs.<name> }}}}", at)
        whole = text.strip()
        for match in INPUT_REFERENCE.finditer(text):
            spec = self.definition.inputs.get(match.group(1))
            if spec is None:
                raise DefinitionError(
                    f"unknown input {match.group(1)!r}; the inputs are {', '.join(self.definition.inputs) or 'none'}",
                    at,
                )
            if match.group(0) == whole and not _fits(_INPUT_KINDS[spec.type], kinds(target)):
                raise DefinitionError(
                    f"input {match.group(1)!r} is {spec.type}, which does not fit the field's type", at
                )
        for match in REFERENCE.finditer(text):
            self._reference(match, target if match.group(0) == whole else None, at, owner)
        if not REFERENCE.search(text) and not INPUT_REFERENCE.search(text) and hint is not None:
            _convert(text, hint, at)
        elif (
            REFERENCE.fullmatch(whole) is None
            and INPUT_REFERENCE.fullmatch(whole) is None
            and not _fits({"str"}, kinds(target))
        ):
            raise DefinitionError("a text with references inside is a string, which does not fit the field's type", at)

    def _reference(self, match: Any, target: Any, at: str, owner: str | None) -> None:
        stage, path = match.group(1), match.group(2).strip(".").split(".")
        if stage not in self.edges:
            raise DefinitionError(f"unknown stage {stage!r}; the stages are {', '.join(self.names)}", at)
        if stage == owner:
            raise DefinitionError(f"stage {stage!r} refers to its own output", at)
        outputs = _fields(REGISTRY[stage].output_type)
        if path[0] not in outputs:
            raise DefinitionError(
                f"task {stage!r} has no output field {path[0]!r}; its fields are {', '.join(outputs)}", at
            )
        if len(path) == 1 and not _fits(kinds(outputs[path[0]].type), kinds(target)):
            raise DefinitionError(f"output {stage}.{path[0]} does not fit the field's type", at)
        if owner is not None:
            self.edges[owner].add(stage)

    def _acyclic(self) -> None:
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                loop = [*trail[trail.index(name) :], name]
                raise DefinitionError(
                    f"the stages form a cycle: {' -> '.join(loop)}", f"stages[{self.names.index(name)}].input"
                )
            state[name] = 1
            for after in sorted(self.edges[name]):
                visit(after, [*trail, name])
            state[name] = 2

        for name in self.names:
            visit(name, [])


def _convert(value: Any, hint: Any, at: str) -> None:
    try:
        msgspec.convert(value, hint)
    except msgspec.ValidationError as exc:
        raise DefinitionError(f"{value!r} does not fit the field: {exc}", at) from None


def _literal_kind(value: Any) -> set[str]:
    return {"null" if value is None else "bool" if isinstance(value, bool) else type(value).__name__}


def _nested_fields(target: Any) -> dict[str, Any] | None:
    info = target.type if isinstance(target, msgspec.inspect.Metadata) else target
    if isinstance(info, msgspec.inspect.StructType):
        return {f.encode_name: f.type for f in info.fields}
    return None


def _item_type(target: Any) -> Any:
    info = target.type if isinstance(target, msgspec.inspect.Metadata) else target
    if isinstance(info, msgspec.inspect.UnionType):
        info = next((t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)), None)
        info = info.type if isinstance(info, msgspec.inspect.Metadata) else info
    return info.item_type if isinstance(info, msgspec.inspect.ListType) else None


def check_definition(definition: Definition) -> None:
    """Refuse a definition that could not run.

    Raises:
        DefinitionError: naming the path of the first error.
    """
    _Checker(definition).run()
