"""What a client path may be: inside the storage root, short enough, no control characters, never internal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from actors.validation import InvalidInput
from state import PathOutsideRoot
from state.storage import resolve_in_root

TMP_DIR = ".taskgate-tmp"
# Folders under the storage root that belong to taskgate itself: no API path reaches into them, in any spelling.
INTERNAL_DIRS = frozenset({TMP_DIR})
# The longest file name (one path component) Linux file systems take, in bytes.
NAME_MAX_BYTES = 255
PATH_MAX_CHARS = 4096  # PATH_MAX, the terminating NUL included
# A task input's path, in characters: half of PATH_MAX leaves room for the storage root in front of it.
INPUT_PATH_MAX_CHARS = 2048
# What the API description says of a relative file path (the server checks the same, and names in bytes).
_NAME = r"[^\x00-\x1f\x7f/]{1,255}"
FILE_PATH_PATTERN = rf"^(?!\.taskgate-tmp(?:/|\Z))(?:(?!\.\.?/){_NAME}/)*(?!\.\.?\Z){_NAME}\Z"


def resolve_file_path(root: Path, value: str, pointer: str = "$.path") -> Path:
    """Resolve a client path inside the storage root (taskgate's internal folders are off limits).

    A relative path is names separated by single slashes (``FILE_PATH_PATTERN``); an absolute one must lie
    inside the root.

    Raises:
        InvalidInput: the path leaves the root, is empty, too long, has a control character or a component
            longer than 255 bytes, or lies in an internal folder (relative, absolute or through a symlink).
    """
    check_path_text(value, pointer)
    if not value.startswith("/") and any(part in ("", ".", "..") for part in value.split("/")):
        raise InvalidInput(f"{value[:100]!r}: give names separated by single '/' (no '.', '..' or empty ones)", pointer)
    try:
        path = resolve_in_root(root, value)
    except (PathOutsideRoot, OSError, ValueError) as exc:
        raise InvalidInput(str(exc), pointer) from None
    if path == root.resolve():
        raise InvalidInput("give a file path inside the storage root, not the root itself", pointer)
    if len(os.fsencode(path)) >= PATH_MAX_CHARS:
        raise InvalidInput(f"the path is longer than {PATH_MAX_CHARS} bytes once joined to the storage root", pointer)
    if is_internal(root, path):
        raise InvalidInput(f"{value[:100]!r} is not a path clients may use", pointer)
    return path


def check_path_text(value: str, pointer: str) -> None:
    """Refuse what no file system path may hold: control characters, over-long paths and names.

    Raises:
        InvalidInput: the path has a control character, is over 4096 characters or has a name over 255 bytes.
    """
    if len(value) > PATH_MAX_CHARS:
        raise InvalidInput(f"the path is longer than {PATH_MAX_CHARS} characters", pointer)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"{value[:100]!r} contains control characters", pointer)
    for part in value.split("/"):
        if len(part.encode(errors="surrogatepass")) > NAME_MAX_BYTES:
            raise InvalidInput(f"the path component {part[:40]!r}... is longer than {NAME_MAX_BYTES} bytes", pointer)


def max_relative_path_chars(root: Path) -> int:
    """Return how long a relative path may be once ``root/`` goes in front of it (in ASCII characters)."""
    return PATH_MAX_CHARS - 1 - len(os.fsencode(root.resolve())) - 1


def is_internal(root: Path, path: Path) -> bool:
    """Return whether a resolved ``path`` lies in one of taskgate's internal folders under ``root``."""
    parts = path.relative_to(root.resolve()).parts
    return bool(parts) and parts[0] in INTERNAL_DIRS


def check_input_paths(root: Path, fields: tuple[str, ...], data: dict[str, Any]) -> None:
    """Hold a task's path inputs to the rules of ``/v1/files`` (URLs and references are checked elsewhere).

    Raises:
        InvalidInput: a path is too long, has a control character or lies in an internal folder.
    """
    for name in fields:
        value, pointer = data.get(name), f"$.input_data.{name}"
        if isinstance(value, str) and not value.startswith(("http://", "https://")) and "${{" not in value:
            if len(value) > INPUT_PATH_MAX_CHARS:
                raise InvalidInput(f"the path is longer than {INPUT_PATH_MAX_CHARS} characters", pointer)
            check_path_text(value, pointer)
            if is_internal(root, resolve_in_root(root, value)):
                raise InvalidInput(f"{value[:100]!r} is not a path clients may use", pointer)
