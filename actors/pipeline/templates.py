"""Templates of pipeline definitions: ``${{ inputs.x }}``, stage references, conditions and operators.

Expansion (at submit, ``fill``) replaces input references with the submitted values, drops fields that
name an input left out or a stage not created, and evaluates ``$first``, ``$if`` and ``$iso639_2``. The
pipeline's own stage (``gather``) evaluates ``$entries``, ``$merge`` and ``$pluck`` once the stage
references in its output have resolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

INPUT_REFERENCE = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_]+)\s*\}\}")
CONDITION = re.compile(r"^\s*(not\s+)?inputs\.([A-Za-z0-9_]+)\s*(?:(==|!=)\s*inputs\.([A-Za-z0-9_]+)\s*)?$")
GATHER_OPERATORS = {"$entries", "$merge", "$pluck"}
OPERATOR_KEYS = {"$first": {"$first"}, "$if": {"$if", "then", "else"}, "$iso639_2": {"$iso639_2"}}
OPERATOR_KEYS |= {"$entries": {"$entries"}, "$merge": {"$merge"}, "$pluck": {"$pluck", "field"}}
# ISO 639-1 -> 639-2/T for subtitle track tags; any other language is tagged "und" (undetermined).
_ISO639_2 = {
    "ar": "ara", "de": "deu", "en": "eng", "es": "spa", "fr": "fra", "hi": "hin", "it": "ita", "ja": "jpn",
    "ko": "kor", "nl": "nld", "pl": "pol", "pt": "por", "ru": "rus", "sv": "swe", "tr": "tur", "uk": "ukr",
    "zh": "zho", "vi": "vie", "id": "ind", "cs": "ces", "el": "ell", "he": "heb", "da": "dan", "fi": "fin",
}  # fmt: skip


class _Drop:
    """A field to leave out: it names an input not given or a stage not created."""


DROP = _Drop()


def operator_of(value: Any) -> str | None:
    """Return the operator a mapping is (its ``$`` key), if any."""
    if isinstance(value, Mapping):
        found = [k for k in value if isinstance(k, str) and k.startswith("$")]
        return found[0] if found else None
    return None


def condition(text: str, inputs: Mapping[str, Any]) -> bool:
    """Evaluate a ``when``: ``inputs.a``, ``not inputs.a``, ``inputs.a == inputs.b`` or ``inputs.a != inputs.b``.

    A list equals a value when every item does; a comparison with an input not given is unequal.
    """
    match = CONDITION.match(text)
    if match is None:  # pragma: no cover  (check_definition refused it)
        raise ValueError(text)
    negate, left, op, right = match.groups()
    result = bool(inputs.get(left)) if op is None else _same(inputs.get(left), inputs.get(right)) == (op == "==")
    return not result if negate else result


def _same(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    if isinstance(left, list) and not isinstance(right, list):
        return bool(left) and all(item == right for item in left)
    return bool(left == right)


def fill(value: Any, inputs: Mapping[str, Any], created: set[str], refs: Any) -> Any:  # noqa: PLR0911  (one return per operator)
    """Return ``value`` with inputs substituted and expansion operators applied; ``DROP`` when it cannot be set.

    ``refs`` is ``state.references.REFERENCE``'s pattern (stage references stay for the worker to resolve).
    """
    if isinstance(value, str):
        return _fill_text(value, inputs, created, refs)
    op = operator_of(value)
    if op == "$first":
        return next((v for alt in value["$first"] if (v := fill(alt, inputs, created, refs)) is not DROP), DROP)
    if op == "$if":
        chosen = value["then"] if condition(value["$if"], inputs) else value.get("else", DROP)
        return DROP if chosen is DROP else fill(chosen, inputs, created, refs)
    if op == "$iso639_2":
        code = fill(value["$iso639_2"], inputs, created, refs)
        return code if code is DROP else _ISO639_2.get(str(code).lower().split("-")[0], "und")
    if isinstance(value, Mapping):
        filled = {k: fill(v, inputs, created, refs) for k, v in value.items()}
        return {k: v for k, v in filled.items() if v is not DROP}
    if isinstance(value, list):
        items = [fill(v, inputs, created, refs) for v in value]
        return [v for v in items if v is not DROP]
    return value


def _fill_text(text: str, inputs: Mapping[str, Any], created: set[str], refs: Any) -> Any:
    if any(m.group(1) not in created for m in refs.finditer(text)):
        return DROP
    whole = INPUT_REFERENCE.fullmatch(text.strip())
    if whole:
        found = inputs.get(whole.group(1))
        return DROP if found is None else found
    missing = [m.group(1) for m in INPUT_REFERENCE.finditer(text) if inputs.get(m.group(1)) is None]
    if missing:
        return DROP
    return INPUT_REFERENCE.sub(lambda m: str(inputs[m.group(1)]), text)


def gather(value: Any) -> Any:  # noqa: PLR0911  (one return per operator)
    """Apply the output operators to a resolved output template.

    ``{$entries: [[key, value], ...]}`` makes a mapping (pairs whose key or value is null are left out);
    ``{$merge: [a, b, ...]}`` joins mappings; ``{$pluck: mapping, field: f}`` maps each key to its value's ``f``.
    """
    op = operator_of(value)
    if op == "$entries":
        pairs = [gather(pair) for pair in value["$entries"]]
        return {str(k): v for k, v in pairs if k is not None and v is not None}
    if op == "$merge":
        merged: dict[str, Any] = {}
        for part in value["$merge"]:
            found = gather(part)
            if isinstance(found, Mapping):
                merged.update(found)
        return merged
    if op == "$pluck":
        source, field = gather(value["$pluck"]), value["field"]
        if not isinstance(source, Mapping):
            return {}
        return {k: v.get(field) for k, v in source.items() if isinstance(v, Mapping)}
    if isinstance(value, Mapping):
        return {k: gather(v) for k, v in value.items()}
    if isinstance(value, list):
        return [gather(v) for v in value]
    return value
