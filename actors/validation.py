"""Check a stage's ``input_data`` against its task's input Struct, at submit and at start."""

from __future__ import annotations

import difflib
import functools
import re
import typing
from pathlib import Path
from typing import Any

import msgspec

from actors.errors import InputError
from actors.spec import REGISTRY, TaskSpec
from actors.webhooks.netpolicy import UrlRefused, check_url_syntax
from config import Settings
from state import PathOutsideRoot
from state.references import SYNTAX, find_references, is_reference, malformed_reference
from state.storage import resolve_in_root

PATH_MARK = "storage_path"
# A storage-root path (relative, or absolute inside the root).
StoragePath = msgspec.Meta(
    min_length=1, max_length=4096, extra={PATH_MARK: True}, description="Path inside the storage root"
)

_AT = re.compile(r"`\$(.*?)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")
_ENUM = re.compile(r"^Invalid enum value ")
_URL_PREFIXES = ("http://", "https://")


class InvalidInput(InputError):
    """Raised when ``input_data`` does not match the task's input; ``pointer`` names the field."""

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(message)
        self.pointer = pointer


def closest(name: str, known: list[str]) -> str | None:
    """Return the known name ``name`` was most likely meant to be, if any is close."""
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_field(name: str, known: list[str], pointer: str) -> InvalidInput:
    """Return the error for an unknown field: the closest known name, and every allowed one."""
    close = closest(name, known)
    hint = f"; did you mean `{close}`?" if close else ""
    return InvalidInput(
        f"unknown field `{name}` at `{pointer}`{hint} Allowed fields: {', '.join(known)}", f"{pointer}.{name}"
    )


def _choices(info: Any) -> list[Any] | None:
    """Return the values a Literal or Enum type (possibly optional or constrained) allows."""
    if isinstance(info, msgspec.inspect.LiteralType):
        return list(info.values)
    if isinstance(info, msgspec.inspect.EnumType):
        return [member.value for member in info.cls]
    if isinstance(info, msgspec.inspect.Metadata):
        return _choices(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        found = [c for t in info.types if (c := _choices(t)) is not None]
        return [v for values in found for v in values] or None
    return None


@functools.cache
def _fields(input_type: type[msgspec.Struct]) -> dict[str, Any]:
    info = msgspec.inspect.type_info(input_type)
    return {f.encode_name: f for f in info.fields}  # type: ignore[attr-defined]


def _invalid(exc: msgspec.ValidationError, input_type: type[msgspec.Struct], prefix: str = "") -> InvalidInput:
    text = str(exc)
    match = _AT.search(text)
    pointer = "$.input_data" + prefix + (match.group(1) if match else "")
    unknown = _UNKNOWN.match(text)
    if unknown and pointer == "$.input_data":
        return unknown_field(unknown.group(1), list(_fields(input_type)), pointer)
    if unknown:
        return InvalidInput(f"unknown field `{unknown.group(1)}` at `{pointer}`", f"{pointer}.{unknown.group(1)}")
    message = _AT.sub(f"`{pointer}`", text) if match else f"{text} - at `{pointer}`"
    field = _fields(input_type).get(pointer.removeprefix("$.input_data."))
    allowed = _choices(field.type) if field is not None and _ENUM.match(text) else None
    if allowed:
        message += f"; allowed values: {', '.join(map(str, allowed))}"
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
        raise _invalid(exc, spec.input_type) from None


def decode_run_input(spec: TaskSpec, data: dict[str, Any]) -> msgspec.Struct:
    """Convert a started stage's resolved ``input_data`` to the Struct its body takes (``run_type`` if set).

    Raises:
        InvalidInput: a field is missing, unknown or has a bad value.
    """
    run_type = spec.run_type or spec.input_type
    try:
        return msgspec.convert(data, run_type)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, run_type) from None


def _literal_paths(spec: TaskSpec, data: dict[str, Any]) -> dict[str, str]:
    """Return the path fields whose value is a plain storage path (not a URL, not a reference)."""
    found = {}
    for name in path_fields(spec.input_type):
        value = data.get(name)
        if isinstance(value, str) and not value.startswith(_URL_PREFIXES) and not find_references(value):
            found[name] = value
    return found


def check_paths(spec: TaskSpec, data: dict[str, Any], root: Path) -> None:
    """Refuse path fields that leave the storage root or name nothing (references are checked when they resolve).

    It touches the file system (realpath, stat): call it off the event loop.

    Raises:
        InvalidInput: a path uses ``..``, leaves the root through a symlink, is absolute elsewhere, or is missing.
    """
    for name in path_fields(spec.input_type):
        value = data.get(name)
        if isinstance(value, str) and value.startswith(_URL_PREFIXES):
            try:
                check_url_syntax(value)
            except UrlRefused as exc:
                raise InvalidInput(str(exc), f"$.input_data.{name}") from None
    for name, value in _literal_paths(spec, data).items():
        try:
            path = resolve_in_root(root, value)
            missing = not path.exists()
        except PathOutsideRoot as exc:
            raise InvalidInput(str(exc), f"$.input_data.{name}") from None
        except OSError as exc:  # a name too long for the file system, a path through a file
            message = f"{value[:200]!r} is not a usable path: {exc.strerror}"
            raise InvalidInput(message, f"$.input_data.{name}") from None
        if missing:
            raise InvalidInput(
                f"no file {value!r} in the storage root (paths are relative to it); upload it first "
                "(POST /v1/files, `taskgate upload`) or name an earlier stage's output with a reference",
                f"$.input_data.{name}",
            )


def check_reference_syntax(value: Any, pointer: str = "$.input_data") -> None:
    """Refuse any ``${{ ... }}`` that is not a well-formed reference, saying what the syntax is.

    Raises:
        InvalidInput: a value holds a malformed reference.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            check_reference_syntax(item, f"{pointer}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_reference_syntax(item, f"{pointer}[{index}]")
    elif isinstance(value, str) and (bad := malformed_reference(value)) is not None:
        raise InvalidInput(f"`{bad}` is not a reference; write {SYNTAX}{_reference_hint(bad)}", pointer)


def _reference_hint(bad: str) -> str:
    """Suggest the reference a malformed one probably meant (``ffmpeg.extract_audio.audio_path``)."""
    inner = bad.removeprefix("${{").removesuffix("}}").strip().removeprefix("stages.")
    for name in sorted(REGISTRY, key=len, reverse=True):
        if inner.startswith(name + "."):
            field = inner[len(name) + 1 :].removeprefix("output.")
            return f", e.g. ${{{{ stages.{name}.output.{field} }}}}"
    return ""


def validate_submit(spec: TaskSpec, data: dict[str, Any]) -> None:
    """Validate ``input_data`` at submit; fields that are whole references are checked at start.

    CPU only: the storage-root rules, which touch the file system, are ``check_paths``.

    Raises:
        InvalidInput: the input cannot be run as given.
    """
    check_reference_syntax(data)
    refs = {k for k, v in data.items() if is_reference(v)}
    if not refs:
        decode_input(spec, data)
    else:
        known = _fields(spec.input_type)
        for name, value in data.items():
            if name not in known:
                raise unknown_field(name, list(known), "$.input_data")
            if name in refs:
                continue
            try:
                msgspec.convert(value, _field_type(spec.input_type, name))
            except msgspec.ValidationError as exc:
                raise _invalid(exc, spec.input_type, f".{name}") from None
        missing = [n for n, f in known.items() if f.required and n not in data]
        if missing:
            raise InvalidInput(f"Object missing required field `{missing[0]}`", "$.input_data")


def check_io(spec: TaskSpec, data: dict[str, Any], settings: Settings) -> None:
    """Run the submit checks that touch the file system: storage-root paths, then the task's own ``check``.

    Blocking (stat, realpath, reading voice files): the gateway calls it through ``asyncio.to_thread``.

    Raises:
        InvalidInput: the input cannot be run as given.
    """
    check_paths(spec, data, settings.share_root)
    if spec.check is not None:
        spec.check(settings, data)


def _field_type(struct: type[msgspec.Struct], name: str) -> Any:
    return typing.get_type_hints(struct, include_extras=True).get(name)
