"""``/openapi.json`` and ``/docs``: the API description and a readable page rendered from it (no CDN)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web

from gateway.context import SETTINGS
from gateway.openapi import build_document

routes = web.RouteTableDef()

_TEMPLATE = Template((Path(__file__).with_name("docs.html")).read_text(encoding="utf-8"))
_DOCUMENT = web.AppKey("taskgate_openapi", dict)
_METHODS = ("get", "post", "put", "patch", "delete")


def _document(app: web.Application) -> dict[str, Any]:
    """Build the document on first use (every route is registered by then) and keep it."""
    if _DOCUMENT not in app:
        app[_DOCUMENT] = build_document(app, app[SETTINGS])
    return app[_DOCUMENT]


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """Return the OpenAPI 3.1 document."""
    return web.json_response(_document(request.app))


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    """Return the API page."""
    return web.Response(text=render(_document(request.app)), content_type="text/html")


def _schema_link(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}"><code>{escape(name)}</code></a>'
    if "oneOf" in schema:
        return " | ".join(_schema_link(s) for s in schema["oneOf"])
    return f"<code>{escape(json.dumps(schema))}</code>"


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    scope = op.get("x-required-scope")
    parts = [
        f'<div class="op" id="{escape(op["operationId"])}"><span class="method {method}">{method}</span> '
        f'<span class="path">{escape(path)}</span> {escape(op.get("summary", ""))}'
        + (f' <span class="scope">{escape(scope)} scope</span>' if scope else "")
    ]
    if op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{p['in']}</td>"
            f"<td>{_schema_link(p['schema'])}</td><td>{escape(p.get('description', ''))}</td></tr>"
            for p in op["parameters"]
        )
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>{rows}</table>")
    for kind, media in op.get("requestBody", {}).get("content", {}).items():
        parts.append(f"<p>Body (<code>{escape(kind)}</code>): {_schema_link(media['schema'])}</p>")
    rows = ""
    for code, resp in op.get("responses", {}).items():
        content = resp.get("content", {})
        shown = ", ".join(f"<code>{escape(k)}</code> {_schema_link(v['schema'])}" for k, v in content.items())
        rows += f"<tr><td>{escape(code)}</td><td>{escape(resp.get('description', ''))}</td><td>{shown}</td></tr>"
    parts.append(f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{rows}</table></div>")
    return "".join(parts)


def render(doc: dict[str, Any]) -> str:
    """Render the document as one self-contained HTML page."""
    by_tag: dict[str, list[str]] = {}
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append(_operation(method, path, item[method]))
    body = [f"<h2>{escape(tag)}</h2>" + "".join(ops) for tag, ops in by_tag.items()]
    for name, hook in doc.get("webhooks", {}).items():
        post = hook["post"]
        body.append(
            f"<h2>webhook: {escape(name)}</h2><p>{escape(post['summary'])}</p>"
            f"<p>{escape(post['description'])}</p><p>Body: "
            f"{_schema_link(post['requestBody']['content']['application/json']['schema'])}</p>"
        )
    body.append("<h2>schemas</h2>")
    for name, schema in doc["components"]["schemas"].items():
        text = escape(json.dumps(schema, indent=2))
        body.append(
            f'<details id="schema-{escape(name)}"><summary><code>{escape(name)}</code> '
            f"{escape(schema.get('title', ''))}</summary><pre>{text}</pre></details>"
        )
    info = doc["info"]
    return _TEMPLATE.substitute(
        title=escape(info["title"]),
        description=escape(info["description"]),
        version=escape(doc["openapi"]),
        body="\n".join(body),
    )
