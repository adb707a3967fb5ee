"""The CLI's HTTP client (stdlib only, so ``taskgate`` starts fast): JSON calls, events, upload and download."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_AUTH, EXIT_SERVER = 0, 1, 2, 3, 4, 5
_CHUNK_BYTES = 1024 * 1024


class CliError(Exception):
    """Raised when a call fails; carries the exit code a script can test."""

    def __init__(self, message: str, code: int, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


def _exit_code(status: int) -> int:
    if status == 404:
        return EXIT_NOT_FOUND
    if status in (401, 403):
        return EXIT_AUTH
    if status >= 500:
        return EXIT_SERVER
    return EXIT_USAGE


@dataclass
class Api:
    """Calls to one gateway with an optional API key."""

    base_url: str
    key: str | None = None
    timeout_s: float = 30.0

    def _request(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        url = self.base_url.rstrip("/") + path
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            return urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s)  # noqa: S310  (http(s) URL)
        except urllib.error.HTTPError as exc:
            raise CliError(_problem_text(exc), _exit_code(exc.code), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the gateway at {self.base_url}: {reason}", EXIT_SERVER) from None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send a JSON request and return the decoded answer (None when it has no body).

        Raises:
            CliError: the gateway is unreachable or answered an error.
        """
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self._request(method, path, data, headers) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def events(self, path: str, timeout_s: float | None = None) -> Iterator[tuple[str, Any]]:
        """Yield ``(event type, decoded data)`` from a Server-Sent Events stream until the gateway ends it.

        ``timeout_s`` bounds each read (keep-alives arrive well within the default); a read that waits
        longer raises ``TimeoutError``.

        Raises:
            CliError: the gateway is unreachable or answered an error.
        """
        with self._request("GET", path, headers={"Accept": "text/event-stream"}, timeout_s=timeout_s) as resp:
            kind, data = "message", list[str]()
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if data:
                        yield kind, json.loads("\n".join(data))
                    kind, data = "message", list[str]()
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)

    def upload(self, source: Path, target: str | None, overwrite: bool) -> Any:
        """Stream ``source`` to ``POST /v1/files`` as multipart without reading it into memory."""
        boundary = uuid.uuid4().hex
        head, tail = _multipart_envelope(boundary, source.name, target, overwrite)
        size = source.stat().st_size
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        with self._request("POST", "/v1/files", _stream(head, source, tail), headers) as resp:
            return json.loads(resp.read())

    def download(self, path: str, dest: Path) -> int:
        """Stream a stored file to ``dest`` (via a ``.part`` file); return its size."""
        partial = dest.with_name(dest.name + ".part")
        size = 0
        with self._request("GET", "/v1/files/" + urllib.parse.quote(path)) as resp, partial.open("wb") as out:
            while chunk := resp.read(_CHUNK_BYTES):
                out.write(chunk)
                size += len(chunk)
        os.replace(partial, dest)
        return size


def _problem_text(exc: urllib.error.HTTPError) -> str:
    try:
        problem = json.loads(exc.read())
        return f"{exc.code} {problem.get('title', exc.reason)}: {problem.get('detail') or ''}".rstrip(": ")
    except (ValueError, OSError):
        return f"{exc.code} {exc.reason}"


def _multipart_envelope(boundary: str, filename: str, target: str | None, overwrite: bool) -> tuple[bytes, bytes]:
    fields = {"overwrite": "true" if overwrite else "false"}
    if target:
        fields["path"] = target
    head = b""
    for name, value in fields.items():
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    quoted = filename.replace('"', "%22")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _stream(head: bytes, source: Path, tail: bytes) -> Iterator[bytes]:
    yield head
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk
    yield tail
