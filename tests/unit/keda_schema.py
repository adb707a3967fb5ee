"""A JSON Schema for the KEDA ScaledObjects in deploy/kubernetes (kubernetes-validate has no CRDs).

Written from KEDA 2.x's ScaledObject CRD (keda.sh/v1alpha1), restricted to the fields the manifests use,
with unknown fields refused, plus the redis scaler's metadata keys.
"""

from typing import Any

_INT = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string"}
_REDIS_METADATA = {
    "type": "object",
    "properties": {
        "address": {"type": "string"},
        "addressFromEnv": {"type": "string"},
        "host": {"type": "string"},
        "port": {"type": "string"},
        "passwordFromEnv": {"type": "string"},
        "databaseIndex": {"type": "string", "pattern": "^[0-9]+$"},
        "listName": {"type": "string", "minLength": 1},
        "listLength": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        "activationListLength": {"type": "string", "pattern": "^[0-9]+$"},
        "enableTLS": {"type": "string", "enum": ["true", "false"]},
    },
    "required": ["listName", "listLength"],
    "oneOf": [{"required": ["address"]}, {"required": ["addressFromEnv"]}, {"required": ["host"]}],
    "additionalProperties": False,
}
_SCALE_POLICY = {
    "type": "object",
    "properties": {"type": {"enum": ["Pods", "Percent"]}, "value": _INT, "periodSeconds": _INT},
    "required": ["type", "value", "periodSeconds"],
    "additionalProperties": False,
}
_SCALE_RULES = {
    "type": "object",
    "properties": {"stabilizationWindowSeconds": _INT, "policies": {"type": "array", "items": _SCALE_POLICY}},
    "additionalProperties": False,
}
SCALED_OBJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {
            "type": "object",
            "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}},
            "required": ["name"],
        },
        "spec": {
            "type": "object",
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "properties": {"name": _TEXT, "kind": _TEXT, "apiVersion": _TEXT},
                    "required": ["name"],
                    "additionalProperties": False,
                },
                "minReplicaCount": _INT,
                "maxReplicaCount": _INT,
                "pollingInterval": _INT,
                "cooldownPeriod": _INT,
                "advanced": {
                    "type": "object",
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {
                                    "type": "object",
                                    "properties": {"scaleUp": _SCALE_RULES, "scaleDown": _SCALE_RULES},
                                    "additionalProperties": False,
                                },
                            },
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"const": "redis"},
                            "name": {"type": "string"},
                            "metadata": _REDIS_METADATA,
                        },
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
}
