"""URL inputs: an http(s) ``input_data`` path is downloaded into the stage folder before the engine runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import structlog

from actors.errors import InputError, InputFileError, TaskCancelled, TransientError
from actors.webhooks.netpolicy import NetPolicy, UrlRefused, policy_connector

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from aiohttp import ClientResponse

    from config import Settings
    from state import StateStore

log = structlog.get_logger(__name__)

_CHUNK_BYTES = 1024 * 1024
_MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRYABLE = {408, 425, 429}
_CANCEL_CHECK_EVERY_S = 1.0


class DownloadRun(Protocol):
    """What a download needs of the stage's run (``actors.worker.runtime.TaskRun`` is one; it imports this module)."""

    workflow_id: str
    task_name: str
    settings: Settings
    store: StateStore

    @property
    def output_dir(self) -> Path:
        """The stage's output folder."""

    def run_async(self, call: Coroutine[Any, Any, Any], /) -> Any:
        """Run ``call`` on the worker's event loop and return its result."""


def shown(url: str) -> str:
    """Return ``url`` without its query and fragment (they may carry tokens) for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def target_name(url: str) -> str:
    """Return a safe file name for a download: the URL path's last part, else ``download``."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name.strip()
    return name if name and name not in (".", "..") and "\x00" not in name and "\\" not in name else "download"


def fetch_input(run: DownloadRun, url: str) -> Path:
    """Download ``url`` into ``{output_dir}/inputs/`` under the network policy and size cap.

    Raises:
        InputError: the network policy refuses the URL.
        InputFileError: the server answered 4xx, redirected too often, or the file is over the size cap.
        TransientError: a network error, a timeout, 5xx or 429 (the stage is retried).
        TaskCancelled: a cancel was requested while downloading.
    """
    folder = run.output_dir / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / target_name(url)
    path: Path = run.run_async(_download(run, url, target))
    return path


async def _download(run: DownloadRun, url: str, target: Path) -> Path:
    import aiohttp  # noqa: PLC0415  (only stages with URL inputs pay for the client)

    files = run.settings.files
    policy = NetPolicy(run.settings.network_policy)
    timeout = aiohttp.ClientTimeout(total=files.download_timeout_s, sock_read=60)
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession(connector=policy_connector(policy), timeout=timeout) as session:
            for _hop in range(_MAX_REDIRECTS + 1):
                policy.check_url(url)
                async with session.get(url, allow_redirects=False) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    _check_status(resp.status, url)
                    size = await _save(run, resp, target, files.max_download_bytes, url)
                    log.info(
                        "input_downloaded",
                        url=shown(url),
                        size_bytes=size,
                        duration_s=round(time.monotonic() - started, 3),
                    )
                    return target
    except UrlRefused as exc:
        raise InputError(f"input URL refused: {exc}") from None
    except TimeoutError:
        raise TransientError(f"downloading {shown(url)} timed out") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise TransientError(f"downloading {shown(url)} failed: {type(exc).__name__}: {exc}") from None
    raise InputFileError(f"{shown(url)} redirected more than {_MAX_REDIRECTS} times")


def _check_status(status: int, url: str) -> None:
    if status >= 500 or status in _RETRYABLE:
        raise TransientError(f"downloading {shown(url)}: the server answered {status}")
    if status >= 300:
        raise InputFileError(f"downloading {shown(url)}: the server answered {status}")


async def _save(run: DownloadRun, resp: ClientResponse, target: Path, cap: int, url: str) -> int:
    length = resp.content_length
    if length is not None and length > cap:
        raise InputFileError(f"{shown(url)} is {length} bytes, over the download cap of {cap} bytes")
    partial = target.with_name(target.name + ".part")
    handle = await asyncio.to_thread(partial.open, "wb")
    try:
        size = await _copy(run, resp, handle, cap, url)
    except BaseException:
        await asyncio.to_thread(handle.close)
        partial.unlink(missing_ok=True)
        raise
    await asyncio.to_thread(handle.close)
    partial.replace(target)
    return size


async def _copy(run: DownloadRun, resp: ClientResponse, handle: BinaryIO, cap: int, url: str) -> int:
    """Copy the body in chunks, enforcing the cap and checking for a cancel about once a second."""
    size, checked = 0, time.monotonic()
    async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > cap:
            raise InputFileError(f"{shown(url)} is over the download cap of {cap} bytes")
        await asyncio.to_thread(handle.write, chunk)
        if time.monotonic() - checked >= _CANCEL_CHECK_EVERY_S:
            checked = time.monotonic()
            if await run.store.cancel_requested(run.workflow_id, run.task_name):
                raise TaskCancelled("cancelled on request")
    return size
