"""Archive extraction that refuses every entry leaving the target folder (zip slip, links, devices)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from actors.errors import InputFileError


def _inside(target: Path, name: str) -> Path:
    """Return where entry ``name`` lands, refusing absolute names, ``..`` and drive letters."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]) or "\x00" in name:
        raise InputFileError(f"archive entry {name!r} would leave the target folder; nothing was extracted")
    dest = (target / pure).resolve()
    if dest != target and target not in dest.parents:
        raise InputFileError(f"archive entry {name!r} would leave the target folder; nothing was extracted")
    return dest


def _extract_zip(archive: Path, target: Path) -> list[Path]:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            _inside(target, info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise InputFileError(f"archive entry {info.filename!r} is a symbolic link; links are refused")
        zf.extractall(target)  # noqa: S202  (every entry was checked above)
    return [(target / m.filename).resolve() for m in members if not m.is_dir()]


def _extract_tar(archive: Path, target: Path) -> list[Path]:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for member in members:
            _inside(target, member.name)
            if not (member.isfile() or member.isdir()):
                raise InputFileError(f"archive entry {member.name!r} is a link or device; only files are extracted")
        tf.extractall(target, filter="data")
    return [(target / m.name).resolve() for m in members if m.isfile()]


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract a zip or tar archive into ``target``; return the files written.

    Every entry is checked before anything is written, so a bad archive leaves ``target`` untouched.

    Raises:
        InputFileError: not an archive, or an entry is absolute, uses ``..``, or is a link or device.
    """
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, target)
        if tarfile.is_tarfile(archive):
            return _extract_tar(archive, target)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{archive.name}: cannot extract: {exc}") from None
    raise InputFileError(f"{archive.name} is neither a zip nor a tar archive")
