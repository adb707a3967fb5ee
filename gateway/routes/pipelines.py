"""``/v1/pipelines``: the built-in pipelines and the ones kept in Redis (``PUT``, admin, audited).

A definition is checked against every task's schema before it is kept; each gateway also loads the folder
named by the ``pipelines_dir`` setting when it starts.
"""

from __future__ import annotations

from aiohttp import web

from actors.pipeline.definition import (
    NAME_PATTERN,
    PREFIX,
    Definition,
    describe,
    encode_definition,
)
from actors.pipeline.tasks import builtin_definitions
from actors.validation import InvalidInput
from config import keys
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.bodies import read_body
from gateway.context import context
from gateway.errors import UnknownTask
from gateway.openapi import describe as describe_route
from gateway.openapi_paths import json_doc, path_param, ref
from gateway.pipeline_folder import load
from gateway.pipeline_submit import find_definition, stored_names
from gateway.problems import problem_response
from gateway.responses import json_response

routes = web.RouteTableDef()

_NAME_PARAM = path_param(
    "name", "The pipeline's name, without `pipeline.`", {"type": "string", "pattern": NAME_PATTERN}
)
_VIEW = {"type": "object", "description": "The definition, with its task_name and whether it is built in"}


def _view(definition: Definition) -> dict[str, object]:
    return {**describe(definition), "builtin": definition.task_name in builtin_definitions()}


@routes.get("/v1/pipelines")
@describe_route(responses={"200": json_doc({"type": "object"}, "Every pipeline, built-in and kept, by name")})
async def list_pipelines(request: web.Request) -> web.Response:
    """List the pipelines: their inputs, stages and output."""
    ctx = context(request)
    found = [await find_definition(ctx.redis, name) for name in await stored_names(ctx.redis)]
    return json_response({"pipelines": [_view(d) for d in found]})


@routes.get("/v1/pipelines/{name}")
@describe_route(parameters=[_NAME_PARAM], responses={"200": json_doc(_VIEW, "The pipeline"), "404": None})
async def get_pipeline(request: web.Request) -> web.Response:
    """Read one pipeline's definition."""
    try:
        definition = await find_definition(context(request).redis, PREFIX + request.match_info["name"])
    except UnknownTask as exc:
        return problem_response(404, "pipeline-not-found", "No such pipeline", str(exc), request.path)
    return json_response(_view(definition))


@routes.put("/v1/pipelines/{name}")
@require_scope(ADMIN)
@audited("pipeline.put")
@describe_route(
    parameters=[_NAME_PARAM],
    requestBody={
        "required": True,
        "description": "The definition as JSON, or the same as YAML",
        "content": {"application/json": {"schema": ref("Definition")}},
    },
    responses={"200": json_doc(_VIEW, "Replaced"), "201": json_doc(_VIEW, "Created"), "413": None, "422": None},
)
async def put_pipeline(request: web.Request) -> web.Response:
    """Keep a pipeline definition (YAML or JSON), checked against the task schemas; submit it as pipeline.<name>."""
    definition = load(await read_body(request), request.match_info["name"])
    added = await context(request).redis.hset(keys.PIPELINES, definition.name, encode_definition(definition))  # type: ignore[misc]
    return json_response(_view(definition), 201 if added else 200)


@routes.delete("/v1/pipelines/{name}")
@require_scope(ADMIN)
@audited("pipeline.delete")
@describe_route(parameters=[_NAME_PARAM], responses={"204": {"description": "Deleted"}, "404": None, "422": None})
async def delete_pipeline(request: web.Request) -> web.Response:
    """Delete a kept pipeline (built-ins cannot be deleted); workflows already submitted run on."""
    name = request.match_info["name"]
    if PREFIX + name in builtin_definitions():
        raise InvalidInput(f"{PREFIX + name!r} is a built-in pipeline and cannot be deleted", "$.name")
    deleted = await context(request).redis.hdel(keys.PIPELINES, name)  # type: ignore[misc]
    if not deleted:
        return problem_response(
            404, "pipeline-not-found", "No such pipeline", f"no pipeline named {name!r}", request.path
        )
    return web.Response(status=204)
