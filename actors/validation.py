"""Check a stage's ``input_data`` against its task's input Struct, at submit and at start."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import msgspec

from actors.errors import InputError
from actors.spec import TaskSpec
from actors.webhooks.netpolicy import UrlRefused, check_url_syntax
from config import Settings
from state import PathOutsideRoot
from state.references import find_references, is_reference
from state.storage import resolve_in_root

PATH_MARK = "storage_path"
# A storage-root path (relative, or absolute inside the root).
StoragePath = msgspec.Meta(
    min_length=1, max_length=4096, extra={PATH_MARK: True}, description="Path inside the storage root"
)

_AT = re.compile(r"`\$(.*?)`")


class InvalidInput(InputError):
    """Raised when ``input_data`` does not match the task's input; ``pointer`` names the field."""

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(message)
        self.pointer = pointer


def _invalid(exc: msgspec.ValidationError, prefix: str = "") -> InvalidInput:
    text = str(exc)
    match = _AT.search(text)
    pointer = "$.input_data" + prefix + (match.group(1) if match else "")
    message = _AT.sub(f"`{pointer}`", text) if match else f"{text} - at `{pointer}`"
    return InvalidInput(message, pointer)


@functools.cache
def path_fields(input_type: type[msgspec.Struct]) -> tuple[str, ...]:
    """Return the names of the fields that hold storage-root paths (possibly optional)."""
    names = []
    for field in msgspec.inspect.type_info(input_type).fields:  # type: ignore[attr-defined]
        options = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        for option in options:
            if isinstance(option, msgspec.inspect.Metadata) and (option.extra or {}).get(PATH_MARK):
                names.append(field.encode_name)
    return tuple(names)


def decode_input(spec: TaskSpec, data: dict[str, Any]) -> msgspec.Struct:
    """Convert resolved ``input_data`` to the task's input Struct.

    Raises:
        InvalidInput: a field is missing, unknown or has a bad value.
    """
    try:
        return msgspec.convert(data, spec.input_type)
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from None


def check_paths(spec: TaskSpec, data: dict[str, Any], root: Path) -> None:
    """Refuse path fields that leave the storage root (references are checked when they resolve).

    Raises:
        InvalidInput: a path uses ``..``, leaves the root through a symlink, or is absolute elsewhere.
    """
    for name in path_fields(spec.input_type):
        value = data.get(name)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            try:
                check_url_syntax(value)
            except UrlRefused as exc:
                raise InvalidInput(str(exc), f"$.input_data.{name}") from None
        elif isinstance(value, str) and not find_references(value):
            try:
                resolve_in_root(root, value)
            except PathOutsideRoot as exc:
                raise InvalidInput(str(exc), f"$.input_data.{name}") from None


def validate_submit(spec: TaskSpec, data: dict[str, Any], settings: Settings) -> None:
    """Validate ``input_data`` at submit; fields that are whole references are checked at start.

    The task's own ``check`` runs last (it sees the raw input and skips the references in it).

    Raises:
        InvalidInput: the input cannot be run as given.
    """
    refs = {k for k, v in data.items() if is_reference(v)}
    if not refs:
        decode_input(spec, data)
    else:
        info = msgspec.inspect.type_info(spec.input_type)
        known = {f.encode_name: f for f in info.fields}  # type: ignore[attr-defined]
        for name, value in data.items():
            if name not in known:
                raise InvalidInput(f"Object contains unknown field `{name}`", "$.input_data")
            if name in refs:
                continue
            annotation = spec.input_type.__annotations__.get(name)
            try:
                msgspec.convert(value, _field_type(spec.input_type, name, annotation))
            except msgspec.ValidationError as exc:
                raise _invalid(exc, f".{name}") from None
        missing = [n for n, f in known.items() if f.required and n not in data]
        if missing:
            raise InvalidInput(f"Object missing required field `{missing[0]}`", "$.input_data")
    check_paths(spec, data, settings.share_root)
    if spec.check is not None:
        spec.check(settings, data)


def _field_type(struct: type[msgspec.Struct], name: str, annotation: Any) -> Any:
    import typing  # noqa: PLC0415

    hints = typing.get_type_hints(struct, include_extras=True)
    return hints.get(name, annotation)
