"""The documented operations of ``/v1/keys``: API keys' limits, read and changed at run time."""

from __future__ import annotations

from gateway.openapi_paths import Operations, json_doc, path_param, ref

_NAME = path_param("name", "An API key's name (auth.api_keys)", {"type": "string", "minLength": 1, "maxLength": 64})


def key_operations() -> Operations:
    """Return the operations of ``/v1/keys``."""
    view = json_doc(ref("KeyView"), "The key with its limits and counts")
    return {
        ("get", "/v1/keys"): {
            "tags": ["auth"],
            "responses": {"200": json_doc(ref("KeyList"), "Every configured key")},
        },
        ("put", "/v1/keys/{name}/limits"): {
            "tags": ["auth"],
            "description": "Replaces the key's limits (the settings file's no longer apply until a DELETE); "
            "every gateway applies them to the next submit. Audited as key.limits.update.",
            "parameters": [_NAME],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("KeyLimits")}}},
            "responses": {"200": view, "400": None, "404": None, "413": None, "422": None},
        },
        ("delete", "/v1/keys/{name}/limits"): {
            "tags": ["auth"],
            "description": "Drops the key's run-time limits: the settings file's apply again. Audited as "
            "key.limits.reset.",
            "parameters": [_NAME],
            "responses": {"200": view, "404": None},
        },
    }
