"""Which faster-whisper model a request means, and the per-process cache of loaded models.

A request's ``model`` is a faster-whisper size name (``tiny.en``, ``small``...), an operator alias
(``faster_whisper.models``), a model folder inside the storage root, or a hub repository id. With no
``model`` in the request, ``faster_whisper.model`` from settings applies when the operator set one;
otherwise ``faster_whisper.language_models`` picks by the request's language: ``en`` -> the bundled
tiny.en, anything else and no language (``auto``) -> the bundled multilingual base. Bundled names are
served from installed packages (``bundled.py``); other size names are downloaded where there is network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from actors.engine_device import engine_device
from actors.errors import EngineUnavailable, InputError, TaskError
from actors.faster_whisper import bundled
from actors.faster_whisper.languages import folder_languages, size_languages
from actors.worker.warm import WARM, WarmModels
from config.engines import WhisperSettings
from state import PathOutsideRoot
from state.storage import resolve_in_root

log = structlog.get_logger(__name__)

MODEL_FILES = ("model.bin", "tokenizer.json")
SIZE_NAMES = frozenset(
    {
        "tiny.en",
        "tiny",
        "base.en",
        "base",
        "small.en",
        "small",
        "medium.en",
        "medium",
        "large-v1",
        "large-v2",
        "large-v3",
        "large",
        "distil-large-v2",
        "distil-medium.en",
        "distil-small.en",
        "distil-large-v3",
        "distil-large-v3.5",
        "large-v3-turbo",
        "turbo",
    }
)
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_HOW_TO = (
    "set faster_whisper.model (TASKGATE_FASTER_WHISPER__MODEL) or faster_whisper.language_models to a CTranslate2 "
    "model folder or a size name (downloaded into faster_whisper.download_root on hosts with network), or "
    "`pip install 'taskgate[whisper]'` for the bundled tiny.en and multilingual base"
)
AUTO = "auto"
OTHER = "*"


@dataclass(frozen=True)
class ModelKey:
    """What a loaded model is cached under: source, device, device index, compute type, CPU threads."""

    source: str
    device: str
    device_index: int
    compute_type: str
    cpu_threads: int


def model_key(source: str, settings: WhisperSettings, gpu_device: int | None) -> ModelKey:
    """Return the cache key of ``source`` under these settings on the leased GPU (if any)."""
    device = engine_device(settings.device, gpu_device)
    compute_type = settings.compute_type or ("float16" if device.on_cuda else "int8")
    return ModelKey(source, device.kind, device.index, compute_type, settings.cpu_threads)


def bundled_models(settings: WhisperSettings) -> dict[str, str]:
    """Return the models installed packages ship: tiny.en, and base (joined into a folder on first load)."""
    found = {}
    if (tiny := bundled.tiny_en_folder()) is not None:
        found["tiny.en"] = tiny
    if bundled.base_parts() is not None:
        found["base"] = str(bundled.base_folder(settings.models_dir))
    return found


def default_model_name(settings: WhisperSettings, language: str | None) -> tuple[str | None, str]:
    """Return ``(name, setting)``: the model a request without ``model`` gets, and the setting that chose it."""
    if settings.model is not None:
        return settings.model, "faster_whisper.model"
    table = settings.language_models
    for key in (language or AUTO, OTHER):
        if key in table:
            return table[key], f"faster_whisper.language_models[{key!r}]"
    return None, "faster_whisper.language_models"


def checked_folder(folder: Path, error: type[TaskError], shown_as: str) -> str:
    """Return ``folder`` when it holds a CTranslate2 Whisper model.

    Raises:
        TaskError: ``error`` naming the missing files (faster-whisper would go to the hub without them).
    """
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise error(f"model folder {shown_as!r} is not a faster-whisper model: it lacks {', '.join(missing)}")
    return str(folder)


def resolve_model(
    requested: str | None, settings: WhisperSettings, root: Path, language: str | None = None
) -> tuple[str, str]:
    """Return ``(source, shown_as)``: a model folder, a size name or a hub id, and its display name.

    Without ``requested``, the operator's model, else the one ``language_models`` maps ``language`` to.

    Raises:
        InputError: the request names something that is no model (or a path outside the storage root).
        EngineUnavailable: no model is configured, or the configured folder is not a model.
    """
    if requested is None:
        name, setting = default_model_name(settings, language)
        if name is None:
            raise EngineUnavailable(
                f"no faster-whisper model is configured for language {language or AUTO!r}: {_HOW_TO}"
            )
        return _configured_model(name, setting, settings), name
    if requested in settings.models:
        folder = Path(settings.models[requested]).expanduser()
        return checked_folder(folder, EngineUnavailable, f"faster_whisper.models[{requested!r}]"), requested
    return _requested_model(requested, settings, root), requested


def _configured_model(name: str, setting: str, settings: WhisperSettings) -> str:
    """Resolve a name from the operator's settings: an alias, any folder, a size name or a hub id."""
    if name in settings.models:
        folder = Path(settings.models[name]).expanduser()
        return checked_folder(folder, EngineUnavailable, f"faster_whisper.models[{name!r}] (chosen by {setting})")
    folder = Path(name).expanduser()
    if folder.is_absolute() or folder.is_dir():
        return checked_folder(folder, EngineUnavailable, f"{name} (set by {setting})")
    return bundled_models(settings).get(name, name)


def model_languages(source: str, settings: WhisperSettings) -> frozenset[str]:
    """Return the languages the resolved model ``source`` transcribes, read without loading it."""
    if source == str(bundled.base_folder(settings.models_dir)):
        return size_languages("base")
    folder = Path(source)
    if folder.is_absolute() and folder.is_dir():
        return folder_languages(folder)
    return size_languages(source)


def _requested_model(name: str, settings: WhisperSettings, root: Path) -> str:
    if name in SIZE_NAMES:
        return bundled_models(settings).get(name, name)
    if Path(name).is_absolute() and not Path(name).resolve().is_relative_to(root):
        raise InputError(
            f"model {name!r}: a request may name a model folder inside the storage root only; "
            "other folders are configured by the operator in faster_whisper.models"
        )
    try:
        folder = resolve_in_root(root, name)
    except PathOutsideRoot as exc:
        raise InputError(f"model {name!r}: {exc}") from None
    if folder.is_dir():
        return checked_folder(folder, InputError, name)
    if _HUB_ID.fullmatch(name):
        return name
    raise InputError(
        f"model {name!r} is neither a faster-whisper size name ({', '.join(sorted(SIZE_NAMES))}) "
        "nor a model folder in the storage root"
    )


def load_model(key: ModelKey, settings: WhisperSettings, warm: WarmModels = WARM) -> tuple[Any, bool]:
    """Return ``(model, loaded_now)``: the process's warm model for ``key``, loaded on first use.

    Raises:
        EngineUnavailable: faster-whisper is not installed or the model cannot be had here.
    """
    return warm.get("faster_whisper", key, lambda: _load(key, settings))


def setting_naming(source: str, settings: WhisperSettings) -> str:
    """Return the settings that lead to ``source``, for error messages (``faster_whisper.model``...)."""
    named = [
        f"faster_whisper.{where}"
        for where, value in (
            ("model", settings.model),
            *((f"models[{k!r}]", v) for k, v in settings.models.items()),
            *((f"language_models[{k!r}]", v) for k, v in settings.language_models.items()),
        )
        if value is not None and (value == source or str(Path(value).expanduser()) == source)
    ]
    return " / ".join(named) or "faster_whisper.model"


def _load(key: ModelKey, settings: WhisperSettings) -> Any:
    if key.source == str(bundled.base_folder(settings.models_dir)):
        bundled.ensure_base(Path(key.source))
    try:
        from faster_whisper import WhisperModel  # noqa: PLC0415
    except ImportError as exc:
        raise EngineUnavailable(f"faster-whisper is not installed ({exc}): pip install 'taskgate[whisper]'") from None
    try:
        model = WhisperModel(
            key.source,
            device=key.device,
            device_index=key.device_index,
            compute_type=key.compute_type,
            cpu_threads=key.cpu_threads,
            download_root=settings.download_root,
            local_files_only=settings.local_files_only,
        )
    except (OSError, ValueError, RuntimeError) as exc:  # hub errors are OSErrors; bad folders ValueError/RuntimeError
        raise EngineUnavailable(
            f"cannot load faster-whisper model {key.source!r} on {key.device} (from "
            f"{setting_naming(key.source, settings)}): {exc}; {_HOW_TO}"
        ) from None
    return model
