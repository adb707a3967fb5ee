"""Messages for a ``POST /v1/tasks`` body that is JSON but not a task request."""

from __future__ import annotations

import re

import msgspec

from actors.validation import InvalidInput, closest, unknown_field
from state import TaskRequest

_UNKNOWN_TOP = re.compile(r"^Object contains unknown field `([^`]*)`$")
_AT = re.compile(r" - at `(\$[^`]*)`$")
_FIELDS = [f.encode_name for f in msgspec.structs.fields(TaskRequest)]


def request_error(exc: msgspec.ValidationError, body: bytes) -> InvalidInput:
    """Explain why ``body`` is not a task request, pointing at the field (or the missing ``input_data``)."""
    text = str(exc)
    unknown = _UNKNOWN_TOP.match(text)
    if unknown is None:
        at = _AT.search(text)
        return InvalidInput(text, at.group(1) if at else "$")
    error = unknown_field(unknown.group(1), _FIELDS, "$")
    # `input` (or another near miss) for `input_data`: say what is missing, not only what is extra.
    if closest(unknown.group(1), _FIELDS) == "input_data" and b'"input_data"' not in body:
        return InvalidInput(f"`input_data` is missing; {error}", "$.input_data")
    return error
