"""What the server checks beyond msgspec's schemas, said in JSON Schema for the API description.

Paths and URLs get the patterns the gateway enforces; a task input whose ``__post_init__`` ties fields
together gets its rule here (a test holds this table to every such input). A rule JSON Schema cannot state
(one number at most another) is named in ``ORDERED`` and in the schema's description.
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.validation import path_fields
from gateway.paths import FILE_PATH_PATTERN, INPUT_PATH_MAX_CHARS

# An http(s) URL the submit check accepts: a host name (its last label starts with a letter: numeric hosts
# must be canonical dotted quads, which this pattern leaves out), an optional port, no credentials, no
# whitespace or control characters.
_PORT = r"(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?"
URL_PATTERN = rf"^https?://(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*{_PORT}(?:[/?#][^\s\x00-\x1f\x7f]*)?\Z"
URL_MAX_LENGTH = 2048


def _given(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def exactly_one(*names: str) -> dict[str, Any]:
    """Return a schema that holds when exactly one of ``names`` is present and not null."""
    return {"oneOf": [_given(n) for n in names]}


def not_both(first: str, *others: str) -> dict[str, Any]:
    """Return a schema that holds unless ``first`` and any of ``others`` are given together."""
    return {"not": {"allOf": [_given(first), {"anyOf": [_given(n) for n in others]}]}}


# input Struct name -> JSON Schema of its cross-field rule
CROSS_FIELD: dict[str, dict[str, Any]] = {
    "DetectAreaInput": exactly_one("video_path", "keyframe_dir"),
    "PerformOcrInput": exactly_one("cropped_images_dir", "manifest_path"),
    "DiarizeInput": not_both("num_speakers", "min_speakers", "max_speakers"),
}

# input Struct name -> (smaller, larger, strictly smaller): pairs JSON Schema cannot compare
ORDERED: dict[str, list[tuple[str, str, bool]]] = {
    "SplitAudioInput": [("min_duration_s", "max_duration_s", False)],
    "DiarizeInput": [("min_speakers", "max_speakers", False)],
    "ValidateInput": [("min_speakers", "max_speakers", False), ("min_segment_s", "max_segment_s", True)],
    "RemoveSubtitlesInput": [("start_s", "end_s", True)],
}


def _string_options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    options = prop.get("anyOf", [prop])
    return [o for o in options if o.get("type") == "string"]


def tighten_input(name: str, input_type: type[msgspec.Struct], schema: dict[str, Any]) -> None:
    """Add the path patterns and cross-field rules of one task input to its component ``schema``."""
    for field in path_fields(input_type):
        for option in _string_options(schema["properties"][field]):
            option["anyOf"] = [
                {
                    "pattern": FILE_PATH_PATTERN,
                    "maxLength": INPUT_PATH_MAX_CHARS,
                    "description": "A path inside the storage root",
                },
                {"pattern": URL_PATTERN, "maxLength": URL_MAX_LENGTH, "description": "An http(s) URL to download"},
            ]
            option["description"] = (
                "A path inside the storage root (at most 2048 characters, names separated by '/', each at most "
                "255 bytes, no '.' or '..', not in .taskgate-tmp; an absolute path inside the root works too; the "
                "file must exist at submit) or an http(s) URL to download"
            )
    if name in CROSS_FIELD:
        schema.update(CROSS_FIELD[name])
    for low, high, strict in ORDERED.get(name, []):
        relation = "under" if strict else "at most"
        schema["description"] = f"{schema.get('description', '')} `{low}` must be {relation} `{high}`.".strip()


def callback_schema() -> dict[str, Any]:
    """Return the schema of ``callback``: a URL the network policy may allow, or null."""
    url = {
        "type": "string",
        "maxLength": URL_MAX_LENGTH,
        "pattern": URL_PATTERN,
        "description": "The http(s) URL the signed event is POSTed to; denied networks and hosts get 422",
    }
    return {"anyOf": [url, {"type": "null"}], "default": None}
