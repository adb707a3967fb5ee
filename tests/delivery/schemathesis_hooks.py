"""schemathesis hooks of ``test_openapi.py``: leave out generated inputs that break a rule JSON Schema cannot state.

The rules are the API description's own (``gateway.openapi_rules.ORDERED``, named in each input's description):
one number at most another. Nothing else is filtered.
"""

from __future__ import annotations

from typing import Any

import msgspec
import schemathesis

import actors.registry  # noqa: F401  (registers every task)
from actors.registry import REGISTRY
from gateway.openapi_rules import ORDERED


def keeps_order(input_type: type[msgspec.Struct], data: dict[str, Any]) -> bool:
    """Return whether ``data`` keeps every ordered pair of ``input_type`` (defaults fill missing fields)."""
    defaults = {f.encode_name: f.default for f in msgspec.structs.fields(input_type)}
    for low, high, strict in ORDERED.get(input_type.__name__, []):
        a, b = data.get(low, defaults.get(low)), data.get(high, defaults.get(high))
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if numbers and (a >= b if strict else a > b):
            return False
    return True


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Keep every case except a schema-valid task input that breaks an ordered pair."""
    body = case.body
    positive = case.meta is None or case.meta.generation.mode == schemathesis.GenerationMode.POSITIVE
    if (
        not positive
        or case.operation.path != "/v1/tasks"
        or case.method.upper() != "POST"
        or not isinstance(body, dict)
    ):
        return True
    spec = REGISTRY.get(body.get("task_name")) if isinstance(body.get("task_name"), str) else None
    data = body.get("input_data")
    return spec is None or not isinstance(data, dict) or keeps_order(spec.input_type, data)
