"""The OpenAPI document and /docs page, and a schemathesis run with every check against the live gateway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp

import actors.registry  # noqa: F401  (registers every task)
from actors.registry import REGISTRY
from gateway.openapi_rules import CROSS_FIELD, ORDERED
from tests.delivery.test_auth import ADMIN_KEY, keyed_env
from tests.harness import ROOT, Client, System

CONFIG = Path(__file__).with_name("schemathesis.toml")


async def test_document_describes_every_route_task_and_the_security(make_system: Callable[..., System]) -> None:
    system = make_system(keyed_env())
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        status, doc, _ = await client.request("GET", "/openapi.json")
        assert status == 200
        status, page, headers = await client.request("GET", "/docs")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")

    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    submit = doc["paths"]["/v1/tasks"]["post"]
    variants = submit["requestBody"]["content"]["application/json"]["schema"]["discriminator"]["mapping"]
    assert set(variants) == set(REGISTRY)
    for name, spec in REGISTRY.items():
        variant = schemas[variants[name].rsplit("/", 1)[-1]]
        assert variant["properties"]["task_name"]["const"] == name
        assert variant["properties"]["input_data"]["$ref"].endswith(spec.input_type.__name__)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert submit["security"] == [{"bearerAuth": []}]
    assert "401" in submit["responses"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    delete = doc["paths"]["/v1/files/{path}"]["delete"]
    assert delete["x-required-scope"] == "admin"
    assert "403" in delete["responses"]
    problem = submit["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"]
    assert schemas[problem.rsplit("/", 1)[-1]]["required"] == ["type", "title", "status"]
    assert "taskEnded" in doc["webhooks"]

    assert 'src="/docs/static/swagger-ui-bundle.js"' in page  # Swagger UI renders the document in the page
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", page)  # nothing from a CDN


def test_schemathesis_with_every_check_finds_nothing(make_system: Callable[..., System], tmp_path: Path) -> None:
    system = make_system(keyed_env())
    system.start_gateway()
    # /v1/monitor/health answers 503 by design while no worker is alive (none runs here).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{system.base_url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "5",
            "--phases",
            "coverage,fuzzing",
            "--seed",
            "7",
            # One worker: with several threads, hypothesis' lambda descriptions call ast.parse concurrently, which
            # CPython 3.11 can fail with "AST constructor recursion depth mismatch" (a runtime error of the tool,
            # not of the API under test).
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {ADMIN_KEY}",
            "--exclude-path",
            "/v1/monitor/health",
            # Live event streams end only with their task (none runs here): tests/console/test_events.py drives them.
            "--exclude-path",
            "/v1/events",
            "--exclude-path",
            "/v1/tasks/{task_id}/events",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # schemathesis keeps its example database in the working folder
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # the hooks module named in the config
        timeout=240,
        check=False,
    )
    tail = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts, tail
    assert counts.group(1) == counts.group(2), tail  # every generated case passed every check
    assert int(counts.group(1)) > 1000, tail


async def test_the_document_states_what_the_server_checks(make_system: Callable[..., System]) -> None:
    system = make_system({"TASKGATE_FILES__LIST_MAX": "700"})  # no API keys
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        status, doc, _ = await Client(session, system.base_url).request("GET", "/openapi.json")
    assert status == 200
    schemas, paths = doc["components"]["schemas"], doc["paths"]
    for path, methods in paths.items():
        for method, op in methods.items():
            assert op["security"] == [], (method, path)  # without keys nothing asks for one
            assert "401" not in op["responses"], (method, path)
    limits = {p["name"]: p["schema"] for p in paths["/v1/files"]["get"]["parameters"]}
    assert limits["limit"]["maximum"] == 700
    tasks_limit = {p["name"]: p["schema"] for p in paths["/v1/tasks"]["get"]["parameters"]}["limit"]
    assert tasks_limit["maximum"] == 500
    assert schemas["Request_system_ping"]["required"] == ["task_name"]  # input_data defaults to {}
    assert schemas["Request_ffmpeg_probe"]["required"] == ["task_name", "input_data"]
    assert schemas["PerformOcrInput"]["oneOf"]  # exactly one of cropped_images_dir, manifest_path
    assert "not" in schemas["DiarizeInput"]
    overwrite = {p["name"]: p["schema"] for p in paths["/v1/files"]["post"]["parameters"]}["overwrite"]
    assert overwrite == {"type": "boolean"}
    redeliver = paths["/v1/tasks/{task_id}/callback/redeliver"]["post"]
    assert "409" in redeliver["responses"]
    assert "callback URL" in redeliver["description"]
    file_path = paths["/v1/files/{path}"]["get"]["parameters"][0]["schema"]
    for bad in ("a\x01b", "a//b", "../x", ".taskgate-tmp/x", "x" * 256, "abc\n"):
        assert not re.search(file_path["pattern"], bad), bad
    assert re.search(file_path["pattern"], "videos/in.mp4")
    assert paths["/v1/monitor/config"]["put"]["requestBody"]["required"] is True


def test_every_cross_field_input_rule_is_in_the_document() -> None:
    """An input Struct that checks fields against each other in ``__post_init__`` has its rule stated."""
    for spec in REGISTRY.values():
        if "__post_init__" in vars(spec.input_type):
            name = spec.input_type.__name__
            assert name in CROSS_FIELD or name in ORDERED, name
