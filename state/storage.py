"""Path rules for the shared storage root: everything stays inside it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from state.errors import PathOutsideRoot

_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def resolve_in_root(root: Path, value: str) -> Path:
    """Resolve ``value`` (relative to ``root``, or absolute inside it) to a real path inside ``root``.

    Raises:
        PathOutsideRoot: the path uses ``..``, leaves the root through a symlink, or is absolute elsewhere.
    """
    if not value or "\x00" in value:
        raise PathOutsideRoot("the path is empty or contains a NUL byte")
    pure = PurePosixPath(value)
    if ".." in pure.parts:
        raise PathOutsideRoot(f"{value!r} contains '..'; give a path inside the storage root")
    root = root.resolve()
    candidate = Path(value) if pure.is_absolute() else root / value
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        where = "leaves the storage root through a symlink" if not pure.is_absolute() else "is outside the storage root"
        raise PathOutsideRoot(f"{value!r} {where}")
    return resolved


def relative_to_root(root: Path, path: Path) -> str:
    """Return ``path`` as a POSIX path relative to the storage root."""
    return path.resolve().relative_to(root.resolve()).as_posix()


def public_message(text: str, root: Path | None = None) -> str:
    """Return an error message fit for clients: storage-root paths made relative, raw errno numbers dropped."""
    prefixes = {str(root.resolve()), str(root.absolute())} if root is not None else set()
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix + "/", "").replace(prefix, "<storage root>")
    return _ERRNO.sub("", text)
