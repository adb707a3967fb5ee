"""Pipelines: named chains of tasks submitted as one task, built in or defined in YAML/JSON."""

from actors.pipeline.definition import Definition, DefinitionError, parse_definition

__all__ = ["Definition", "DefinitionError", "parse_definition"]
