"""``/v1/files``: upload (multipart, streamed to disk), download (streamed, with Range), list and delete."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import os
import urllib.parse
import uuid
from collections.abc import Awaitable
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from actors.validation import InvalidInput
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.context import AppContext, context
from gateway.errors import BadQuery, BadRequest, BodyTimeout
from gateway.paths import INTERNAL_DIRS, TMP_DIR, resolve_file_path
from gateway.problems import problem_response
from gateway.responses import json_response
from state.models import iso_ms
from state.storage import relative_to_root

routes = web.RouteTableDef()
T = TypeVar("T")

_CHUNK_BYTES = 1024 * 1024
_FIELD_MAX_BYTES = 4096
_MULTIPART_OVERHEAD_BYTES = 64 * 1024


class _TooLarge(Exception):
    """Raised while spooling when the upload passes the size limit."""


def _ctx(request: web.Request) -> AppContext:
    ctx = context(request)
    return ctx


def _missing(request: web.Request, value: str) -> web.Response:
    return problem_response(
        404, "file-not-found", "No such file", f"no file {value!r} in the storage root", request.path
    )


@routes.post("/v1/files")
async def upload(request: web.Request) -> web.Response:
    """Store an uploaded file at ``path`` (or ``uploads/<filename>``); 409 if it exists, unless ``overwrite``."""
    ctx = _ctx(request)
    root, limit = ctx.settings.share_root, ctx.settings.files.max_upload_bytes
    too_large = problem_response(
        413, "too-large", "Payload Too Large", f"uploads are limited to {limit} bytes", request.path
    )
    if (request.content_length or 0) > limit + _MULTIPART_OVERHEAD_BYTES:
        return too_large
    if not request.content_type.startswith("multipart/"):
        raise InvalidInput("send the file as multipart/form-data with a 'file' part", "$")
    fields: dict[str, str] = dict(request.query)
    if "path" in fields:  # refuse a bad target before the body is read
        resolve_file_path(root, fields["path"])
    _boolean(fields.get("overwrite", "false"), "$.overwrite")
    spool = root / TMP_DIR / uuid.uuid4().hex
    try:
        try:
            received = await _read_parts(request, fields, spool, limit)
        except _TooLarge:
            return too_large
        except (ValueError, HttpProcessingError) as exc:
            raise BadRequest(f"the multipart body is malformed: {str(exc).strip()[:200]}") from None
        if received is None:
            raise InvalidInput("the form has no 'file' part", "$.file")
        filename, size, digest = received
        target_value = fields.get("path", f"uploads/{_safe_name(filename)}")
        target = resolve_file_path(root, target_value)
        overwrite = _boolean(fields.get("overwrite", "false"), "$.overwrite")
        if target.is_dir():
            raise InvalidInput(f"{target_value!r} is a folder; give a file path", "$.path")
        try:
            placed = await asyncio.to_thread(_place, spool, target, overwrite)
        except (FileExistsError, NotADirectoryError):  # a folder on the way is a file
            raise InvalidInput(
                f"{target_value!r} cannot be created: a folder on its path is a file", "$.path"
            ) from None
        if not placed:
            return problem_response(
                409,
                "file-exists",
                "File exists",
                f"{target_value!r} exists; send overwrite=true to replace it",
                request.path,
            )
    finally:
        with contextlib.suppress(FileNotFoundError):
            spool.unlink()
    rel = relative_to_root(root, target)
    body = {"path": rel, "size_bytes": size, "sha256": digest}

    # the path is one URL segment, slashes encoded as OpenAPI's /v1/files/{path} says (the route takes both forms)
    return json_response(body, 201, headers={"Location": "/v1/files/" + urllib.parse.quote(rel, safe="")})


async def _read_parts(
    request: web.Request, fields: dict[str, str], spool: Path, limit: int
) -> tuple[str, int, str] | None:
    reader = await request.multipart()
    idle_s = _ctx(request).settings.http.body_timeout_s
    received = None
    while (part := await _in_time(reader.next(), idle_s)) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidInput("nested multipart bodies are not supported", "$")
        if part.name == "file" and received is None:
            received = (part.filename or "upload.bin", *await _spool(part, spool, limit, idle_s))
        elif part.name in ("path", "overwrite"):
            if part.name in fields:  # the value checked must be the value used: one place, once
                raise InvalidInput(
                    f"{part.name!r} is given twice (in the query and the form, or twice in the form); send it once",
                    f"$.{part.name}",
                )
            raw = await _in_time(part.read_chunk(_FIELD_MAX_BYTES + 1), idle_s)
            if len(raw) > _FIELD_MAX_BYTES:
                raise InvalidInput(f"the {part.name!r} field is too long", f"$.{part.name}")
            fields[part.name] = raw.decode(errors="replace")
        else:
            raise InvalidInput(f"unexpected form field {part.name!r}; send 'file', 'path' and 'overwrite'", "$")
    return received


async def _in_time(step: Awaitable[T], idle_s: float) -> T:
    """Await one read of the body; a client silent for ``idle_s`` gets 408."""
    try:
        async with asyncio.timeout(idle_s):
            return await step
    except TimeoutError:
        raise BodyTimeout(f"the upload stalled: nothing arrived for {idle_s:g} s") from None


async def _spool(part: BodyPartReader, spool: Path, limit: int, idle_s: float) -> tuple[int, str]:
    """Stream one part to ``spool`` in chunks; return its size and SHA-256."""
    await asyncio.to_thread(spool.parent.mkdir, parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle = await asyncio.to_thread(spool.open, "wb")
    try:
        while chunk := await _in_time(part.read_chunk(_CHUNK_BYTES), idle_s):
            size += len(chunk)
            if size > limit:
                raise _TooLarge()
            digest.update(chunk)
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return size, digest.hexdigest()


def _boolean(value: str, pointer: str) -> bool:
    if value not in ("true", "false"):
        raise InvalidInput(f"{value[:20]!r} is not a boolean; send true or false", pointer)
    return value == "true"


def _safe_name(filename: str) -> str:
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    return name if name and name not in (".", "..") and "\x00" not in name else "upload.bin"


def _place(spool: Path, target: Path, overwrite: bool) -> bool:
    """Move the spooled file into place; without ``overwrite`` never replace (link is atomic).

    Raises:
        FileExistsError, NotADirectoryError: a folder on the target's path exists as a file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if overwrite:
        os.replace(spool, target)
        return True
    try:
        os.link(spool, target)
    except FileExistsError:
        return False
    return True


@routes.get("/v1/files/{path:.+}")
async def download(request: web.Request) -> web.StreamResponse:
    """Stream a file from the storage root (Range requests are honoured)."""
    value = request.match_info["path"]
    path = resolve_file_path(_ctx(request).settings.share_root, value)
    if not path.is_file():
        return _missing(request, value)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.FileResponse(path, chunk_size=_CHUNK_BYTES, headers={"Content-Type": kind})


@routes.delete("/v1/files/{path:.+}")
@require_scope(ADMIN)
@audited("file.delete")
async def delete(request: web.Request) -> web.Response:
    """Delete a file from the storage root (admin scope)."""
    value = request.match_info["path"]
    path = resolve_file_path(_ctx(request).settings.share_root, value)
    try:
        await asyncio.to_thread(path.unlink)
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError):
        return _missing(request, value)
    return web.Response(status=204)


@routes.get("/v1/files")
async def list_files(request: web.Request) -> web.Response:
    """List files whose path starts with ``prefix``, folder by folder in name order, at most ``limit``."""
    ctx = _ctx(request)
    prefix = request.query.get("prefix", "")
    try:
        limit = int(request.query.get("limit", str(ctx.settings.files.list_max)))
    except ValueError:
        raise BadQuery("limit must be an integer") from None
    if not 1 <= limit <= ctx.settings.files.list_max:
        raise BadQuery(f"limit must be between 1 and {ctx.settings.files.list_max}")
    root = ctx.settings.share_root
    folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    try:
        start = resolve_file_path(root, folder, "$.prefix") if folder else root
    except InvalidInput:  # no file's path starts with a prefix that names no folder clients may use
        return json_response({"files": [], "truncated": False})
    files = await asyncio.to_thread(_walk, root, start, prefix, limit + 1)
    return json_response({"files": files[:limit], "truncated": len(files) > limit})


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []


def _walk(root: Path, start: Path, prefix: str, most: int) -> list[dict[str, Any]]:
    """Walk folders depth first in name order (symlinks are not followed); stop after ``most`` files."""
    found: list[dict[str, Any]] = []
    stack = [iter(_entries(start))]
    while stack and len(found) < most:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        rel = Path(entry.path).relative_to(root).as_posix()
        if rel in INTERNAL_DIRS or not (rel.startswith(prefix) or prefix.startswith(rel + "/")):
            continue
        if entry.is_dir(follow_symlinks=False):
            stack.append(iter(_entries(Path(entry.path))))
        elif entry.is_file(follow_symlinks=False) and rel.startswith(prefix):
            info = entry.stat(follow_symlinks=False)
            found.append({"path": rel, "size_bytes": info.st_size, "modified_at": iso_ms(info.st_mtime_ns // 10**6)})
    return found
